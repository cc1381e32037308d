/**
 * The quality loop's flags, shared by `submit` and `validate`.
 */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { integer, positive } from '../args';
import { UsageError } from '../exit';
import { QUALITY_DEFAULTS } from './index';
import type { QualityOptions } from './loop';

export interface QualityFlags {
  validate?: string;
  runs: number;
  validateTimeout: number;
  validateConcurrency: number;
  repairRounds: number;
  quarantine?: string;
  coverage?: string;
  coverageReport: string;
  keepIf: 'passes' | 'adds-coverage';
  failOnFailingTests?: boolean;
}

/** Generated tests of the batch's own lane that still did not pass after the repairs. */
export function failingTests(section: { tests: { lane: string; verdicts: string[] }[] }): number {
  return section.tests.filter((t) => t.lane === 'primary' && t.verdicts.at(-1) !== 'passed').length;
}

/** Adds the loop's flags to a command. */
export function withQualityOptions(command: Command): Command {
  return command
    .option(
      '--validate <command>',
      "run this shell command for each generated test after download, in the cwd; {file} is the test, {source} its source file (e.g. 'npx vitest run {file}')",
    )
    .option(
      '--runs <n>',
      'runs per test: a test must pass every run (else flaky)',
      integer(1, 100),
      QUALITY_DEFAULTS.runs,
    )
    .option(
      '--validate-timeout <seconds>',
      'per-file time limit of one run; the run (and its children) is killed after it',
      positive,
      QUALITY_DEFAULTS.timeoutMs / 1000,
    )
    .option(
      '--validate-concurrency <n>',
      'files validated at once',
      integer(1, 64),
      QUALITY_DEFAULTS.concurrency,
    )
    .option(
      '--repair-rounds <k>',
      'follow-up requests per failing test, each with the failure output (0: no repair)',
      integer(0, 10),
      QUALITY_DEFAULTS.repairRounds,
    )
    .option(
      '--quarantine <dir>',
      'move tests that do not pass here, each with <test>.failure.txt (default: remove them)',
    )
    .option(
      '--coverage <command>',
      "shell command running the test suite with coverage, writing an istanbul json-summary or lcov report (e.g. 'npx vitest run --coverage.enabled --coverage.reporter=json-summary')",
    )
    .option(
      '--coverage-report <file>',
      'the report --coverage writes, relative to the cwd',
      QUALITY_DEFAULTS.coverageReport,
    )
    .option(
      '--fail-on-failing-tests',
      "exit 7 when a generated test still fails after the repairs (for CI; by default failing tests are listed and moved out, and the exit code is the batch's)",
    )
    .addOption(
      new Option(
        '--keep-if <filter>',
        'keep a passing test only if it passes, or also adds coverage to its source',
      )
        .choices(['passes', 'adds-coverage'])
        .default(QUALITY_DEFAULTS.keepIf),
    );
}

/** The loop's options from its flags; paths resolved against the cwd. */
export function qualityOptionsOf(flags: QualityFlags, cwd: string): QualityOptions {
  if (flags.keepIf === 'adds-coverage' && flags.coverage === undefined)
    throw new UsageError('--keep-if adds-coverage needs --coverage <command>');
  if (
    (flags.coverage !== undefined ||
      flags.quarantine !== undefined ||
      flags.failOnFailingTests === true) &&
    flags.validate === undefined
  )
    throw new UsageError(
      '--coverage, --quarantine and --fail-on-failing-tests act on validated tests: add --validate <command>',
    );
  return {
    ...(flags.validate !== undefined ? { validate: flags.validate } : {}),
    runs: flags.runs,
    timeoutMs: Math.round(flags.validateTimeout * 1000),
    concurrency: flags.validateConcurrency,
    repairRounds: flags.repairRounds,
    ...(flags.quarantine !== undefined ? { quarantine: resolve(cwd, flags.quarantine) } : {}),
    ...(flags.coverage !== undefined ? { coverage: flags.coverage } : {}),
    coverageReport: flags.coverageReport,
    keepIf: flags.keepIf,
  };
}
