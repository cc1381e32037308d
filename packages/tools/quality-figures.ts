/**
 * Quality per dollar, measured: the whole local pipeline (emulators, the real handlers, the
 * simulator) runs `warmbatch submit --validate` on a generated ES module project, with a shadow
 * run on a second model, and prints the figures docs/quality.md reports: pass rates before and
 * after repair, cost per passing test per model, the repairs' cost and cache hit on the original
 * prompt, and whether the ledger equals the simulator's bill.
 *
 *   npx tsx packages/tools/quality-figures.ts [--files 60] [--seed 4] [--broken 0.3] [--repair 0.7]
 *     [--shadow deepseek-v4-pro] [--shadow-broken 0.1] [--json]
 *
 * Tests are validated with Node's own test runner (`node --test {file}`), one process a file.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { esModuleProject } from '../../bench/quality-project';
import { number } from '../../cli/lib/args';
import type { CliIo } from '../../cli/lib/context';
import { runCli } from '../../cli/lib/run';
import { startLocalPipeline } from '../../local/pipeline';
import { createJobsStore } from '../../shared/aws/jobs';
import { createLedgerStore } from '../../shared/aws/ledger-store';
import { createS3ObjectStore } from '../../shared/aws/object-store';
import { runningClock } from '../../shared/clock';

interface Flags {
  files: number;
  seed: number;
  broken: number;
  repair: number;
  shadow: string;
  shadowBroken: number;
  json?: boolean;
}

function bufferIo(cwd: string): CliIo & { out(): string } {
  let out = '';
  return {
    cwd,
    env: {},
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: () => true, isTTY: false },
    out: () => out,
  };
}

async function main(flags: Flags): Promise<void> {
  const clock = runningClock('2026-11-30T12:00:00Z');
  const pipeline = await startLocalPipeline({
    clock,
    ports: { s3Sqs: 0, dynamodb: 0 },
    configPath: false,
    timeScale: 0.05,
    sim: {
      timeScale: 0,
      seed: flags.seed,
      quality: {
        brokenTestRate: flags.broken,
        repairSuccessRate: flags.repair,
        byModel: { [flags.shadow]: { brokenTestRate: flags.shadowBroken } },
      },
    },
    settings: {
      maxOutputTokens: { docs: 512, tests: 512 },
      executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
    },
  });
  try {
    const { clients, resources } = pipeline.runtime;
    const services = {
      objects: createS3ObjectStore(clients.s3, resources.bucket),
      jobs: createJobsStore({ ddb: clients.doc, table: resources.tables.jobs }),
      ledger: createLedgerStore({
        ddb: clients.doc,
        ledgerTable: resources.tables.ledger,
        jobsTable: resources.tables.jobs,
      }),
      close() {},
    };
    const dir = await mkdtemp(join(tmpdir(), 'warmbatch-quality-bench-'));
    for (const [path, text] of Object.entries(esModuleProject(flags.files))) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const cli = async (...args: string[]) => {
      const io = bufferIo(dir);
      const code = await runCli(args, {
        io,
        clock,
        connect: async () => services,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        pollMs: 100,
      });
      return { code, out: io.out() };
    };
    const started = Date.now();
    const submitted = await cli(
      ...['submit', '--team', 'bench', '--project', 'calc', '--kind', 'tests', 'src'],
      ...['--context', 'STYLE.md', '--out', '.', '--json', '--quarantine', 'quarantine'],
      ...['--validate', 'node --test {file}', '--validate-concurrency', '2'],
      ...['--shadow', flags.shadow, '--shadow-rate', '1'],
    );
    const seconds = (Date.now() - started) / 1000;
    const summary = JSON.parse(submitted.out);
    const compared = JSON.parse(
      (await cli('compare', summary.batchId, '--team', 'bench', '--json')).out,
    );
    const costs = JSON.parse((await cli('costs', '--by', 'model,lane', '--format', 'json')).out);
    const billed = pipeline.sim?.usage().totals;
    const q = summary.quality;
    const result = {
      files: flags.files,
      seed: flags.seed,
      rates: { broken: flags.broken, repair: flags.repair, shadowBroken: flags.shadowBroken },
      seconds,
      primary: {
        model: q.model,
        firstTryPassRate: q.firstTryPassRate,
        passRateAfterRepair: q.passRate,
        passed: q.testsPassed,
        validatedCostNanoUsd: q.validatedCostNanoUsd,
        costPerPassingTestNanoUsd: q.costPerPassingTestNanoUsd,
        repairRequests: q.repairRequests,
        repairCostNanoUsd: q.repairCostNanoUsd,
        repairCacheHitOnOriginalPrompt: q.repairCacheHitOnOriginalPrompt,
      },
      compare: compared.models,
      costsByModelAndLane: costs.rows.map((r: Record<string, unknown>) => ({
        model: r.model,
        lane: r.lane,
        requests: r.requests,
        costNanoUsd: r.costNanoUsd,
        cacheHitRatio: r.cacheHitRatio,
        testsPassed: r.testsPassed,
        passRate: r.passRate,
        costPerPassingTestNanoUsd: r.costPerPassingTestNanoUsd,
      })),
      ledgerEqualsBill:
        billed !== undefined &&
        costs.totals.requests === billed.requests &&
        costs.totals.costNanoUsd === billed.costNanoUsd,
    };
    process.stdout.write(`${JSON.stringify(result, null, flags.json ? 0 : 2)}\n`);
  } finally {
    await pipeline.stop();
  }
}

const program = new Command('quality-bench')
  .option('--files <n>', 'generated source files', Number, 60)
  .option('--seed <n>', "the simulator's seed", Number, 4)
  .option('--broken <p>', 'broken-test rate of the primary model', number(0, 1), 0.3)
  .option('--repair <p>', 'repair success rate', number(0, 1), 0.7)
  .option('--shadow <model>', 'shadow model', 'deepseek-v4-pro')
  .option('--shadow-broken <p>', 'broken-test rate of the shadow model', number(0, 1), 0.1)
  .option('--json', 'one line of JSON')
  .action((flags: Flags) => main(flags));
await program.parseAsync(process.argv);
