import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import { fixedClock } from '../../shared/clock';
import { bufferIo, projectDir } from './support';

/** Runs `warmbatch estimate` in-process with the clock at `now`. */
async function estimate(...args: string[]) {
  return estimateAt('2026-11-30T12:00:00Z', ...args);
}

async function estimateAt(now: string, ...args: string[]) {
  const io = bufferIo(await projectDir({}));
  const code = await runCli(['estimate', ...args], {
    io,
    clock: fixedClock(now),
    connect: () => Promise.reject(new Error('estimate needs no deployment')),
    sleep: async () => {},
    pollMs: 1,
  });
  return { code, stdout: io.out(), stderr: io.err(), cwd: io.cwd };
}

const SEED_WORKLOAD = ['--jobs', '1000', '--input-tokens', '2000', '--output-tokens', '2000'];

describe('warmbatch estimate', () => {
  it('prices the seed workload on V3.2 at 1/25 of GPT-5.4, in integer nano-USD with tier and row', async () => {
    // Act
    const run = await estimate(
      '--model',
      'deepseek-chat',
      '--at',
      '2026-01-15T12:00:00Z',
      ...SEED_WORKLOAD,
      '--compare',
      'gpt-5.4',
      '--json',
    );

    // Assess
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(json).toMatchObject({
      model: 'deepseek-chat',
      billedAs: 'deepseek-chat',
      tier: 'flat',
      row: { id: 'deepseek-chat@2025-09-29T00:00:00Z', origin: 'built-in' },
      at: '2026-01-15T12:00:00.000Z',
      costNanoUsd: { input: 560_000_000, cached: 0, output: 840_000_000, total: 1_400_000_000 },
      costUsd: {
        input: '0.560000000',
        cached: '0.000000000',
        output: '0.840000000',
        total: '1.400000000',
      },
    });
    expect(json.compare[0]).toMatchObject({
      model: 'gpt-5.4',
      costNanoUsd: { total: 35_000_000_000 },
      ratio: 25,
    });
  });

  it('prices deepseek-chat after 2026-07-24 16:00 UTC as the model its alias bills', async () => {
    const run = await estimate(
      '--model',
      'deepseek-chat',
      '--at',
      '2026-11-30T02:00:00Z',
      ...SEED_WORKLOAD,
      '--json',
    );

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      billedAs: 'deepseek-flash',
      tier: 'peak',
      row: { model: 'deepseek-flash', until: null },
      // 2M miss tokens at $0.30 + 2M output at $1.20.
      costNanoUsd: { total: 3_000_000_000 },
    });
  });

  it('reports a retired model as model_retired, with the instant it retired and the models in force', async () => {
    // Prepare: an operator's file retires a model.
    const run0 = await estimate('--help');
    expect(run0.stdout).toMatch(/model_retired/);
    const prices = join(run0.cwd, 'prices.json');
    await writeFile(
      prices,
      JSON.stringify({
        rows: [
          {
            model: 'deepseek-old',
            from: '2026-01-01T00:00:00Z',
            until: '2026-03-01T00:00:00Z',
            flat: { hit: 1, miss: 1, output: 1 },
            source: 'test row',
          },
        ],
      }),
    );

    // Act
    const run = await estimate(
      '--model',
      'deepseek-old',
      '--at',
      '2026-11-30T12:00:00Z',
      '--prices',
      prices,
      ...SEED_WORKLOAD,
      '--json',
    );

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /model_retired: Model "deepseek-old" retired at 2026-03-01T00:00:00\.000Z/,
    );
    const { error } = JSON.parse(run.stdout);
    expect(error).toMatchObject({ code: 'model_retired', retiredAt: '2026-03-01T00:00:00.000Z' });
    expect(error.modelsInForce).toContain('deepseek-flash');
  });

  it('reports an unknown model as unknown_model, naming the known ones', async () => {
    const run = await estimate('--model', 'gpt-4o', ...SEED_WORKLOAD);

    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /unknown_model: Unknown model "gpt-4o"; known models: deepseek-chat, /,
    );
  });

  it('charges deepseek-flash exactly twice as much at a peak hour', async () => {
    const args = ['--model', 'deepseek-flash', ...SEED_WORKLOAD, '--cached-tokens', '1500'];

    const peak = await estimate(...args, '--at', '2026-11-25T02:00:00Z', '--json');
    const offPeak = await estimate(...args, '--at', '2026-11-25T20:00:00Z', '--json');

    const peakTotal = JSON.parse(peak.stdout).costNanoUsd.total;
    const offPeakTotal = JSON.parse(offPeak.stdout).costNanoUsd.total;
    expect(offPeakTotal).toBeGreaterThan(0);
    expect(peakTotal).toBe(2 * offPeakTotal);
    expect(JSON.parse(peak.stdout).tier).toBe('peak');
  });

  it('prints a readable table without --json', async () => {
    const run = await estimate(
      '--model',
      'deepseek-chat',
      '--at',
      '2026-01-15T12:00:00Z',
      ...SEED_WORKLOAD,
      '--compare',
      'gpt-5.4',
    );

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /deepseek-chat\s*│\s*\$0\.56\s*│\s*\$0\.00\s*│\s*\$0\.84\s*│\s*\$1\.40/,
    );
    expect(run.stdout).toMatch(
      /gpt-5\.4\s*│\s*\$5\.00\s*│\s*\$0\.00\s*│\s*\$30\.00\s*│\s*\$35\.00\s*│\s*25/,
    );
  });

  it('defaults the time to the clock', async () => {
    const run = await estimateAt(
      '2026-01-15T12:00:00Z',
      '--model',
      'deepseek-chat',
      ...SEED_WORKLOAD,
      '--json',
    );

    expect(JSON.parse(run.stdout).at).toBe('2026-01-15T12:00:00.000Z');
  });
});

