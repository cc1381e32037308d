#!/usr/bin/env node
// The entry point of the warmbatch GitHub Action (action.yml at the repository's root): runs
// `warmbatch submit --wait --json` with the step's inputs, then tells GitHub what happened: a
// step summary (jobs, reused, failed with reasons, cost, cache hit, pass rate, cost per passing
// test), an `::error file=...` annotation per failed file or test left failing, and the step's
// outputs `batch-id`, `cost-usd` and `failed`. The step exits with the command's exit code.
// Plain Node, no dependencies: it runs before anything is installed but the command itself.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The step's inputs, as action.yml passes them (`WARMBATCH_INPUT_<NAME>`). */
export function inputsOf(env) {
  const get = (name) => (env[`WARMBATCH_INPUT_${name}`] ?? '').trim();
  const list = (name) =>
    get(name)
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return {
    team: get('TEAM'),
    project: get('PROJECT'),
    kind: get('KIND'),
    globs: list('GLOBS'),
    context: list('CONTEXT'),
    out: get('OUT') || '.',
    validate: get('VALIDATE'),
    budgetUsd: get('BUDGET_USD'),
    failOnFailingTests: get('FAIL_ON_FAILING_TESTS') === 'true',
    extraArgs: list('ARGS'),
  };
}

/** `warmbatch submit` arguments for the inputs; a missing required input is an error. */
export function submitArgs(inputs) {
  for (const name of ['team', 'project', 'kind'])
    if (!inputs[name]) throw new Error(`the input ${name} is required`);
  if (inputs.globs.length === 0) throw new Error('the input globs is required');
  return [
    'submit',
    ...['--team', inputs.team, '--project', inputs.project, '--kind', inputs.kind],
    ...inputs.globs,
    ...inputs.context.map((file) => `--context=${file}`),
    ...['--wait', '--out', inputs.out, '--json'],
    ...(inputs.validate ? ['--validate', inputs.validate] : []),
    ...(inputs.budgetUsd ? ['--budget-usd', inputs.budgetUsd] : []),
    ...(inputs.failOnFailingTests ? ['--fail-on-failing-tests'] : []),
    ...inputs.extraArgs,
  ];
}

