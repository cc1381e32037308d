import { Command, InvalidArgumentError, Option } from 'commander';
import { instant, integer, number } from '../../cli/lib/args';
import { DEFAULT_QUALITY, type SimQuality } from '../../local/sim/quality';
import {
  DEFAULT_FAULTS,
  DEFAULT_OPTIONS,
  REALISTIC_OPTIONS,
  type SimOptions,
  startSimulator,
} from '../../local/sim/server';
import { clockMs, runningClock } from '../../shared/clock';

const probability = number(0, 1);

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface SimFlags {
  port: number;
  host: string;
  seed: number;
  timeScale: number;
  cacheModel: SimOptions['cacheModel'];
  unitInterval?: number;
  constructionDelayMs: number;
  delaySpread: number;
  capacityTokens?: number;
  promptLatencyMs: number;
  slowStart?: SimOptions['slowStart'];
  ttlMs: number;
  missRate: number;
  concurrency: number;
  overload: SimOptions['overload'];
  rate429: number;
  rate500: number;
  rate503: number;
  resetRate: number;
  emptyJsonRate: number;
  stallMs: number;
  balanceUsd?: number;
  apiKey?: string[];
  at?: Date;
  ttftMs: number;
  outputTps: number;
  prefillTps: number;
  brokenTestRate: number;
  repairSuccessRate: number;
  modelRates?: string[];
}

/**
 * `--model-rates deepseek-v4-pro=0.1:0.9` (repeatable): a model's own broken-test and repair
 * success rates, so a shadow comparison between two models shows a difference.
 */
export function parseModelRates(values: readonly string[] = []): SimQuality['byModel'] {
  const out: SimQuality['byModel'] = {};
  for (const value of values) {
    const match = /^([^=]+)=([0-9.]+):([0-9.]+)$/.exec(value);
    const broken = Number(match?.[2]);
    const repair = Number(match?.[3]);
    if (!match || !(broken >= 0 && broken <= 1) || !(repair >= 0 && repair <= 1))
      throw new InvalidArgumentError(
        `--model-rates ${value}: use MODEL=BROKEN:REPAIR with two probabilities, e.g. deepseek-v4-pro=0.1:0.9`,
      );
    out[match[1] as string] = { brokenTestRate: broken, repairSuccessRate: repair };
  }
  return out;
}

/** Maps parsed flags to simulator options; the balance moves from USD to integer nano-USD. */
export function simOptionsFromFlags(flags: SimFlags): Partial<SimOptions> {
  return {
    port: flags.port,
    host: flags.host,
    seed: flags.seed,
    timeScale: flags.timeScale,
    cacheModel: flags.cacheModel,
    unitInterval: flags.unitInterval,
    constructionDelayMs: flags.constructionDelayMs,
    constructionDelaySpread: flags.delaySpread,
    ...(flags.capacityTokens !== undefined ? { capacityTokens: flags.capacityTokens } : {}),
    promptLatencyMsPerKToken: flags.promptLatencyMs,
    ...(flags.slowStart ? { slowStart: flags.slowStart } : {}),
    ttlMs: flags.ttlMs,
    missRate: flags.missRate,
    concurrencyLimit: flags.concurrency,
    overload: flags.overload,
    apiKeys: flags.apiKey && flags.apiKey.length > 0 ? flags.apiKey : DEFAULT_OPTIONS.apiKeys,
    faults: {
      rate429: flags.rate429,
      rate500: flags.rate500,
      rate503: flags.rate503,
      resetRate: flags.resetRate,
      emptyJsonRate: flags.emptyJsonRate,
      stallMs: flags.stallMs,
    },
    balanceNanoUsd:
      flags.balanceUsd === undefined ? undefined : Math.round(flags.balanceUsd * 1_000_000_000),
    ttftMs: flags.ttftMs,
    outputTokensPerSecond: flags.outputTps,
    prefillMissTokensPerSecond: flags.prefillTps,
    quality: {
      brokenTestRate: flags.brokenTestRate,
      repairSuccessRate: flags.repairSuccessRate,
      byModel: parseModelRates(flags.modelRates),
    },
  };
}

/** `IDLE_MS:FACTOR:WINDOW_MS`, or `off`. */
function slowStart(value: string): SimOptions['slowStart'] {
  if (value === 'off') return undefined;
  const m = /^(\d+):([0-9.]+):(\d+)$/.exec(value);
  const factor = Number(m?.[2]);
  if (!m || !(factor >= 1))
    throw new InvalidArgumentError('expected IDLE_MS:FACTOR:WINDOW_MS (factor >= 1), or off');
  return { idleMs: Number(m[1]), factor, windowMs: Number(m[3]) };
}

/**
 * `warmbatch sim`: runs the DeepSeek-compatible simulator until interrupted, by default with the
 * most realistic reading of DeepSeek's documentation (REALISTIC_OPTIONS).
 */
