/**
 * Planner scale benchmark: plans N synthetic jobs (seeded, so every run plans the same batch) and
 * prints the planning time, the process's peak memory and the shape of the plan.
 *
 *   npx tsx bench/plan-scale.ts [--jobs 100000] [--groups 200] [--runs 5] [--seed 1] [--payload 0]
 *
 * Time: wall clock of the first (cold) run, which is what a Lambda invocation pays, and the
 * median of all runs; also the CPU time of the first run, which a busy machine distorts less.
 *
 * Memory: planning is synchronous, so nothing can sample during it from this thread. The peak
 * is read from the kernel's high-water mark (`process.resourceUsage().maxRSS`) right after the
 * first run; the growth over the mark taken just before it is what planning itself added.
 * Goal: 100,000 jobs planned in under 2 s and under 500 MB.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { createPrng } from '../local/sim/prng';
import { type PlannableJob, planBatch } from '../shared/grouping';
import { sha256Hex } from '../shared/prompts/keys';

/** A job as the pipeline carries it in a work message: keys to its input, not the content. */
interface BenchJob extends PlannableJob {
  team: string;
  project: string;
  kind: 'docs' | 'tests';
  path: string;
  inputKey: string;
  contentSha256: string;
  /** Optional inline text (`--payload`), to time records too big for the size bound. */
  note?: string;
}

const WORDS = [
  'auth',
  'billing',
  'cache',
  'core',
  'db',
  'events',
  'http',
  'ingest',
  'jobs',
  'ledger',
  'metrics',
  'orders',
  'payments',
  'queue',
  'reports',
  'search',
  'session',
  'storage',
  'users',
  'utils',
  'handlers',
  'models',
  'services',
  'adapters',
  'routes',
  'schema',
  'client',
  'server',
];
const EXTENSIONS = ['.ts', '.tsx', '.py', '.go', '.java'];

/** N jobs over `groups` prefix groups of skewed sizes (a few big projects, many small), shuffled. */
function syntheticJobs(count: number, groups: number, seed: number, payload: number): BenchJob[] {
  // Seeded, so the batch is the same on every run.
  const rnd = createPrng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const prefixes = Array.from({ length: groups }, (_, g) => {
    const team = `team-${g % 50}`;
    const project = `${pick(WORDS)}-${g}`;
    const kind = g % 3 === 0 ? ('tests' as const) : ('docs' as const);
    const model = g % 4 === 0 ? 'deepseek-v4-pro' : 'deepseek-flash';
    return {
      team,
      project,
      kind,
      model,
      prefixKey: sha256Hex(`${model}\n${team}/${project}/${kind}`),
      prefixTokens: 800 + Math.floor(rnd() * 6_000),
    };
  });
  const jobs: BenchJob[] = [];
  for (let i = 0; i < count; i++) {
    // Squaring skews towards low indices: group sizes fall off roughly like a power law.
    const prefix = prefixes[Math.floor(rnd() ** 2 * groups)] ?? prefixes[0];
    if (!prefix) throw new Error('no groups');
    const depth = 1 + Math.floor(rnd() * 4);
    const dirs = Array.from({ length: depth }, () => pick(WORDS)).join('/');
    const path = `packages/${pick(WORDS)}/src/${dirs}/${pick(WORDS)}-${i}${pick(EXTENSIONS)}`;
    const contentHead = `import { ${pick(WORDS)} } from './${pick(WORDS)}';`;
    jobs.push({
      jobId: `job-${String(i).padStart(7, '0')}`,
      prefixKey: prefix.prefixKey,
      model: prefix.model,
      sortKey: `${path}\n${contentHead}`,
      prefixTokens: prefix.prefixTokens,
      uniqueTokens: 200 + Math.floor(rnd() * 4_000),
      maxOutputTokens: 4_096,
      team: prefix.team,
      project: prefix.project,
      kind: prefix.kind,
      path,
      inputKey: `intake/${prefix.team}/${prefix.project}/${prefix.kind}/${path}`,
      contentSha256: sha256Hex(path),
      ...(payload > 0
        ? // A Buffer round trip gives a flat string, as text read from S3 or JSON would be.
          {
            note: Buffer.from(
              contentHead.repeat(Math.ceil(payload / 40)).slice(0, payload),
            ).toString(),
          }
        : {}),
    });
  }
  return jobs;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);

const options = new Command('plan-scale')
  .description('Plan N synthetic jobs and print time, peak memory and plan shape.')
  .option('--jobs <n>', 'number of jobs', positiveInt, 100_000)
  .option('--groups <n>', 'number of prefix groups', positiveInt, 200)
  .option('--runs <n>', 'timed runs (the first also measures memory)', positiveInt, 5)
  .option('--seed <n>', 'random seed', positiveInt, 1)
  .option('--payload <chars>', 'inline text per job (0 = keys only)', Number, 0)
  .parse()
  .opts<{ jobs: number; groups: number; runs: number; seed: number; payload: number }>();

const jobs = syntheticJobs(options.jobs, options.groups, options.seed, options.payload);

const heapBefore = process.memoryUsage().heapUsed;
const peakBefore = process.resourceUsage().maxRSS * 1024;
const cpuBefore = process.cpuUsage();
let start = performance.now();
const plan = planBatch('bench-batch', jobs);
const firstMs = performance.now() - start;
const cpu = process.cpuUsage(cpuBefore);
const firstCpuMs = (cpu.user + cpu.system) / 1_000;
const peakAfter = process.resourceUsage().maxRSS * 1024;
const heapAfter = process.memoryUsage().heapUsed;

// Check the plan before reporting on it: every job planned once or rejected.
const ids = new Set<string>();
for (const message of plan.messages) for (const job of message.jobs) ids.add(job.jobId);
const planned = plan.messages.reduce((n, m) => n + m.jobs.length, 0);
if (planned !== ids.size || planned + plan.rejected.length !== jobs.length)
  throw new Error(`plan lost or duplicated jobs: ${planned} planned, ${ids.size} unique`);

const times = [firstMs];
for (let run = 1; run < options.runs; run++) {
  start = performance.now();
  planBatch('bench-batch', jobs);
  times.push(performance.now() - start);
}
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? firstMs;
const sizes = plan.messages.map((m) => Buffer.byteLength(JSON.stringify(m)));

const lines = [
  `node ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
  `jobs ${jobs.length}, groups ${plan.groups.length}, messages ${plan.messages.length}, rejected ${plan.rejected.length}`,
  `largest message ${Math.max(0, ...sizes)} bytes, mean ${(planned / plan.messages.length).toFixed(1)} jobs a message`,
  `plan CPU time (user + system, all threads incl. GC): first run ${firstCpuMs.toFixed(0)} ms`,
  `plan time: first run ${firstMs.toFixed(0)} ms, median of ${times.length} runs ${median.toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(', ')})`,
  `peak RSS (kernel high-water mark): ${mb(peakBefore)} MB before planning, ${mb(peakAfter)} MB after the first run (+${mb(peakAfter - peakBefore)} MB)`,
  `heap used: ${mb(heapBefore)} MB before, ${mb(heapAfter)} MB after the first run (plan retained)`,
  `goal (100,000 jobs: < 2000 ms, < 500 MB peak RSS): ${firstMs < 2_000 && peakAfter < 500 * 1_048_576 ? 'met' : 'NOT met'}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