/** Integer nano-USD as a decimal dollar string, exactly (no float on the way). */
export function usdOf(nano) {
  const n = BigInt(nano);
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  return `${sign}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

const percent = (ratio) => (typeof ratio === 'number' ? `${(ratio * 100).toFixed(1)}%` : 'n/a');

/** Escapes for a workflow command's message (GitHub's `escapeData`). */
const escapeData = (s) =>
  String(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
/** Escapes for a workflow command's property (GitHub's `escapeProperty`). */
const escapeProperty = (s) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
/** A Markdown table cell: no pipe or line break may end it early. */
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** Generated tests that still failed after the repairs (the batch's own lane). */
function failingTests(summary) {
  return (summary.quality?.tests ?? []).filter(
    (t) => t.lane === 'primary' && t.verdicts.at(-1) !== 'passed',
  );
}

/** `::error file=...` lines: each failed file, each test left failing (at its source). */
export function annotations(summary) {
  const lines = [];
  for (const f of summary.failures ?? [])
    lines.push(
      `::error file=${escapeProperty(f.path)},title=${escapeProperty(`warmbatch: ${f.state} (${f.code})`)}::${escapeData(f.reason)}`,
    );
  for (const t of failingTests(summary)) {
    const why = t.notRepaired
      ? `not repaired: ${t.notRepaired.reason}`
      : `verdicts ${t.verdicts.join(' -> ')}`;
    lines.push(
      `::error file=${escapeProperty(t.path)},title=${escapeProperty('warmbatch: generated test still fails')}::${escapeData(`${t.testPath}: ${why}`)}`,
    );
  }
  return lines;
}

/** The step summary, in GitHub-flavoured Markdown. */
export function stepSummary(summary) {
  const c = summary.counters ?? {};
  const q = summary.quality;
  const rows = [
    ['batch', `\`${summary.batchId}\` (${summary.team}/${summary.project}, ${summary.kind})`],
    ['jobs', summary.total],
    ['succeeded', c.succeeded ?? 0],
    ['reused', c.reused ?? 0],
    ['failed', (summary.failures ?? []).length],
    ['cost', `$${usdOf(summary.costNanoUsd ?? 0)}`],
    ['cache hit', percent(summary.cacheHitRatio)],
  ];
  if (q && q.testsValidated > 0)
    rows.push(
      ['tests validated', q.testsValidated],
      [
        'pass rate',
        `${percent(q.passRate)} (${q.testsPassed} passed, first try ${q.testsPassedFirst})`,
      ],
      [
        'cost per passing test',
        q.costPerPassingTestNanoUsd === null ? 'n/a' : `$${usdOf(q.costPerPassingTestNanoUsd)}`,
      ],
    );
  const md = [
    '### warmbatch',
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`),
    '',
  ];
  const failed = summary.failures ?? [];
  const failing = failingTests(summary);
  if (failed.length + failing.length > 0) {
    md.push('| file | what | why |', '|---|---|---|');
    for (const f of failed) md.push(`| ${cell(f.path)} | ${cell(f.state)} | ${cell(f.reason)} |`);
    for (const t of failing)
      md.push(
        `| ${cell(t.path)} | test still fails | ${cell(t.notRepaired ? `not repaired: ${t.notRepaired.reason}` : t.verdicts.join(' -> '))} |`,
      );
    md.push('');
  }
  return `${md.join('\n')}\n`;
}

/** Appends `name=value` outputs to $GITHUB_OUTPUT, with a delimiter where a value has lines. */
export function outputLines(outputs) {
  return Object.entries(outputs)
    .map(([name, value]) => {
      const text = String(value);
      if (!/[\r\n]/.test(text)) return `${name}=${text}\n`;
      const delimiter = `ghadelimiter_${randomBytes(8).toString('hex')}`;
      return `${name}<<${delimiter}\n${text}\n${delimiter}\n`;
    })
    .join('');
}

/** Runs the command with the step's inputs and reports; resolves to the exit code. */
export async function main(env = process.env, out = process.stdout) {
  const bin = env.WARMBATCH_BIN || 'warmbatch';
  let args;
  try {
    args = submitArgs(inputsOf(env));
  } catch (err) {
    out.write(`::error title=warmbatch::${escapeData(err.message)}\n`);
    return 2;
  }
  // A JavaScript entry runs with this Node; anything else (a bin on PATH) runs as it is.
  const [command, argv] = bin.endsWith('.js') ? [process.execPath, [bin, ...args]] : [bin, args];
  // An empty `config` input means "find it": the command's own search, not an empty path.
  const childEnv = { ...env };
  if (!childEnv.WARMBATCH_CONFIG) delete childEnv.WARMBATCH_CONFIG;
  const child = spawn(command, argv, { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const code = await new Promise((resolve) => {
    child.on('error', (err) => {
      out.write(`::error title=warmbatch::${escapeData(`cannot run ${bin}: ${err.message}`)}\n`);
      resolve(1);
    });
    child.on('close', (status) => resolve(status ?? 1));
  });
  let summary;
  try {
    summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    // No summary: the command failed before the batch ended; its message is on stderr.
  }
  if (!summary?.batchId || summary.counters === undefined) {
    if (summary?.batchId && env.GITHUB_OUTPUT)
      appendFileSync(env.GITHUB_OUTPUT, outputLines({ 'batch-id': summary.batchId }));
    return code;
  }
  for (const line of annotations(summary)) out.write(`${line}\n`);
  if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, stepSummary(summary));
  if (env.GITHUB_OUTPUT)
    appendFileSync(
      env.GITHUB_OUTPUT,
      outputLines({
        'batch-id': summary.batchId,
        'cost-usd': usdOf(summary.costNanoUsd ?? 0),
        failed: (summary.failures ?? []).length + failingTests(summary).length,
      }),
    );
  return code;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