export function simCommand(): Command {
  const d = { ...DEFAULT_OPTIONS, ...REALISTIC_OPTIONS };
  const command = new Command('sim')
    .description(
      'Run the DeepSeek-compatible simulator (cache, usage, billing, latency, faults) on this machine.',
    )
    .option('--port <n>', 'port to listen on (0 = any free port)', integer(0), d.port)
    .option('--host <host>', 'interface to listen on', d.host)
    .option('--seed <n>', 'seed of every random draw', integer(0), d.seed)
    .option(
      '--time-scale <x>',
      'multiplies every simulated delay (0 = none)',
      number(0),
      d.timeScale,
    )
    .addOption(
      new Option('--cache-model <model>', 'cache rule to simulate')
        .choices(['units64', 'persisted-units'])
        .default(d.cacheModel),
    )
    .option('--unit-interval <tokens>', 'persisted-units: also persist every K tokens', integer(64))
    .option(
      '--construction-delay-ms <ms>',
      'cache usable this long after the request that built it',
      number(0),
      d.constructionDelayMs,
    )
    .option(
      '--delay-spread <sigma>',
      'log-normal spread of the construction delay around its median (0 = fixed)',
      number(0),
      d.constructionDelaySpread,
    )
    .option(
      '--capacity-tokens <n>',
      'tokens the cache holds before evicting the least recently used',
      integer(1),
      d.capacityTokens,
    )
    .option(
      '--prompt-latency-ms <ms>',
      'latency every 1,000 prompt tokens add, cached or not',
      number(0),
      d.promptLatencyMsPerKToken,
    )
    .option(
      '--slow-start <idle:factor:window>',
      'a cache idle IDLE_MS builds FACTOR times slower for WINDOW_MS; off to disable',
      slowStart,
      d.slowStart,
    )
    .option('--ttl-ms <ms>', 'cache entries expire after this long unused', number(0), d.ttlMs)
    .option('--miss-rate <p>', 'probability a would-be hit misses', probability, d.missRate)
    .option('--concurrency <n>', 'requests processed at once', integer(1), d.concurrencyLimit)
    .addOption(
      new Option('--overload <mode>', 'over the concurrency limit: 429, or hold with keep-alives')
        .choices(['reject', 'queue'])
        .default(d.overload),
    );
  const provider = withFaultOptions(command)
    .option('--balance-usd <usd>', 'answer 402 once billed costs reach this', number(0))
    .option('--api-key <key>', 'accepted bearer key (repeatable; default sim-key)', collect)
    .option('--ttft-ms <ms>', 'time to first token', number(0), d.ttftMs)
    .option('--output-tps <n>', 'output tokens per second', number(0.001), d.outputTokensPerSecond)
    .option(
      '--prefill-tps <n>',
      'prefill tokens per second for cache misses',
      number(0.001),
      d.prefillMissTokensPerSecond,
    );
  return withQualityOptions(provider)
    .option(
      '--at <time>',
      'run as if it were this ISO 8601 time (Z or an offset): prices and models in force follow it (default: now)',
      instant,
    )
    .action(runSimulator);
}

/** The fault flags, one per field of SimFaults (local/sim/faults.ts). */
function withFaultOptions(command: Command): Command {
  const f = DEFAULT_FAULTS;
  return command
    .option('--rate-429 <p>', 'probability of a 429 answer', probability, f.rate429)
    .option('--rate-500 <p>', 'probability of a 500 answer', probability, f.rate500)
    .option('--rate-503 <p>', 'probability of a 503 answer', probability, f.rate503)
    .option(
      '--reset-rate <p>',
      'probability of a connection reset mid-body',
      probability,
      f.resetRate,
    )
    .option(
      '--empty-json-rate <p>',
      'probability of empty content in JSON mode',
      probability,
      f.emptyJsonRate,
    )
    .option('--stall-ms <ms>', 'hold every request this long (real ms)', number(0), f.stallMs);
}

/** How good the tests the simulator writes are (local/sim/quality.ts). */
function withQualityOptions(command: Command): Command {
  return command
    .option(
      '--broken-test-rate <p>',
      'share of JS/TS test answers that are broken (syntax error, wrong import, failing assertion)',
      probability,
      DEFAULT_QUALITY.brokenTestRate,
    )
    .option(
      '--repair-success-rate <p>',
      'probability that a repair request (one carrying failure output) fixes a broken test',
      probability,
      DEFAULT_QUALITY.repairSuccessRate,
    )
    .option(
      '--model-rates <model=broken:repair>',
      "a model's own rates (repeatable), e.g. deepseek-v4-pro=0.1:0.9",
      collect,
    );
}

/** Runs the simulator until SIGINT or SIGTERM. */
async function runSimulator(flags: SimFlags): Promise<void> {
  const sim = await startSimulator({
    ...simOptionsFromFlags(flags),
    ...(flags.at ? { clock: clockMs(runningClock(flags.at)) } : {}),
  });
  const { apiKeys, clock: _clock, ...shown } = sim.options;
  const printed = { ...shown, port: sim.port, apiKeys: `${apiKeys.length} key(s), not shown` };
  process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
  process.stdout.write(`DeepSeek simulator listening on ${sim.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await sim.close();
  process.stdout.write('simulator stopped\n');
}
