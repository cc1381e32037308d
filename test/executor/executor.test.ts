import { describe, expect, it } from 'vitest';
import {
  type ExecGroup,
  type ExecutorDeps,
  runGroup,
  runGroups,
  type SendCall,
} from '../../shared/executor/executor';
import type { CallOptions, LlmClient, LlmRequest, LlmResponse } from '../../shared/llm/client';
import type { ChatMessage } from '../../shared/types';

/** Tokens of a message list in the fake: one per character, so prefixes are easy to reason about. */
const size = (messages: ChatMessage[]) => messages.reduce((n, m) => n + m.content.length, 0);

/**
 * A fake provider whose cache serves a request's longest message-level prefix seen in an
 * earlier completed request. It records the order in which calls start and finish.
 */
function fakeLlm(
  behaviour: {
    failWarmup?: Error;
    failJob?: (req: LlmRequest) => Error | undefined;
    /** The cache never serves anything (a provider under pressure). */
    neverCache?: boolean;
  } = {},
) {
  const done: ChatMessage[][] = [];
  const events: string[] = [];
  let n = 0;
  const label = (req: LlmRequest) =>
    req.maxTokens === 1 ? 'warmup' : (req.messages[3]?.content ?? '?');
  const client: LlmClient = {
    async complete(req: LlmRequest, _opts: CallOptions): Promise<LlmResponse> {
      events.push(`start ${label(req)}`);
      await new Promise((r) => setTimeout(r, 1));
      if (req.maxTokens === 1 && behaviour.failWarmup) throw behaviour.failWarmup;
      const jobError = behaviour.failJob?.(req);
      if (jobError) throw jobError;
      let hit = 0;
      for (const prev of done) {
        const k = prev.length;
        if (
          k <= req.messages.length &&
          prev.every((m, i) => JSON.stringify(m) === JSON.stringify(req.messages[i]))
        ) {
          hit = Math.max(hit, size(prev));
        }
      }
      if (behaviour.neverCache) hit = 0;
      done.push(req.messages);
      events.push(`end ${label(req)}`);
      n++;
      return {
        responseId: `r-${n}`,
        model: req.model,
        created: 1_780_000_000,
        sentAt: 1_780_000_000_000,
        content: 'ok',
        finishReason: 'stop',
        usage: {
          promptHitTokens: hit,
          promptMissTokens: size(req.messages) - hit,
          completionTokens: 5,
          reasoningTokens: 0,
        },
        endpoint: 'fake',
        attempts: 1,
        discarded: [],
      };
    },
  };
  return { client, events };
}

const prefix = (key: string): ChatMessage[] => [
  { role: 'system', content: `system ${key} `.repeat(20) },
  { role: 'user', content: `context ${key} `.repeat(20) },
  { role: 'assistant', content: 'Understood.' },
];

function makeGroup(key: string, jobs: number): ExecGroup {
  const shared = prefix(key);
  return {
    prefixKey: key,
    model: 'deepseek-v4-flash',
    team: 'payments',
    sensitivity: 'public',
    prefixMessages: shared,
    prefixTokens: size(shared),
    jobs: Array.from({ length: jobs }, (_, i) => ({
      jobId: `${key}-${i}`,
      messages: [...shared, { role: 'user' as const, content: `${key} file ${i}` }],
    })),
  };
}

function deps(client: LlmClient, over: Partial<ExecutorDeps> = {}): ExecutorDeps {
  return { llm: client, now: Date.now, deadline: Date.now() + 60_000, ...over };
}

/** The prefix-probe protocol itself (probe, check, fan out), as the tests below examine it. */
const fast = { settleMs: 0, stopMarginMs: 0, concurrency: 4, warmup: 'prefix-probe' as const };

