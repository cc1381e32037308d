import { Logger } from '@aws-lambda-powertools/logger';
import { vi } from 'vitest';

/**
 * A real app logger whose output is captured, so tests can assert on exactly what would reach
 * CloudWatch. Call `restore()` when done.
 */
export function captureLogger() {
  const output: string[] = [];
  const collect = (chunk: unknown) => {
    output.push(String(chunk));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(collect);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(collect);
  const logger = new Logger({ serviceName: 'warmbatch-test', logLevel: 'DEBUG' });
  return {
    logger,
    text: () => output.join(''),
    records: () =>
      output
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}
