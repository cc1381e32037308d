/**
 * Faults the in-memory pipeline can be given, kept apart from its stores and queues: sends that
 * fail, and an invocation that dies (its step never returns, as a Lambda that ran out of time or
 * memory; nothing after the step runs, and SQS gives its message back later).
 */
import type { QueueSender } from '../../../shared/ports/queue';

export interface FailingSends {
  /** Makes the next `times` sends to a queue whose URL contains `queue` fail. */
  failSends(queue: string, times: number): void;
  /** Sends that `failSends` refused since the last reset. */
  failedSends(): number;
  reset(): void;
  /** `inner` with the scripted failures in front of its sends. */
  wrap(inner: QueueSender): QueueSender;
}

export function failingSends(): FailingSends {
  const failing = new Map<string, number>();
  let refused = 0;
  return {
    failSends: (queue, times) => {
      failing.set(queue, times);
    },
    failedSends: () => refused,
    reset() {
      failing.clear();
      refused = 0;
    },
    wrap: (inner) => ({
      ...inner,
      send: async (url, messages) => {
        for (const [queue, left] of failing)
          if (left > 0 && url.includes(queue)) {
            failing.set(queue, left - 1);
            refused++;
            throw new Error(`scripted send failure to ${queue}`);
          }
        return inner.send(url, messages);
      },
    }),
  };
}

/** Deaths of work deliveries: `die()` inside a step ends the delivery that runs it. */
export interface Deaths {
  /** Never resolves; the delivery running the caller is taken as dead from now on. */
  die(): Promise<never>;
  /** Resolves with 'died' once `die()` is called during this delivery. */
  during<T>(delivery: Promise<T>): Promise<T | 'died'>;
  /** Deliveries that died since the last reset. */
  count(): number;
  reset(): void;
}

export function deaths(): Deaths {
  let kill: (() => void) | undefined;
  let died = 0;
  return {
    die() {
      died++;
      kill?.();
      return new Promise<never>(() => {});
    },
    async during(delivery) {
      const killed = new Promise<'died'>((resolve) => {
        kill = () => resolve('died');
      });
      try {
        return await Promise.race([delivery, killed]);
      } finally {
        kill = undefined;
      }
    },
    count: () => died,
    reset() {
      died = 0;
      kill = undefined;
    },
  };
}
