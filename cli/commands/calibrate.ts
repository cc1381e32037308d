import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  type CalibrationPlan,
  type CalibrationResult,
  calibrate,
  calibrationCostBound,
  calibrationRequests,
  DEFAULT_CALIBRATION,
} from '../../shared/executor/calibrate';
import { CacheProfile } from '../../shared/executor/profile';
import { formatUsd } from '../../shared/pricing/estimate';
import { type ConnectionFlags, withConnectionOptions } from '../config';
import { integer, number } from '../lib/args';
import { offlineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, UsageError } from '../lib/exit';

/** DeepSeek's public endpoint: calibrate measures it unless told another base URL. */
export const DEEPSEEK_BASE_URL = 'https://api.deepseek.com';

interface CalibrateFlags extends ConnectionFlags {
  model: string;
  baseUrl: string;
  endpointName: string;
  apiKeyEnv: string;
  samples: number;
  prefixTokens: number;
  maxWaitMs: number;
  warmProbes: number;
  out: string;
  save?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

const median = (values: readonly number[]) => {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};

function report(result: CalibrationResult): string[] {
  const profile = new CacheProfile(result.profile);
  const lines = result.samples.map((s, i) =>
    s.readyWithinMs === undefined
      ? `  prefix ${i + 1}: never served (last probe ${s.notReadyAtMs ?? 0} ms after its warm-up)`
      : `  prefix ${i + 1}: served ${s.readyWithinMs} ms after its warm-up (not yet at ${s.notReadyAtMs ?? 0} ms), ${s.probes} probes`,
  );
  return [
    'construction delay (first served wait after the warm-up, an upper bound):',
    ...lines,
    `hit behaviour: ${result.warmProbes - result.warmMisses} of ${result.warmProbes} probes of a served prefix hit (${result.warmMisses} best-effort misses)`,
    `latency of one-token requests: median ${median(result.latencyMs.miss) ?? '-'} ms on a miss (${result.latencyMs.miss.length}), ${median(result.latencyMs.hit) ?? '-'} ms on a hit (${result.latencyMs.hit.length})`,
    `the executor starts from: settle ${profile.settleMs()} ms, checks at ${profile.checkSchedule(4).join(', ')} ms, warm-miss rate ${profile.warmMissRate().toFixed(3)}`,
    `${result.requests} requests, billed ${formatUsd(result.costNanoUsd)} (from each answer's usage)`,
  ];
}

/**
 * `warmbatch calibrate`: measures a provider's context cache with a few one-token requests (a
 * real endpoint with its key, or a running simulator by its URL) and writes the cache profile
 * the executor starts from. Prints what it may cost before it sends anything.
 */
export function calibrateCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return withConnectionOptions(offlineCommand('calibrate', deps))
    .description(
      "Measure a provider's context cache (construction delay, hit behaviour, latency) with a few one-token requests, and write the profile the executor starts from",
    )
    .option('--model <id>', 'model to measure', 'deepseek-flash')
    .option(
      '--base-url <url>',
      'the endpoint (a running `warmbatch sim` for a dry check)',
      DEEPSEEK_BASE_URL,
    )
    .option('--endpoint-name <name>', "the endpoint's name in the pipeline settings", 'deepseek')
    .option('--api-key-env <name>', 'environment variable holding the key', 'DEEPSEEK_API_KEY')
    .option(
      '--samples <n>',
      'prefixes to measure, each warmed once',
      integer(1, 20),
      DEFAULT_CALIBRATION.samples,
    )
    .option(
      '--prefix-tokens <n>',
      'tokens of each prefix (at least one 64-token cache unit)',
      integer(64, 100_000),
      DEFAULT_CALIBRATION.prefixTokens,
    )
    .option(
      '--max-wait-ms <ms>',
      'give a prefix up after this long',
      number(1),
      DEFAULT_CALIBRATION.maxWaitMs,
    )
    .option(
      '--warm-probes <n>',
      'probes of a served prefix, to count best-effort misses',
      integer(0, 100),
      DEFAULT_CALIBRATION.warmProbes,
    )
    .option('--out <file>', 'where to write the profile (JSON)', 'warmbatch-cache-profile.json')
    .option(
      '--save',
      "also store the profile in the deployment's jobs table, where the worker loads it",
    )
    .option('--dry-run', 'print the requests and the most they may cost, and send nothing')
    .option('--json', 'print one JSON object (the result and the profile) instead of lines')
    .action((flags: CalibrateFlags) =>
      runAction('calibrate', deps, async () => {
        const { io } = deps;
        const plan: CalibrationPlan = {
          model: flags.model,
          endpoint: flags.endpointName,
          samples: flags.samples,
          prefixTokens: flags.prefixTokens,
          firstWaitMs: DEFAULT_CALIBRATION.firstWaitMs,
          growth: DEFAULT_CALIBRATION.growth,
          maxWaitMs: flags.maxWaitMs,
          warmProbes: flags.warmProbes,
        };
        let bound: number;
        try {
          bound = calibrationCostBound(plan, deps.clock.now());
        } catch (err) {
          throw new UsageError(`cannot price ${flags.model}: ${(err as Error).message}`);
        }
        // Before anything is sent: what it may cost at most.
        io.stderr.write(
          `calibrate ${flags.model} at ${flags.baseUrl}: at most ${calibrationRequests(plan)} one-token requests of about ${plan.prefixTokens} prompt tokens, at most ${formatUsd(bound)}\n`,
        );
        if (flags.dryRun) return EXIT.ok;
        const apiKey = io.env[flags.apiKeyEnv];
        if (!apiKey) throw new UsageError(`no key: set ${flags.apiKeyEnv}`);
        const now = () => deps.clock.now().getTime();
        // Loaded here: `warmbatch --help` need not load the LLM client.
        const { createLlmClient } = await import('../../shared/llm');
        const llm = createLlmClient(
          { public: { name: flags.endpointName, baseURL: flags.baseUrl, apiKey } },
          { now },
        );
        const result = await calibrate(plan, {
          llm,
          now,
          sleep: deps.sleep,
          onProbe: (line) => io.stderr.write(`  ${line}\n`),
        });
        const out = resolve(io.cwd, flags.out);
        await writeFile(out, `${JSON.stringify(result.profile, null, 2)}\n`);
        if (flags.save) {
          const services = await deps.connect(flags);
          try {
            if (!services.profiles) throw new UsageError('this deployment keeps no cache profiles');
            await services.profiles.save(result.profile);
          } finally {
            services.close();
          }
        }
        io.stdout.write(
          flags.json
            ? `${JSON.stringify({ ...result, profileFile: out, saved: flags.save === true })}\n`
            : `${[...report(result), `profile written to ${out}${flags.save ? " and to the deployment's jobs table" : ''}`].join('\n')}\n`,
        );
        return EXIT.ok;
      }),
    );
}
