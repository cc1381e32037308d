import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';

/** `.local/warmbatch.json` at the repo root: where the CLI looks for a running local runtime. */
export const DEFAULT_CONFIG_PATH = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../.local/warmbatch.json',
);

const queueNames = z.object({ intake: z.string(), work: z.string(), finalize: z.string() });

const localConfigSchema = z.object({
  version: z.literal(1),
  pid: z.number().int(),
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

/** The file exists but is not a config this version understands. */
export class LocalConfigError extends Error {
  override name = 'LocalConfigError';
}

/** Writes the config atomically (temp file, then rename) so a reader never sees half a file. */
export async function writeLocalConfig(
  config: LocalConfig,
  path: string = DEFAULT_CONFIG_PATH,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`);
  await rename(temp, path);
}

const isAlive = (pid: number): boolean => {
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
export async function readLocalConfig(
  path: string = DEFAULT_CONFIG_PATH,
): Promise<LocalConfig | undefined> {
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
    throw new LocalConfigError(`${path} is not valid JSON`, { cause: err });
  }
  if (!parsed.success)
    throw new LocalConfigError(`${path} is not a local runtime config: ${parsed.error.message}`, {
      cause: parsed.error,
    });
  return isAlive(parsed.data.pid) ? parsed.data : undefined;
}

/** Removes the config; no error when it is already gone. */
export async function removeLocalConfig(path: string = DEFAULT_CONFIG_PATH): Promise<void> {
  await rm(path, { force: true });
}
