/** Dependencies the pipeline's domain functions take; built once per Lambda container (deps.ts). */

import type { Clock } from '../clock';
import type { LlmClient } from '../llm/client';
import type { JobsStore } from '../ports/jobs';
import type { LedgerStore } from '../ports/ledger';
import type { Logger } from '../ports/logger';
import type { Metrics } from '../ports/metrics';
import type { ObjectStore } from '../ports/objects';
import type { CacheProfileStore } from '../ports/profiles';
import type { QueueSender } from '../ports/queue';
import type { PriceSource } from './prices';
import type { PipelineSettings } from './settings';

export type WorkGroupBy = 'batch-prefix' | 'prefix';

export interface QueueUrls {
  work: string;
  finalize: string;
  /** Where deferred batches are re-sent; without it, off-peak deferral is off. */
  intake?: string;
  /**
   * The planning queue: shards of a batch too large for one planner invocation, and parts of a
   * drop split into several batches, each planned by an invocation of its own. Without it,
   * every batch is planned whole in the invocation that meets it.
   */
  plan?: string;
}

/** What every handler's domain needs. */
export interface PipelineDeps {
  objects: ObjectStore;
  queues: QueueSender;
  queueUrls: QueueUrls;
  jobs: JobsStore;
  ledger: LedgerStore;
  settings: PipelineSettings;
  /** The price catalog: built-in rows, the settings' and the bucket's price file. */
  prices: PriceSource;
  clock: Clock;
  logger?: Logger;
  metrics?: Metrics;
}

/** The worker also calls the LLM. */
export interface WorkerDeps extends PipelineDeps {
  llm: LlmClient;
  /** Where the measured cache profiles are kept between invocations (none: measured per call). */
  profiles?: CacheProfileStore;
}
