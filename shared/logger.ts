import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One structured logger for the whole app. Log ids, token counts, costs and decisions;
 * never prompts, file contents or secrets. The level comes from POWERTOOLS_LOG_LEVEL
 * (Powertools reads it itself), INFO by default.
 */
export function createLogger(serviceName = 'warmbatch'): Logger {
  return new Logger({ serviceName });
}

export type { Logger };
