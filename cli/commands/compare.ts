import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { BatchItem, JobItem } from '../../shared/ports/jobs';
import {
  newcombePaired,
  type PairedCounts,
  PLAYBOOK_SAMPLE_PER_TASK_TYPE,
} from '../../shared/quality/stats';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode, UsageError } from '../lib/exit';
import { batchRef, requireBatch } from '../lib/lookup';
import { formatRatio, usd } from '../lib/money';
import { relativeOutput } from '../lib/quality/loop';
import { writeInside } from '../lib/safe-paths';

export interface CompareFlags {
  team: string;
  out?: string;
  html?: string;
  json?: boolean;
  config?: string;
}

/** One model's figures over the files both models answered. */
export interface ModelFigures {
  model: string;
  lane: 'primary' | 'shadow';
  files: number;
  validated: number;
  passedFirstTry: number;
  firstTryPassRate: number | null;
  /** The primary's, after its repairs (recorded verdicts); null for the shadow. */
  passRateAfterRepair: number | null;
  costNanoUsd: number;
  /** The answers' cost over the first-try passes: both models judged on the same files. */
  costPerPassingTestNanoUsd: number | null;
  tokens: { hit: number; miss: number; output: number };
  latencyMs: { median: number | null; mean: number | null };
}

const answered = (j: JobItem) => j.state === 'succeeded' || j.state === 'reused';

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2
    ? (s[mid] as number)
    : Math.round(((s[mid - 1] as number) + (s[mid] as number)) / 2);
}

/** A model's figures over `jobs` (the files in both runs). */
export function figuresOf(
  model: string,
  lane: 'primary' | 'shadow',
  jobs: readonly JobItem[],
): ModelFigures {
  const judged = jobs.filter((j) => j.verdict);
  const firstTry = judged.filter((j) => j.verdict?.verdict === 'passed').length;
  const finalPass = judged.filter(
    (j) => (j.verdict?.final ?? j.verdict?.verdict) === 'passed',
  ).length;
  const cost = jobs.reduce((n, j) => n + (j.state === 'succeeded' ? (j.costNanoUsd ?? 0) : 0), 0);
  const latencies = jobs.map((j) => j.latencyMs).filter((l): l is number => l !== undefined);
  return {
    model,
    lane,
    files: jobs.length,
    validated: judged.length,
    passedFirstTry: firstTry,
    firstTryPassRate: judged.length === 0 ? null : firstTry / judged.length,
    passRateAfterRepair: lane === 'primary' && judged.length > 0 ? finalPass / judged.length : null,
    costNanoUsd: cost,
    costPerPassingTestNanoUsd: firstTry === 0 ? null : Math.round(cost / firstTry),
    tokens: {
      hit: jobs.reduce((n, j) => n + (j.usage?.promptHitTokens ?? 0), 0),
      miss: jobs.reduce((n, j) => n + (j.usage?.promptMissTokens ?? 0), 0),
      output: jobs.reduce((n, j) => n + (j.usage?.completionTokens ?? 0), 0),
    },
    latencyMs: {
      median: median(latencies),
      mean:
        latencies.length === 0
          ? null
          : Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    },
  };
}

/** How far the comparison's sample can be trusted: its size and the pass-rate delta's interval. */
export interface ComparisonSample {
  /** Files judged under both models (first try): the pairs the delta is measured on. */
  pairs: number;
  /** The playbook's sample per task type (here, the batch's kind). */
  required: number;
  enough: boolean;
  kind: string;
  counts: PairedCounts;
  /** Shadow first-try pass rate minus the primary's, with its 95% interval; null without pairs. */
  passRateDelta: { delta: number; lower: number; upper: number; method: string } | null;
}

/**
 * The paired comparison of first-try verdicts over the files both models answered and had
 * judged: Newcombe's paired score interval for (shadow - primary), since each file is judged
 * under both models.
 */
