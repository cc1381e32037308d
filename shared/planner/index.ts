/** The planner: jobs -> prefix groups -> ordered, size-bounded work messages with warm-up steps. */
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
