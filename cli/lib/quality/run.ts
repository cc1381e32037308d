/**
 * Running a validation command for one generated file: a shell command line with `{file}` and
 * `{source}` replaced by shell-quoted paths, run in the user's repository, killed (with its
 * whole process group) when it outlives its timeout. Its output is captured, bounded, and kept
 * out of every log: it goes to the model (a repair request) and to the user's files only.
 */
import { spawn } from 'node:child_process';
import type { Verdict } from '../../../shared/quality/verdicts';

/** Most bytes of a run's output kept. */
const MAX_OUTPUT_BYTES = 64 * 1024;

/** Single-quotes a path for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The command line with `{file}` and `{source}` replaced by the quoted paths. */
export function substitute(command: string, values: { file: string; source: string }): string {
  return command
    .replaceAll('{file}', shellQuote(values.file))
    .replaceAll('{source}', shellQuote(values.source));
}

/** How one run ended. */
export interface RunResult {
  exitCode: number | null;
  timedOut: boolean;
  /** stdout and stderr interleaved, at most MAX_OUTPUT_BYTES. */
  output: string;
}

/** Runs a shell command line in `cwd`, killing its process group after `timeoutMs`. */
export function runCommand(
  line: string,
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(line, {
      cwd: options.cwd,
      shell: true,
      // Its own process group, so a timeout ends the test runner's workers too.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env, CI: 'true', FORCE_COLOR: '0', NO_COLOR: '1' },
    });
    const chunks: Buffer[] = [];
    let size = 0;
    const keep = (chunk: Buffer) => {
      if (size >= MAX_OUTPUT_BYTES) return;
      chunks.push(chunk.subarray(0, MAX_OUTPUT_BYTES - size));
      size += chunk.length;
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let timedOut = false;
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, timedOut, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

/** The verdict of one file from its runs: all must pass; some passing and some not is flaky. */
export function verdictOf(runs: readonly RunResult[]): Verdict {
  const passed = runs.filter((r) => !r.timedOut && r.exitCode === 0).length;
  if (passed === runs.length) return 'passed';
  if (passed > 0) return 'flaky';
  return runs.some((r) => r.timedOut) ? 'timed_out' : 'failed';
}

/** A file's verdict and the output of its first run that did not pass. */
export interface FileVerdict {
  verdict: Verdict;
  output: string;
}

/**
 * Runs the validation command `runs` times for one file (stopping at the first failure when it
 * cannot be flaky any more: a first run that fails with nothing passed before is `failed`).
 */
export async function validateFile(
  command: string,
  paths: { file: string; source: string },
  options: { cwd: string; timeoutMs: number; runs: number },
): Promise<FileVerdict> {
  const results: RunResult[] = [];
  for (let i = 0; i < options.runs; i++) {
    const r = await runCommand(substitute(command, paths), options);
    results.push(r);
    // Nothing passed yet and this one did not: more runs cannot make it pass reliably.
    if (i === 0 && (r.timedOut || r.exitCode !== 0)) break;
  }
  const verdict = verdictOf(results);
  const bad = results.find((r) => r.timedOut || r.exitCode !== 0);
  const output = bad
    ? `${bad.timedOut ? `(killed after ${options.timeoutMs} ms)\n` : ''}${bad.output}`
    : '';
  return { verdict, output };
}
