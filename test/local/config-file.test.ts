import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cleanStaleRuntime,
  isAlive,
  type LocalConfig,
  readLocalConfig,
  removeLocalConfig,
  writeLocalConfig,
} from '../../local/runtime/config-file';
import { ConfigurationError } from '../../shared/configuration-error';
import { testTempDir } from '../support/temp';

const aConfig = (overrides: Partial<LocalConfig> = {}): LocalConfig => ({
  version: 1,
  pid: process.pid,
  startedAt: '2026-11-02T10:00:00.000Z',
  region: 'us-east-1',
  endpoints: {
    s3: 'http://127.0.0.1:4566',
    sqs: 'http://127.0.0.1:4566',
    dynamodb: 'http://127.0.0.1:8000',
  },
  bucket: 'warmbatch-local',
  tables: { jobs: 'warmbatch-jobs', ledger: 'warmbatch-ledger' },
  queueUrls: {
    intake: 'http://q/intake',
    work: 'http://q/work.fifo',
    finalize: 'http://q/finalize',
  },
  dlqUrls: {
    intake: 'http://q/intake-dlq',
    work: 'http://q/work-dlq.fifo',
    finalize: 'http://q/finalize-dlq',
  },
  ...overrides,
});

const tempPath = async () =>
  join(await testTempDir('warmbatch-config-'), 'nested', 'warmbatch.json');

describe('local runtime config file', () => {
  it('reads back what a running runtime wrote', async () => {
    // Prepare
    const path = await tempPath();
    const config = aConfig();

    // Act
    await writeLocalConfig(config, path);

    // Assess
    expect(await readLocalConfig(path)).toEqual(config);
  });

  it('reports no runtime once the file is removed', async () => {
    // Prepare
    const path = await tempPath();
    await writeLocalConfig(aConfig(), path);

    // Act
    await removeLocalConfig(path);
    await removeLocalConfig(path);

    // Assess
    expect(await readLocalConfig(path)).toBeUndefined();
  });

  it('ignores a file left behind by a process that no longer exists', async () => {
    // Prepare: pids are far below 2^22 on Linux, so this one cannot be running
    const path = await tempPath();
    await writeLocalConfig(aConfig({ pid: 2 ** 22 + 1 }), path);

    // Act
    const found = await readLocalConfig(path);

    // Assess
    expect(found).toBeUndefined();
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(2 ** 22 + 1);
  });

  it('rejects a file that is not a runtime config, naming the file', async () => {
    // Prepare
    const path = await tempPath();
    await writeLocalConfig(aConfig(), path);
    await writeFile(path, JSON.stringify({ version: 2 }));

    // Act
    const reading = readLocalConfig(path);

    // Assess
    await expect(reading).rejects.toBeInstanceOf(ConfigurationError);
    await expect(reading).rejects.toThrow(path);
  });
});

describe('cleaning up after a killed local runtime', () => {
  /** A pid that cannot be running: Linux pids stay below 2^22. */
  const DEAD_PID = 2 ** 22 + 1;
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  /** A process that idles with `marker` in its command line, as a JVM has its jar. */
  const idle = (marker: string): number => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', marker], {
      stdio: 'ignore',
    });
    children.push(child);
    if (child.pid === undefined) throw new Error('no pid');
    return child.pid;
  };

  it('kills the DynamoDB Local a dead run left behind and removes its config', async () => {
    // Prepare
    const path = await tempPath();
    const orphan = idle('DynamoDBLocal.jar');
    await writeLocalConfig(aConfig({ pid: DEAD_PID, dynamodbPid: orphan }), path);

    // Act
    const cleaned = await cleanStaleRuntime(path);

    // Assess
    expect(cleaned).toEqual({ config: { path, pid: DEAD_PID }, dynamodbPid: orphan });
    await expect.poll(() => isAlive(orphan)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });

  it('leaves a process alone whose pid was reused by something else', async () => {
    // Prepare
    const path = await tempPath();
    const other = idle('not-a-database');
    await writeLocalConfig(aConfig({ pid: DEAD_PID, dynamodbPid: other }), path);

    // Act
    const cleaned = await cleanStaleRuntime(path);

    // Assess
    expect(cleaned).toEqual({ config: { path, pid: DEAD_PID } });
    expect(isAlive(other)).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it('leaves the config of a runtime that is still running, and any file that is not one', async () => {
    // Prepare
    const live = await tempPath();
    await writeLocalConfig(aConfig({ dynamodbPid: idle('DynamoDBLocal.jar') }), live);
    const foreign = await tempPath();
    await writeLocalConfig(aConfig(), foreign);
    await writeFile(foreign, 'not json');

    // Act
    const cleaned = [await cleanStaleRuntime(live), await cleanStaleRuntime(foreign)];

    // Assess
    expect(cleaned).toEqual([{}, {}]);
    expect(await readLocalConfig(live)).toMatchObject({ pid: process.pid });
    expect(await readFile(foreign, 'utf8')).toBe('not json');
  });
});
