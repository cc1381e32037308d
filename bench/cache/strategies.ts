/**
 * The strategies and cache models the cache benchmark compares, apart from the benchmark itself
 * so that the CLI can list them in `--help` without loading the simulator and the LLM client.
 */
import type { CacheModel } from '../../local/sim/cache';

/**
 * `naive` shuffles the jobs (a loop over files in no useful order); `naive-sorted` sends them in
 * path order, as a plain loop over a sorted glob does, so a group's jobs start together and miss
 * together.
 */
export const STRATEGIES = [
  'naive',
  'naive-sorted',
  'first-job',
  'prefix-probe',
  'default',
] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const CACHE_MODELS: readonly CacheModel[] = ['units64', 'persisted-units'];
