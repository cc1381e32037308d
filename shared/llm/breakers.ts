/**
 * The endpoints' breakers as the LLM client uses them: read the shared state, apply a pure
 * transition (shared/llm/breaker.ts), write it back only when it changed, conditionally, and
 * read again when another worker wrote first.
 */
import type { BreakerStore } from '../ports/breakers';
import type { Logger } from '../ports/logger';
import {
  type Admission,
  admit,
  afterCall,
  type BreakerConfig,
  type BreakerState,
  type CallOutcome,
  CLOSED_BREAKER,
  DEFAULT_BREAKER_CONFIG,
} from './breaker';

/** How often a conflicting write is tried again before the caller goes on without it. */
const WRITE_TRIES = 5;

export interface Breakers {
  /** Whether a call may go to `endpoint` now (taking the probe of a half-open breaker). */
  admit(endpoint: string): Promise<Admission>;
  /** Counts a call's outcome on `endpoint`'s breaker. */
  record(endpoint: string, outcome: CallOutcome): Promise<void>;
  /** The stored state (closed when none). */
  state(endpoint: string): Promise<BreakerState>;
}

export interface BreakersDeps {
  config?: Partial<BreakerConfig>;
  now?: () => number;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

/** Breakers over a store shared by every worker. */
export function createBreakers(store: BreakerStore, deps: BreakersDeps = {}): Breakers {
  const config = { ...DEFAULT_BREAKER_CONFIG, ...deps.config };
  const now = deps.now ?? Date.now;
  // The state this worker last read, per endpoint: a success on a breaker seen closed with no
  // failures changes nothing, so it costs no read (one read per call, not two).
  const lastSeen = new Map<string, BreakerState>();
  const read = async (endpoint: string) => {
    const state = (await store.get(endpoint)) ?? CLOSED_BREAKER;
    lastSeen.set(endpoint, state);
    return state;
  };

  /**
   * Applies `step` to the stored state until its write lands or nothing changes; undefined when
   * other workers kept writing first.
   */
  const update = async <T extends { next: BreakerState }>(
    endpoint: string,
    step: (state: BreakerState) => T,
  ): Promise<T | undefined> => {
    for (let i = 0; i < WRITE_TRIES; i++) {
      const state = await read(endpoint);
      const out = step(state);
      if (out.next === state) return out;
      const next = { ...out.next, version: state.version + 1 };
      if (await store.put(endpoint, next)) {
        if (next.status !== state.status)
          deps.logger?.info('circuit breaker changed', {
            endpoint,
            from: state.status,
            to: next.status,
            failures: next.failures,
          });
        lastSeen.set(endpoint, next);
        return { ...out, next };
      }
    }
    return undefined;
  };

  return {
    admit: async (endpoint) => {
      const out = await update(endpoint, (s) => admit(s, now(), config));
      // Lost every race for the state: someone else is changing it (taking the probe).
      return (
        out ?? { allow: false, retryAt: now() + config.probeLeaseMs, next: await read(endpoint) }
      );
    },
    record: async (endpoint, outcome) => {
      const seen = lastSeen.get(endpoint);
      if (outcome !== 'failure' && seen?.status === 'closed' && seen.failures === 0) return;
      await update(endpoint, (s) => ({ next: afterCall(s, outcome, now(), config) }));
    },
    state: read,
  };
}

/** The in-process store: the tests' fake, held to the same contract as the DynamoDB one. */
export function memoryBreakerStore(): BreakerStore & { states: Map<string, BreakerState> } {
  const states = new Map<string, BreakerState>();
  return {
    states,
    get: async (endpoint) => states.get(endpoint),
    put: async (endpoint, next) => {
      const stored = states.get(endpoint)?.version ?? 0;
      if (stored !== next.version - 1) return false;
      states.set(endpoint, next);
      return true;
    },
  };
}
