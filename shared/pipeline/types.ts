/** Dependencies the pipeline's domain functions take; built once per Lambda container (deps.ts). */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { JobsStore } from '../aws/jobs-store';
import type { LedgerStore } from '../aws/ledger-store';
import type { ObjectStore } from '../aws/object-store';
import type { QueueSender } from '../aws/queue';
import type { Clock } from '../clock';
import type { LlmClient } from '../llm/client';
import type { Logger } from '../logger';
import type { PipelineSettings } from './settings';

export type WorkGroupBy = 'batch-prefix' | 'prefix';

export interface QueueUrls {
  work: string;
  finalize: string;
  /** Where deferred batches are re-sent; without it, off-peak deferral is off. */
  intake?: string;
}

/** What every handler's domain needs. */
export interface PipelineDeps {
  objects: ObjectStore;
  queues: QueueSender;
  queueUrls: QueueUrls;
  jobs: JobsStore;
  ledger: LedgerStore;
  settings: PipelineSettings;
  clock: Clock;
  logger?: Logger;
  metrics?: Metrics;
}

/** The worker also calls the LLM. */
export interface WorkerDeps extends PipelineDeps {
  llm: LlmClient;
}
