/**
 * The port of the provider's measured cache profiles (shared/executor/profile.ts learns them;
 * shared/aws/profiles.ts keeps them in the jobs table).
 */

/** The stored form of a profile. */
export interface CacheProfileData {
  /** `<endpoint>|<model>`: caches are per model, and endpoints differ. */
  key: string;
  /** Recent upper bounds of the construction delay, ms, oldest first. */
  readyWithinMs: number[];
  /** Jobs sent after the cache was seen serving the prefix: served, and missed. */
  warmServed: number;
  warmMissed: number;
  /** Check probes sent, and those that found the prefix not served. */
  probes: number;
  wastedProbes: number;
  /** Latency of a short (probe) request, ms: recent values, oldest first. */
  probeLatencyMs: number[];
  updatedAt: string;
  /** Where the figures came from first. */
  source: 'guess' | 'calibrate' | 'observed';
}

/** Where profiles are kept between invocations: DynamoDB in the stack, a file for the CLI. */
export interface CacheProfileStore {
  load(key: string): Promise<CacheProfileData | undefined>;
  save(profile: CacheProfileData): Promise<void>;
}