describe('warmbatch estimate input checks', () => {
  it.each([
    ['--jobs', '-3'],
    ['--input-tokens', '2.5'],
    ['--output-tokens', 'lots'],
    ['--cached-tokens', '1e3'],
    ['--jobs', '99999999999999999999'],
  ])('rejects %s %s in one line naming the flag, exit 2', async (flag, value) => {
    const run = await estimate('--model', 'deepseek-chat', ...SEED_WORKLOAD, flag, value);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(flag);
  });

  it('rejects more cached than input tokens', async () => {
    const run = await estimate(
      '--model',
      'deepseek-chat',
      ...SEED_WORKLOAD,
      '--cached-tokens',
      '2001',
    );

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/--cached-tokens \(2001\) cannot exceed --input-tokens \(2000\)/);
  });

  it.each([
    ['2026-11-30T02:00:00', 'no offset: the host zone would decide'],
    ['Nov 30 2026 02:00', 'not ISO 8601'],
    ['2026-11-30', 'a date without a time'],
    ['2026-02-30T02:00:00Z', 'a day February does not have'],
    ['tomorrow', 'words'],
  ])('rejects --at %s (%s) naming the expected form, exit 2', async (at) => {
    const run = await estimate('--model', 'deepseek-chat', '--at', at, ...SEED_WORKLOAD);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('--at');
    expect(run.stderr).toContain('an ISO 8601 time with an explicit offset or Z');
  });

  it('reads an explicit offset', async () => {
    const run = await estimate(
      '--model',
      'deepseek-flash',
      '--at',
      '2026-11-30T10:00:00+08:00',
      ...SEED_WORKLOAD,
      '--json',
    );

    expect(JSON.parse(run.stdout)).toMatchObject({ at: '2026-11-30T02:00:00.000Z', tier: 'peak' });
  });

  it('requires the output token count', async () => {
    const run = await estimate('--model', 'deepseek-chat', '--jobs', '1', '--input-tokens', '1');

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--output-tokens');
  });
});

/** The playbook's documentation workload at V3.2's January 2026 prices, with self-hosting. */
async function selfHosting(...extra: string[]) {
  const run = await estimate(
    '--model',
    'deepseek-chat',
    '--at',
    '2026-01-15T12:00:00Z',
    ...SEED_WORKLOAD,
    '--compare',
    'gpt-5.4',
    ...extra,
    '--json',
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout).selfHost;
}

type Money = { usd: string; nanoUsd: number };
type Option = { option: string; name: string; cost: Money; deployments?: number };