describe('runGroups', () => {
  it('ends every job of every group in exactly one state', async () => {
    const { client } = fakeLlm();
    const groups = [makeGroup('a', 7), makeGroup('b', 3), makeGroup('c', 1)];

    const reports = await runGroups(groups, deps(client), fast);

    for (const [i, group] of groups.entries()) {
      const ids = reports[i]?.jobs.map((j) => j.jobId).sort();
      expect(ids).toEqual(group.jobs.map((j) => j.jobId).sort());
      expect(reports[i]?.jobs.every((j) => j.status === 'succeeded')).toBe(true);
    }
  });

  it('finishes the prefix warm-up before any job of its group starts', async () => {
    const { client, events } = fakeLlm();

    const [report] = await runGroups([makeGroup('a', 6)], deps(client), fast);

    // The warm-up probe, then the check probe, both before any job.
    expect(events.slice(0, 4)).toEqual([
      'start warmup',
      'end warmup',
      'start warmup',
      'end warmup',
    ]);
    expect(report?.warmups).toHaveLength(2);
    expect(report?.warmups[1]?.response?.usage.promptMissTokens).toBe(0);
    expect(report?.cacheVerified).toBe(true);
    const served = report?.jobs.filter((j) => j.status === 'succeeded' && j.cacheServed);
    expect(served).toHaveLength(6);
  });

  it('re-checks a bounded number of times when the cache does not serve, then runs every job', async () => {
    const { client } = fakeLlm({ neverCache: true });

    const [report] = await runGroups([makeGroup('a', 5)], deps(client), {
      ...fast,
      maxVerifications: 3,
    });

    expect(report?.warmups).toHaveLength(4);
    expect(report?.cacheVerified).toBe(false);
    expect(report?.jobs.filter((j) => j.status === 'succeeded')).toHaveLength(5);
  });

  it('in first-job mode runs one job alone before the others', async () => {
    const { client, events } = fakeLlm();

    const [report] = await runGroups([makeGroup('a', 5)], deps(client), {
      ...fast,
      warmup: 'first-job',
    });

    expect(events.slice(0, 2)).toEqual(['start a file 0', 'end a file 0']);
    expect(report?.warmups).toHaveLength(0);
    expect(report?.jobs).toHaveLength(5);
  });

  it('still runs every job when the warm-up fails', async () => {
    const { client } = fakeLlm({ failWarmup: new Error('503 overloaded') });

    const [report] = await runGroups([makeGroup('a', 4)], deps(client), fast);

    expect(report?.warmups[0]?.error?.message).toBe('503 overloaded');
    expect(report?.jobs.filter((j) => j.status === 'succeeded')).toHaveLength(4);
    expect(report?.cacheVerified).toBe(false);
  });

  it('hands back the jobs it did not start when time is nearly up', async () => {
    const { client } = fakeLlm();
    let now = 1_000_000;
    const clock = () => now;
    const groups = [makeGroup('a', 10)];
    let settled = 0;
    // Each sent job moves time on by 3 s; the margin is 5 s.
    const send: SendCall = async (_group, _call, request, options) => {
      const response = await client.complete(request, options);
      settled++;
      now += 3_000;
      return { status: 'answered', response, sentAt: now, answeredAt: now };
    };

    const [report] = await runGroups(
      groups,
      deps(client, { now: clock, deadline: 1_000_000 + 10_000, send }),
      { ...fast, concurrency: 1, stopMarginMs: 5_000 },
    );

    const notStarted = report?.jobs.filter((j) => j.status === 'not_started') ?? [];
    const succeeded = report?.jobs.filter((j) => j.status === 'succeeded') ?? [];
    expect(succeeded.length).toBeGreaterThan(0);
    expect(notStarted.length).toBeGreaterThan(0);
    expect(succeeded.length + notStarted.length).toBe(10);
    expect(settled).toBe(succeeded.length + (report?.warmups.length ?? 0));
  });

  it('starts nothing more once the caller says stop, and hands those jobs back', async () => {
    const { client } = fakeLlm();
    let calls = 0;
    const checkStop = async () => (++calls > 4 ? 'batch cancelled' : undefined);

    const [report] = await runGroups([makeGroup('a', 10)], deps(client, { checkStop }), {
      ...fast,
      concurrency: 1,
    });

    const started = report?.jobs.filter((j) => j.status === 'succeeded') ?? [];
    const handedBack = report?.jobs.filter((j) => j.status === 'not_started') ?? [];
    // Four requests started: the warm-up probe, the check probe and two jobs.
    expect(report?.warmups).toHaveLength(2);
    expect(started).toHaveLength(2);
    expect(handedBack).toHaveLength(8);
    for (const j of handedBack)
      expect(j.status === 'not_started' && j.reason).toBe('batch cancelled');
  });

  it('stops the whole batch after an error that says so, without losing jobs', async () => {
    const auth = Object.assign(new Error('authentication failed'), { stopsBatch: true });
    const { client } = fakeLlm({
      failJob: (req) => (req.messages[3]?.content === 'a file 2' ? auth : undefined),
    });

    const reports = await runGroups([makeGroup('a', 8), makeGroup('b', 8)], deps(client), {
      ...fast,
      concurrency: 1,
      warmup: 'none',
    });

    const all = reports.flatMap((r) => r.jobs);
    expect(all).toHaveLength(16);
    expect(all.filter((j) => j.status === 'failed').map((j) => j.jobId)).toEqual(['a-2']);
    const stopped = all.filter((j) => j.status === 'not_started');
    expect(stopped.length).toBeGreaterThan(0);
    for (const j of stopped)
      expect(j.status === 'not_started' && j.reason).toMatch(/batch stopped/);
  });

  it('gives a stalled warm-up at most its share of the invocation, then runs every job', async () => {
    // Prepare: the warm-up probe hangs until its own deadline, as a stalled provider does
    const { client: fake } = fakeLlm();
    const warmupDeadlines: number[] = [];
    const client: LlmClient = {
      complete: async (req, opts) => {
        if (req.maxTokens !== 1) return fake.complete(req, opts);
        warmupDeadlines.push(opts.deadline);
        await new Promise((r) => setTimeout(r, Math.max(0, opts.deadline - Date.now())));
        throw Object.assign(new Error('stalled'), { retryable: true });
      },
    };
    const start = Date.now();

    // Act
    const [report] = await runGroups(
      [makeGroup('a', 5)],
      deps(client, { deadline: start + 2_000 }),
      { ...fast, warmupShare: 0.1 },
    );

    // Assess: one probe, cut at a tenth of the invocation; the jobs all ran after it
    expect(warmupDeadlines).toHaveLength(1);
    expect(warmupDeadlines[0]).toBeLessThanOrEqual(start + 250);
    expect(report?.jobs.filter((j) => j.status === 'succeeded')).toHaveLength(5);
  });

  it("starts nothing after the batch's deadline and says why", async () => {
    // Prepare: a clock that passes the batch deadline once two jobs were sent
    const { client: fake } = fakeLlm();
    let sent = 0;
    let now = 1_000_000;
    const client: LlmClient = {
      complete: async (req, opts) => {
        if (++sent === 2) now += 10_000;
        return fake.complete(req, opts);
      },
    };

    // Act
    const [report] = await runGroups(
      [makeGroup('a', 5)],
      { llm: client, now: () => now, deadline: now + 60_000, startBy: now + 5_000 },
      { ...fast, concurrency: 1, warmup: 'none' },
    );

    // Assess
    expect(sent).toBe(2);
    const late = report?.jobs.filter((j) => j.status === 'not_started') ?? [];
    expect(late).toHaveLength(3);
    for (const j of late) expect(j.status === 'not_started' && j.cause).toBe('batch_deadline');
  });

  it('reports a call its sender refused as not started, and the attempt ids of those sent', async () => {
    // Prepare
    const { client, events } = fakeLlm();
    const recorded: (string | undefined)[] = [];
    const send: SendCall = async (_group, call, request, options) => {
      if (call.jobId === 'a-3')
        return { status: 'not_sent', error: new Error('ledger unavailable') };
      recorded.push(call.jobId);
      const attemptId = `attempt-${call.jobId ?? 'warmup'}-${recorded.length}`;
      const response = await client.complete(request, options);
      return {
        status: 'answered',
        response,
        sentAt: Date.now(),
        answeredAt: Date.now(),
        attemptId,
      };
    };

    // Act
    const report = await runGroup(makeGroup('a', 4), deps(client, { send }), fast);

    // Assess: two probes and three jobs recorded; a-3 never started
    expect(recorded.filter((id) => id === undefined)).toHaveLength(2);
    expect(recorded.filter((id) => id !== undefined).sort()).toEqual(['a-0', 'a-1', 'a-2']);
    expect(events.filter((e) => e.startsWith('start')).length).toBe(5);
    const refused = report?.jobs.find((j) => j.jobId === 'a-3');
    expect(refused).toMatchObject({ status: 'not_started', cause: 'before_call' });
    for (const j of report?.jobs ?? [])
      if (j.status === 'succeeded') expect(j.attemptId).toMatch(/^attempt-a-\d/);
    for (const w of report?.warmups ?? []) expect(w.attemptId).toMatch(/^attempt-warmup-/);
  });
});

