/**
 * The quality loop's own types, apart from the loop: the batch report renders test records
 * without depending on the loop that makes them (which itself waits on batches).
 */
import type { Clock } from '../../../shared/clock';
import type { JobItem } from '../../../shared/ports/jobs';
import type { Verdict } from '../../../shared/quality/verdicts';
import type { Services } from '../../config';
import type { CliIo } from '../context';

/** How to validate: the command, its runs and limits, the repair rounds and where failures go. */
export interface QualityOptions {
  /** Shell command line with `{file}` and `{source}`; absent: no test is run. */
  validate?: string;
  runs: number;
  timeoutMs: number;
  concurrency: number;
  repairRounds: number;
  /** Where tests that do not pass go (with their output); absent: they are removed. */
  quarantine?: string;
  /** Coverage command and report (coverage.ts); absent: no coverage is measured. */
  coverage?: string;
  coverageReport: string;
  keepIf: 'passes' | 'adds-coverage';
}

/** What the loop needs of the CLI: stores, io, clock, and how to wait for a batch. */
export interface LoopContext {
  services: Services;
  io: CliIo;
  clock: Clock;
  sleep(ms: number): Promise<void>;
  pollMs: number;
  /** How long to wait for one repair (or shadow) batch. */
  waitMs: number;
}

/** One generated test and what happened to it, round by round. */
export interface TestRecord {
  /** The input path (the job's). */
  path: string;
  /** The test file, relative to the output folder. */
  testPath: string;
  lane: 'primary' | 'shadow';
  rounds: { batchId: string; verdict: Verdict; job: JobItem }[];
  /** The output of the last failing run; never printed or logged. */
  output: string;
  kept: boolean;
  coverage?: { before: number; after: number; total: number };
  /** Where the test went when it did not stay: its quarantine path, or `removed`. */
  movedTo?: string;
  why?: string;
  /** Why a repair round made no new answer for it (the file was refused, or its job failed). */
  notRepaired?: { code: string; reason: string };
}
