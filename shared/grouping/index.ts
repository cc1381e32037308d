/**
 * Grouping and chunking: jobs -> prefix groups -> ordered, size-bounded work messages with
 * warm-up steps. Pure; the planner (shared/pipeline/plan/) calls it with the jobs it decided.
 */
export { compareGroups, compareJobs, groupJobs, type JobGroup } from './group';
export {
  DEFAULT_MAX_JOBS_PER_MESSAGE,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_WARMUP,
  InvalidPlanOptionsError,
  MESSAGE_HEADROOM_BYTES,
  planBatch,
  SQS_MAX_MESSAGE_BYTES,
} from './plan';
export * from './types';
