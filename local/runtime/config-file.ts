import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  isAlive,
  type LocalConfig,
  localConfigSchema,
  readLocalConfig as readConfigAt,
} from '../../shared/local-config';

export { isAlive, type LocalConfig };

/** `.local/warmbatch.json` at the repo root: where the CLI looks for a running local runtime. */
export const DEFAULT_CONFIG_PATH = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../.local/warmbatch.json',
);

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

/**
 * Reads the config of a running local runtime (shared/local-config.ts); undefined when none is
 * running.
 */
export function readLocalConfig(
  path: string = DEFAULT_CONFIG_PATH,
): Promise<LocalConfig | undefined> {
  return readConfigAt(path);
}

/** Removes the config; no error when it is already gone. */
export async function removeLocalConfig(path: string = DEFAULT_CONFIG_PATH): Promise<void> {
  await rm(path, { force: true });
}

/** What the start of a local runtime cleaned up after a run that was killed. */
export interface StaleCleanup {
  /** The config file left by the dead run, and that run's pid. */
  config?: { path: string; pid: number };
  /** The dead run's DynamoDB Local JVM, killed here. */
  dynamodbPid?: number;
}

/** How long a killed JVM may take to be gone (the kernel frees its port as it goes). */
const JVM_EXIT_WAIT_MS = 5_000;

/** Whether a pid runs DynamoDB Local (Linux `/proc`); false when that cannot be told. */
async function isDynamoLocal(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes('DynamoDBLocal');
  } catch {
    return false;
  }
}

/**
 * Cleans up after a local runtime that died without cleaning up (`kill -9`): when the config
 * file at `path` names a process that no longer exists, its DynamoDB Local JVM is killed if it
 * still runs (and is still DynamoDB Local: a pid can be reused), and the file is removed. A
 * config of a live runtime, or a file that is not a config, is left alone.
 */
export async function cleanStaleRuntime(path: string = DEFAULT_CONFIG_PATH): Promise<StaleCleanup> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return {};
  }
  const parsed = localConfigSchema.safeParse(raw);
  if (!parsed.success || isAlive(parsed.data.pid)) return {};
  const { pid, dynamodbPid } = parsed.data;
  const cleaned: StaleCleanup = { config: { path, pid } };
  if (dynamodbPid !== undefined && isAlive(dynamodbPid) && (await isDynamoLocal(dynamodbPid))) {
    process.kill(dynamodbPid, 'SIGKILL');
    cleaned.dynamodbPid = dynamodbPid;
    // Its port is free only once it is gone; the start that follows needs that port.
    for (let waited = 0; isAlive(dynamodbPid) && waited < JVM_EXIT_WAIT_MS; waited += 50)
      await sleep(50);
  }
  await removeLocalConfig(path);
  return cleaned;
}