export function comparisonSample(
  kind: string,
  primary: readonly JobItem[],
  shadow: readonly JobItem[],
): ComparisonSample {
  const shadowByPath = new Map(shadow.map((j) => [j.path, j]));
  const counts: PairedCounts = { both: 0, firstOnly: 0, secondOnly: 0, neither: 0 };
  for (const p of primary) {
    const s = shadowByPath.get(p.path);
    if (!p.verdict || !s?.verdict) continue;
    const sPass = s.verdict.verdict === 'passed';
    const pPass = p.verdict.verdict === 'passed';
    if (sPass && pPass) counts.both++;
    else if (sPass) counts.firstOnly++;
    else if (pPass) counts.secondOnly++;
    else counts.neither++;
  }
  const pairs = counts.both + counts.firstOnly + counts.secondOnly + counts.neither;
  // First = shadow, second = primary: the delta reads "the shadow model passes this much more".
  const d = newcombePaired(counts);
  return {
    pairs,
    required: PLAYBOOK_SAMPLE_PER_TASK_TYPE,
    enough: pairs >= PLAYBOOK_SAMPLE_PER_TASK_TYPE,
    kind,
    counts,
    passRateDelta:
      d === null
        ? null
        : {
            delta: d.difference,
            lower: d.lower,
            upper: d.upper,
            method: 'Newcombe paired score interval, 95%',
          },
  };
}

const points = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}`;

/** One line saying what the sample can tell. */
function sampleLine(s: ComparisonSample, models: [string, string]): string {
  const size = `sample: ${s.pairs} ${s.kind} output(s) judged under both models; the playbook asks for ${s.required}+ per task type: ${s.enough ? 'reached' : `not reached (${s.required - s.pairs} more)`}`;
  if (!s.passRateDelta) return `${size}\n`;
  const d = s.passRateDelta;
  const verdict =
    d.lower > 0
      ? `${models[1]} passes more`
      : d.upper < 0
        ? `${models[1]} passes fewer`
        : 'no difference shown at this sample size';
  return `${size}\nfirst-try pass rate, ${models[1]} - ${models[0]}: ${points(d.delta)} points (95% CI ${points(d.lower)} to ${points(d.upper)}, ${d.method}): ${verdict}\n`;
}

const escapeHtml = (s: string) =>
  s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');

/** One HTML page: the two answers of each sampled file side by side, with their verdicts. */
function htmlPage(
  batch: BatchItem,
  models: [string, string],
  files: { path: string; a: string; b: string; va: string; vb: string }[],
): string {
  const rows = files
    .map(
      (f) =>
        `<h2>${escapeHtml(f.path)}</h2><div class="pair"><div><h3>${escapeHtml(models[0])}: ${escapeHtml(f.va)}</h3><pre>${escapeHtml(f.a)}</pre></div><div><h3>${escapeHtml(models[1])}: ${escapeHtml(f.vb)}</h3><pre>${escapeHtml(f.b)}</pre></div></div>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>warmbatch compare ${escapeHtml(batch.batchId)}</title><style>body{font-family:sans-serif}.pair{display:flex;gap:1em}.pair>div{flex:1;min-width:0}pre{background:#f6f6f6;padding:.5em;overflow:auto}</style></head><body><h1>${escapeHtml(batch.team)}/${escapeHtml(batch.batchId)}: ${escapeHtml(models[0])} vs ${escapeHtml(models[1])}</h1>\n${rows}\n</body></html>\n`;
}

/**
 * Compares a batch with its shadow run, over the files both answered: per model the pass rate
 * (first try, and the primary's after repair), cost per passing test, tokens and latency; and
 * writes each file's two answers side by side (a folder per model, and/or one HTML page).
 */
