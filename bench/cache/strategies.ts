/**
 * The strategies and cache models the cache benchmark compares, apart from the benchmark itself
 * so that the CLI can list them in `--help` without loading the simulator and the LLM client.
 */
import type { CacheModel } from '../../local/sim/cache';

export const STRATEGIES = ['naive', 'first-job', 'prefix-probe', 'default'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const CACHE_MODELS: readonly CacheModel[] = ['units64', 'persisted-units'];
