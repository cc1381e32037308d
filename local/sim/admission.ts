/**
 * How many requests the simulator processes at once: past `concurrencyLimit` a request is
 * refused with 429 and Retry-After, or held open with keep-alives until a slot frees, as
 * DeepSeek does under load.
 */
import { type Hold, HttpError } from './http';
import type { SimOptions } from './options';

export class Admission {
  private inFlight = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(
    /** Read at each admission: `configure` may change the limit, overload mode and time scale. */
    private readonly opts: SimOptions,
    private readonly shutdown: AbortSignal,
  ) {}

  /** Requests being processed now. */
  count(): number {
    return this.inFlight;
  }

  /** Takes a slot, waiting for one (held) or refusing (429) when all are taken. */
  async admit(hold: Hold): Promise<void> {
    if (this.inFlight < this.opts.concurrencyLimit) {
      this.inFlight++;
      return;
    }
    if (this.opts.overload === 'reject') {
      const retryAfter = Math.max(1, Math.ceil((this.opts.ttftMs * this.opts.timeScale) / 1000));
      throw new HttpError(
        429,
        'Rate Limit Reached: too many concurrent requests',
        'rate_limit_error',
        { 'retry-after': String(retryAfter) },
      );
    }
    hold.start();
    // The slot is taken by release() on our behalf before we are woken.
    await new Promise<void>((resolve, reject) => {
      const onShutdown = () => reject(this.shutdown.reason);
      this.shutdown.addEventListener('abort', onShutdown, { once: true });
      this.waiters.push(() => {
        this.shutdown.removeEventListener('abort', onShutdown);
        resolve();
      });
    });
  }

  /** Gives a slot back, to the oldest held request if any. */
  release(): void {
    this.inFlight--;
    this.wake();
  }

  /** Hands free slots to held requests, oldest first (also after the limit was raised). */
  wake(): void {
    while (this.waiters.length > 0 && this.inFlight < this.opts.concurrencyLimit) {
      this.inFlight++;
      this.waiters.shift()?.();
    }
  }
}
