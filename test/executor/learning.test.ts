import { afterEach, describe, expect, it } from 'vitest';
import type { SimHandle } from '../../local/sim/server';
import { calibrate, DEFAULT_CALIBRATION } from '../../shared/executor/calibrate';
import {
  type ExecGroup,
  type ExecutorOptions,
  type GroupReport,
  runGroups,
} from '../../shared/executor/executor';
import { CacheProfile, type CacheProfileData } from '../../shared/executor/profile';
import { createLlmClient, type LlmClient } from '../../shared/llm';
import { startTestSim, words } from '../sim/helpers';

type TestSim = SimHandle & { advance(ms: number): void };
let sim: TestSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const MODEL = 'deepseek-v4-flash';

/** Group `g`: a prefix of its own from its first word, and `n` jobs. */
function group(g: number, n: number): ExecGroup {
  const prefixMessages = [
    { role: 'system' as const, content: `group${g} ${words(300)}` },
    { role: 'user' as const, content: 'Shared context.' },
    { role: 'assistant' as const, content: 'ok' },
  ];
  return {
    prefixKey: `g${g}`,
    model: MODEL,
    team: 't',
    sensitivity: 'public',
    prefixMessages,
    prefixTokens: 300,
    jobs: Array.from({ length: n }, (_, j) => ({
      jobId: `g${g}-j${j}`,
      messages: [...prefixMessages, { role: 'user' as const, content: `File ${g}/${j}` }],
      maxTokens: 8,
    })),
  };
}

/** A simulator whose clock moves only when a sleeper waits, and a client on that clock. */
async function virtualTime(constructionDelayMs: number) {
  const s = await startTestSim({ constructionDelayMs });
  sim = s;
  const now = () => (s.options.clock as () => number)();
  const llm: LlmClient = createLlmClient(
    { public: { name: 'sim', baseURL: s.url, apiKey: 'sim-key' } },
    { now },
  );
  const sleep = async (ms: number) => s.advance(ms);
  return { s, now, llm, sleep };
}

/** Check probes that found the prefix not served, and jobs that missed it, over the reports. */
function waste(reports: GroupReport[]) {
  let wastedChecks = 0;
  let jobsMissed = 0;
  for (const r of reports) {
    for (const check of r.warmups.slice(1))
      if ((check.response?.usage.promptHitTokens ?? 0) === 0) wastedChecks++;
    for (const j of r.jobs) if (j.status === 'succeeded' && !j.cacheServed) jobsMissed++;
  }
  return { wastedChecks, jobsMissed };
}

describe('an executor that measures the cache instead of knowing it', () => {
  it('adapts when the provider takes ten times longer to build its cache: fewer wasted probes than a fixed settle', async () => {
    // Prepare: calibrate against a provider that builds in 1 s, then make it ten times slower.
    const t = await virtualTime(1_000);
    const calibration = await calibrate(
      { ...DEFAULT_CALIBRATION, model: MODEL, endpoint: 'sim' },
      { llm: t.llm, now: t.now, sleep: t.sleep },
    );
    const calibrated = new CacheProfile(calibration.profile).settleMs();
    t.s.configure({ constructionDelayMs: 10_000 });
    const runAll = async (options: Partial<ExecutorOptions>, start?: CacheProfileData) => {
      t.s.reset();
      const profile = start ? new CacheProfile(start) : undefined;
      const reports: GroupReport[] = [];
      // One group after another, so the virtual clock has one sleeper at a time.
      for (let g = 0; g < 6; g++) {
        const [report] = await runGroups(
          [group(g, 10)],
          {
            llm: t.llm,
            now: t.now,
            deadline: t.now() + 3_600_000,
            sleep: t.sleep,
            ...(profile ? { profileFor: () => profile } : {}),
          },
          { warmup: 'prefix-probe', concurrency: 4, stopMarginMs: 0, ...options },
        );
        if (report) reports.push(report);
      }
      return { ...waste(reports), profile };
    };

    // Act: a settle time fixed at what was calibrated (the old way), and the learning one.
    const fixed = await runAll({ settleMs: calibrated, maxVerifications: 3 });
    const learning = await runAll({ maxVerifications: 4 }, calibration.profile);

    // Assess
    expect(calibrated).toBeGreaterThan(1_000);
    expect(calibrated).toBeLessThan(2_000);
    expect(fixed.wastedChecks).toBe(18);
    expect(learning.wastedChecks).toBeLessThan(fixed.wastedChecks / 2);
    expect(learning.jobsMissed).toBeLessThan(fixed.jobsMissed);
    expect(learning.profile?.settleMs()).toBeGreaterThan(10_000);
  });

  it('keeps no timing constant of the simulator: with no profile it starts from its own guess', async () => {
    const t = await virtualTime(0);
    const profile = new CacheProfile({
      key: 'sim|m',
      readyWithinMs: [],
      warmServed: 0,
      warmMissed: 0,
      probes: 0,
      wastedProbes: 0,
      probeLatencyMs: [],
      updatedAt: new Date(t.now()).toISOString(),
      source: 'guess',
    });
    const started = t.now();

    await runGroups(
      [group(1, 10)],
      {
        llm: t.llm,
        now: t.now,
        deadline: t.now() + 3_600_000,
        sleep: t.sleep,
        profileFor: () => profile,
      },
      { warmup: 'prefix-probe', concurrency: 4, stopMarginMs: 0 },
    );

    // The first check waited the guess's first share, and was served: the bound comes down.
    expect(t.now() - started).toBeGreaterThan(0);
    expect(profile.data.source).toBe('observed');
    expect(profile.settleMs()).toBeLessThan(1_500);
  });
});