export async function compare(
  batchId: string,
  flags: CompareFlags,
  deps: CliDeps,
): Promise<ExitCode> {
  const ref = batchRef(batchId, flags.team);
  const services = await deps.connect(flags);
  try {
    const batch = await requireBatch(services, ref);
    if (!batch.shadow)
      throw new UsageError(`batch ${batchId} has no shadow run: submit with --shadow <model>`);
    const shadow = await requireBatch(services, { team: ref.team, batchId: batch.shadow.batchId });
    const shadowJobs = (await services.jobs.listJobs(shadow)).filter(answered);
    const sampled = new Set(shadowJobs.map((j) => j.path));
    const primaryJobs = (await services.jobs.listJobs(batch)).filter(
      (j) => answered(j) && sampled.has(j.path),
    );
    const both = new Set(primaryJobs.map((j) => j.path));
    const shadowBoth = shadowJobs.filter((j) => both.has(j.path));
    const figures = [
      figuresOf(batch.model, 'primary', primaryJobs),
      figuresOf(shadow.model, 'shadow', shadowBoth),
    ];
    const sample = comparisonSample(batch.kind, primaryJobs, shadowBoth);
    const pairs: { path: string; a: string; b: string; va: string; vb: string }[] = [];
    if (flags.out !== undefined || flags.html !== undefined) {
      const byPath = new Map(shadowBoth.map((j) => [j.path, j]));
      for (const p of primaryJobs.sort((x, y) => (x.path < y.path ? -1 : 1))) {
        const s = byPath.get(p.path) as JobItem;
        const [a, b] = await Promise.all([
          services.objects.getText(p.outputKey),
          services.objects.getText(s.outputKey),
        ]);
        const verdict = (j: JobItem) => j.verdict?.verdict ?? 'not validated';
        pairs.push({
          path: relativeOutput(batch, p) ?? p.path,
          a: a ?? '',
          b: b ?? '',
          va: verdict(p),
          vb: verdict(s),
        });
      }
    }
    if (flags.out !== undefined) {
      const root = resolve(deps.io.cwd, flags.out);
      for (const f of pairs)
        for (const [model, text] of [
          [batch.model, f.a],
          [shadow.model, f.b],
        ] as const) {
          const dest = join(root, model, f.path);
          if (!dest.startsWith(join(root, model))) continue;
          await writeInside(root, dest, text);
        }
    }
    if (flags.html !== undefined) {
      const dest = resolve(deps.io.cwd, flags.html);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, htmlPage(batch, [batch.model, shadow.model], pairs));
    }
    if (flags.json) {
      deps.io.stdout.write(
        `${JSON.stringify({ batchId, shadowBatchId: shadow.batchId, files: both.size, models: figures, sample })}\n`,
      );
      return EXIT.ok;
    }
    const table = new Table({
      head: [
        'model',
        'lane',
        'files',
        'validated',
        'passed first try',
        'after repair',
        'cost per passing test',
        'hit / miss / output tokens',
        'latency p50',
      ],
      style: { head: [], border: [] },
    });
    for (const f of figures)
      table.push([
        f.model,
        f.lane,
        f.files,
        f.validated,
        `${f.passedFirstTry} (${formatRatio(f.firstTryPassRate)})`,
        f.lane === 'primary' ? formatRatio(f.passRateAfterRepair) : '',
        f.costPerPassingTestNanoUsd === null ? 'n/a' : usd(f.costPerPassingTestNanoUsd),
        `${f.tokens.hit} / ${f.tokens.miss} / ${f.tokens.output}`,
        f.latencyMs.median === null ? 'n/a' : `${f.latencyMs.median} ms`,
      ]);
    deps.io.stdout.write(
      `batch ${batchId} vs its shadow run ${shadow.batchId}, over the ${both.size} file(s) both answered\n${table.toString()}\n${sampleLine(sample, [batch.model, shadow.model])}`,
    );
    return EXIT.ok;
  } finally {
    services.close();
  }
}

/** `warmbatch compare <batchId> --team T [--out DIR] [--html FILE]`. */
export function compareCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return pipelineCommand('compare', deps)
    .description(
      'Compare a batch with its shadow run (submit --shadow): pass rate, cost per passing test, tokens and latency per model, and both outputs side by side',
    )
    .argument('<batchId>', 'the primary batch')
    .requiredOption('--team <name>', 'team the batch belongs to')
    .option('--out <dir>', 'write each sampled file twice: <dir>/<model>/<path>, to diff')
    .option('--html <file>', 'write one HTML page with the two outputs of each file side by side')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Pass rates come from recorded verdicts (submit --validate, warmbatch validate): first try for
both models on the same files, and after repair for the primary. Cost per passing test here is
the sampled answers' cost over their first-try passes, so both models are judged alike.

The sample line says how many outputs were judged under both models, whether that reaches the
playbook's 200 per task type, and the first-try pass-rate delta (shadow - primary) with its 95%
confidence interval (Newcombe's paired score interval: each file is judged under both models).
An interval that spans 0 shows no difference at that sample size.

Exit codes:
  0  compared
  2  usage or configuration error (no such batch, no shadow run)
  1  any other error`,
    )
    .action(async (batchId: string, flags: CompareFlags) =>
      runAction('compare', deps, () => compare(batchId, flags, deps)),
    );
}
