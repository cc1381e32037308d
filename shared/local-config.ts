/**
 * The file a running local runtime writes (`.local/warmbatch.json` in the repository) so that the
 * CLI finds its emulators: its format and how to read it. The local runtime writes it
 * (local/runtime/config-file.ts); the CLI only reads it, so the format lives here, between them.
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { ConfigurationError } from './configuration-error';

/** The emulators accept any credentials; these keep the AWS chain from being consulted. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

const queueNames = z.object({ intake: z.string(), work: z.string(), finalize: z.string() });

export const localConfigSchema = z.object({
  version: z.literal(1),
  pid: z.number().int(),
  /** The DynamoDB Local JVM the runtime started, so that a crashed run's can be found. */
  dynamodbPid: z.number().int().optional(),
  startedAt: z.string(),
  region: z.string(),
  endpoints: z.object({ s3: z.string(), sqs: z.string(), dynamodb: z.string() }),
  bucket: z.string(),
  tables: z.object({ jobs: z.string(), ledger: z.string() }),
  queueUrls: queueNames,
  dlqUrls: queueNames,
});

/** What a running local runtime tells the CLI about itself. */
export type LocalConfig = z.infer<typeof localConfigSchema>;

/** Whether a process exists (a zombie still does, until its parent reaps it). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Reads the config of a running local runtime; undefined when none is running: no file, or
 * a file left behind by a process that no longer exists (killed without cleanup).
 */
export async function readLocalConfig(path: string): Promise<LocalConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: z.ZodSafeParseResult<LocalConfig>;
  try {
    parsed = localConfigSchema.safeParse(JSON.parse(text));
  } catch (err) {
    throw new ConfigurationError(`${path} is not valid JSON`, { cause: err });
  }
  if (!parsed.success)
    throw new ConfigurationError(`${path} is not a local runtime config: ${parsed.error.message}`, {
      cause: parsed.error,
    });
  return isAlive(parsed.data.pid) ? parsed.data : undefined;
}