describe('runGroups, warm-up decided by expected saving (auto)', () => {
  const auto = { ...fast, warmup: 'auto' as const, verifyMinJobs: 5 };
  const starts = (events: string[]) => events.filter((e) => e.startsWith('start'));

  it('runs a group of one job without any warm-up request', async () => {
    const { client, events } = fakeLlm();

    const [report] = await runGroups([makeGroup('a', 1)], deps(client), auto);

    expect(starts(events)).toEqual(['start a file 0']);
    expect(report?.warmups).toHaveLength(0);
    expect(report?.plan?.mode).toBe('none');
  });

  it('probes a small group once, without the check, and its jobs hit the probe', async () => {
    const { client, events } = fakeLlm();

    const [report] = await runGroups([makeGroup('a', 3)], deps(client), auto);

    expect(starts(events)[0]).toBe('start warmup');
    expect(report?.warmups).toHaveLength(1);
    expect(report?.plan).toMatchObject({ mode: 'prefix-probe', verify: false });
    expect(report?.jobs.every((j) => j.status === 'succeeded' && j.cacheServed)).toBe(true);
  });

  it('checks the cache before fanning out a group of verifyMinJobs jobs or more', async () => {
    const { client } = fakeLlm();

    const [report] = await runGroups([makeGroup('a', 5)], deps(client), auto);

    expect(report?.warmups).toHaveLength(2);
    expect(report?.cacheVerified).toBe(true);
  });

  it("counts the group's later messages: one job here with more to come is warmed", async () => {
    const { client } = fakeLlm();

    const [report] = await runGroups([{ ...makeGroup('a', 1), laterJobs: 6 }], deps(client), auto);

    expect(report?.plan).toMatchObject({ mode: 'prefix-probe', verify: true });
    expect(report?.warmups.length).toBeGreaterThan(0);
  });

  it('runs the first job alone, then the rest, when a probe would cost more than it saves', async () => {
    // Prepare: output so dear that a probe's one output token outweighs what two jobs save.
    const { client, events } = fakeLlm();
    const group = { ...makeGroup('a', 2), prices: { hit: 1, miss: 2, output: 1_000_000 } };

    // Act
    const [report] = await runGroups([group], deps(client), auto);

    // Assess
    expect(report?.plan?.mode).toBe('first-alone');
    expect(report?.warmups).toHaveLength(0);
    expect(starts(events)).toEqual(['start a file 0', 'start a file 1']);
    expect(events.indexOf('end a file 0')).toBeLessThan(events.indexOf('start a file 1'));
    expect(report?.jobs.filter((j) => j.status === 'succeeded')).toHaveLength(2);
  });
});
