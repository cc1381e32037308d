export {
  CONTEXT_SEGMENT,
  type IntakeJobOptions,
  type IntakeObject,
  isKind,
  jobFromIntakeKey,
  parseIntakeKey,
  sortedKeys,
} from './dropped-keys';
export {
  type Job,
  jobIdFor,
  jsonlOutputKeyFor,
  ok,
  outputKeyFor,
  type Parsed,
  type Rejection,
  type RejectionCode,
  type Result,
  reject,
} from './jobs';
export { DEFAULT_MAX_JSONL_BYTES, type JsonlOptions, parseOpenAiBatchJsonl } from './jsonl';
export {
  BATCH_ID_PATTERN,
  batchContextKeyFor,
  batchFileKeyFor,
  batchPrefixFor,
  isManifestKey,
  jobsFromManifest,
  type Manifest,
  type ManifestJobOptions,
  type ManifestKey,
  ManifestSchema,
  manifestKeyFor,
  oldLayoutReason,
  type ParsedManifest,
  parseManifest,
  parseManifestKey,
} from './manifest';
export {
  type ContentOptions,
  checkContent,
  DEFAULT_MAX_FILE_BYTES,
  MAX_PATH_BYTES,
  NAME_PATTERN,
  validateName,
  validatePath,
} from './validate';