describe('warmbatch estimate --self-host', () => {
  it('puts break-even against GPT-5.4 at $25,000 of spend (714,286 jobs) and against V3.2 at 17,857,143 jobs', async () => {
    // Act
    const selfHost = await selfHosting('--self-host-monthly-usd', '25000');

    // Assess
    expect(selfHost.options).toHaveLength(1);
    const [option] = selfHost.options;
    expect(option.monthlyCost).toEqual({ usd: '25000.000000000', nanoUsd: 25_000_000_000_000 });
    const byModel = Object.fromEntries(
      option.breakEven.map((b: { model: string }) => [b.model, b]),
    );
    expect(byModel['gpt-5.4']).toMatchObject({
      perJob: { usd: '0.035000000', nanoUsd: 35_000_000 },
      jobsPerMonth: 714_286,
      tokensPerMonth: 714_286 * 4_000,
      apiSpendPerMonth: { usd: '25000.000000000', nanoUsd: 25_000_000_000_000 },
    });
    expect(byModel['deepseek-chat']).toMatchObject({
      perJob: { usd: '0.001400000', nanoUsd: 1_400_000 },
      jobsPerMonth: 17_857_143,
      apiSpendPerMonth: { nanoUsd: 25_000_000_000_000 },
    });
  });

  it("defaults to the playbook's $25,000 minimum and $50,000 recommended deployments", async () => {
    const selfHost = await selfHosting('--self-host');

    expect(selfHost.options.map((o: { monthlyCost: Money }) => o.monthlyCost.usd)).toEqual([
      '25000.000000000',
      '50000.000000000',
    ]);
    expect(selfHost.options[1].breakEven[1]).toMatchObject({
      model: 'gpt-5.4',
      jobsPerMonth: 1_428_572,
    });
  });

  it('reproduces the playbook: under $30,000/month of GPT-5.4 spend self-hosting does not save, over $50,000 it should be evaluated', async () => {
    // Prepare: the GPT-5.4 price of one job, as the estimator prices it.
    const base = await selfHosting('--self-host');
    const gptJob = base.options[0].breakEven.find((b: { model: string }) => b.model === 'gpt-5.4')
      .perJob.nanoUsd as number;
    const atSpend = async (usd: number) => {
      const jobs = Math.floor((usd * 1e9) / gptJob);
      const { atVolume } = await selfHosting('--self-host', '--jobs-per-month', String(jobs));
      const cost = (name: string) =>
        (atVolume.options as Option[]).find((o) => o.name === name)?.cost.nanoUsd as number;
      return {
        gpt: cost('gpt-5.4'),
        minimum: cost('self-host $25,000/month'),
        recommended: cost('self-host $50,000/month'),
        cheapest: atVolume.cheapest,
      };
    };

    // Act + Assess: below $30,000 the recommended deployment costs more than the API spend it
    // replaces and the minimum one saves under $5,000 a month, a sixth of the spend at most.
    for (const spend of [10_000, 25_000, 29_999]) {
      const m = await atSpend(spend);
      expect(m.recommended).toBeGreaterThan(m.gpt);
      expect(m.gpt - m.minimum).toBeLessThan(5_000 * 1e9);
      // And DeepSeek's own API does the same work for a twenty-fifth of it.
      expect(m.cheapest).toBe('deepseek-chat');
    }
    // Above $50,000 even the recommended deployment costs less than the GPT-5.4 spend.
    for (const spend of [50_001, 80_000]) {
      const m = await atSpend(spend);
      expect(m.recommended).toBeLessThan(m.gpt);
      expect(m.minimum).toBeLessThan(m.gpt);
    }
  });

  it('names the cheapest option at a monthly volume, with as many deployments as capacity needs', async () => {
    // 20M jobs x 4,000 tokens = 80B tokens; 50B a deployment -> 2 deployments.
    const selfHost = await selfHosting(
      '--self-host-monthly-usd',
      '25000',
      '--self-host-capacity-tokens',
      '50000000000',
      '--jobs-per-month',
      '20000000',
    );

    expect(selfHost.atVolume.options).toEqual(
      [
        {
          option: 'self-host',
          name: 'self-host $25,000/month',
          cost: { usd: '50000.000000000', nanoUsd: 50_000_000_000_000 },
          deployments: 2,
        },
        {
          option: 'api',
          name: 'deepseek-chat',
          cost: { usd: '28000.000000000', nanoUsd: 28_000_000_000_000 },
        },
        {
          option: 'api',
          name: 'gpt-5.4',
          cost: { usd: '700000.000000000', nanoUsd: 700_000_000_000_000 },
        },
      ].sort((a, b) => a.cost.nanoUsd - b.cost.nanoUsd),
    );
    expect(selfHost.atVolume.cheapest).toBe('deepseek-chat');
  });

  it('says a deployment too small to serve its own break-even volume never pays off', async () => {
    // 10B tokens a month serve 2.5M jobs: $3,500 of V3.2 API work, under $25,000.
    const selfHost = await selfHosting(
      '--self-host-monthly-usd',
      '25000',
      '--self-host-capacity-tokens',
      '10000000000',
    );

    const v32 = selfHost.options[0].breakEven[0];
    expect(v32).toMatchObject({
      model: 'deepseek-chat',
      jobsPerMonth: null,
      apiSpendPerMonth: null,
    });
    expect(v32.reason).toContain('2500000 jobs a month, $3500.00');
    expect(selfHost.options[0].breakEven[1]).toMatchObject({
      model: 'gpt-5.4',
      jobsPerMonth: 714_286,
    });
  });

  it('prints the break-even table and the cheapest option without --json', async () => {
    const run = await estimate(
      '--model',
      'deepseek-chat',
      '--at',
      '2026-01-15T12:00:00Z',
      ...SEED_WORKLOAD,
      '--compare',
      'gpt-5.4',
      '--jobs-per-month',
      '1000000',
    );

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/self-host \$25,000\/month.*gpt-5\.4.*714,286/);
    expect(run.stdout).toMatch(/self-host \$50,000\/month.*deepseek-chat.*35,714,286/);
    expect(run.stdout).toContain(
      'At 1,000,000 jobs a month (4,000,000,000 tokens), cheapest: deepseek-chat',
    );
  });

  it('refuses a self-hosting cost that is not an amount', async () => {
    const run = await estimate(
      '--model',
      'deepseek-chat',
      ...SEED_WORKLOAD,
      '--self-host-monthly-usd',
      '25k',
    );

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--self-host-monthly-usd');
  });
});
