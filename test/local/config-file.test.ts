import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type LocalConfig,
  LocalConfigError,
  readLocalConfig,
  removeLocalConfig,
  writeLocalConfig,
} from '../../local/runtime/config-file';

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
  join(await mkdtemp(join(tmpdir(), 'warmbatch-config-')), 'nested', 'warmbatch.json');

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
    await expect(reading).rejects.toBeInstanceOf(LocalConfigError);
    await expect(reading).rejects.toThrow(path);
  });
});
