/** What every mix of the chaos campaign runs on (run-mix.ts runs them; outage.ts reads them). */
import type { ChildProcess } from 'node:child_process';
import type { LocalPipeline } from '../../local/pipeline';
import type { SimHandle } from '../../local/sim/server';
import type { LlmClient } from '../../shared/llm/client';
import type { FallbackHost } from './fallback-host';

/** What a mix runs on: the pipeline, its providers, and how to start a worker process. */
export interface MixContext {
  pipeline: LocalPipeline;
  sim: SimHandle;
  realLlm: LlmClient;
  /** The restricted endpoint's own simulator and the public fallback (in-process pipeline). */
  restricted?: SimHandle;
  fallback?: FallbackHost;
  timeScale: number;
  startWorker: () => Promise<ChildProcess>;
}
