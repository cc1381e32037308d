import { Presets, SingleBar } from 'cli-progress';
import type { BatchItem } from '../../shared/ports/jobs';
import type { CliIo } from './context';
import { cacheHitRatio, formatRatio, usd } from './money';

/** Something that counts up to a total; silent when stderr is not a terminal. */
export interface Progress {
  start(total: number): void;
  increment(): void;
  stop(): void;
}

/** An upload progress bar on stderr, only on a TTY (CI logs get no redraw noise). */
export function uploadProgress(io: CliIo, label: string): Progress {
  if (!io.stderr.isTTY) return { start() {}, increment() {}, stop() {} };
  const bar = new SingleBar(
    {
      stream: io.stderr as NodeJS.WriteStream,
      format: `${label} [{bar}] {value}/{total}`,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  return {
    start: (total) => bar.start(total, 0),
    increment: () => bar.increment(),
    stop: () => bar.stop(),
  };
}

/** One line describing a running batch: ended, failed, cost so far and cache hit ratio. */
export function progressLine(batch: BatchItem): string {
  const c = batch.counters;
  const failed = c.failed + c.skipped_budget + c.cancelled + c.expired;
  return `${batch.ended}/${batch.total} done, ${failed} failed, cost ${usd(batch.totals.costNanoUsd)}, cache hit ${formatRatio(cacheHitRatio(batch.totals.hitTokens, batch.totals.missTokens))}`;
}

/**
 * Live progress of `--wait`: a redrawn bar on a TTY, otherwise one stderr line whenever the
 * counts change, which reads well in CI logs.
 */
export function batchProgress(io: CliIo): { update(batch: BatchItem): void; stop(): void } {
  if (io.stderr.isTTY) {
    const bar = new SingleBar(
      {
        stream: io.stderr as NodeJS.WriteStream,
        format: 'batch [{bar}] {line}',
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(batch) {
        if (!started) bar.start(Math.max(batch.total, 1), 0, { line: '' });
        started = true;
        bar.setTotal(Math.max(batch.total, 1));
        bar.update(batch.ended, { line: progressLine(batch) });
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = '';
  return {
    update(batch) {
      const line = progressLine(batch);
      if (line !== last) io.stderr.write(`${line}\n`);
      last = line;
    },
    stop() {},
  };
}
