import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_CONFIG_MESSAGE, resolveConfig } from '../../cli/config';
import { UsageError } from '../../cli/lib/exit';
import { projectDir } from './support';

function cdkOutputs(bucket: string, region = 'eu-west-1') {
  return JSON.stringify({
    WarmbatchStack: {
      BucketName: bucket,
      JobsTableName: 'jobs-physical',
      LedgerTableName: 'ledger-physical',
      Region: region,
    },
  });
}

function localConfig(bucket: string, pid = process.pid) {
  return JSON.stringify({
    version: 1,
    pid,
    startedAt: '2026-11-28T12:00:00Z',
    region: 'us-east-1',
    endpoints: {
      s3: 'http://127.0.0.1:4566',
      sqs: 'http://127.0.0.1:4566',
      dynamodb: 'http://127.0.0.1:8000',
    },
    bucket,
    tables: { jobs: 'warmbatch-jobs', ledger: 'warmbatch-ledger' },
    queueUrls: { intake: 'i', work: 'w', finalize: 'f' },
    dlqUrls: { intake: 'i', work: 'w', finalize: 'f' },
  });
}

describe('configuration', () => {
  it('prefers --config over WARMBATCH_CONFIG, the local runtime and cdk-outputs.json', async () => {
    // Prepare
    const dir = await projectDir({
      'flag.json': cdkOutputs('from-flag'),
      'env.json': cdkOutputs('from-env'),
      'local.json': localConfig('from-local'),
      'cdk-outputs.json': cdkOutputs('from-outputs'),
    });
    const local = join(dir, 'local.json');

    // Act
    const all = await Promise.all([
      resolveConfig(
        { config: 'flag.json' },
        { cwd: dir, env: { WARMBATCH_CONFIG: 'env.json' }, localConfigPath: local },
      ),
      resolveConfig(
        {},
        { cwd: dir, env: { WARMBATCH_CONFIG: 'env.json' }, localConfigPath: local },
      ),
      resolveConfig({}, { cwd: dir, env: {}, localConfigPath: local }),
      resolveConfig({}, { cwd: dir, env: {}, localConfigPath: join(dir, 'none.json') }),
    ]);

    // Assess
    expect(all.map((c) => c.bucket)).toEqual([
      'from-flag',
      'from-env',
      'from-local',
      'from-outputs',
    ]);
    expect(all[2]).toMatchObject({ local: true, endpoints: { dynamodb: 'http://127.0.0.1:8000' } });
    expect(all[3]).toMatchObject({ local: false, region: 'eu-west-1', jobsTable: 'jobs-physical' });
  });

  it('ignores a local runtime config left behind by a dead process', async () => {
    const dir = await projectDir({
      'local.json': localConfig('stale', 2 ** 22 + 12_345),
      'cdk-outputs.json': cdkOutputs('deployed'),
    });

    const config = await resolveConfig(
      {},
      { cwd: dir, env: {}, localConfigPath: join(dir, 'local.json') },
    );

    expect(config.bucket).toBe('deployed');
  });

  it('applies --region, --profile and --endpoint-url over the file', async () => {
    const dir = await projectDir({ 'cdk-outputs.json': cdkOutputs('b') });

    const config = await resolveConfig(
      { region: 'ap-south-1', profile: 'ci', endpointUrl: 'http://localhost:9999' },
      { cwd: dir, env: {}, localConfigPath: join(dir, 'none.json') },
    );

    expect(config).toMatchObject({
      region: 'ap-south-1',
      profile: 'ci',
      endpoints: { s3: 'http://localhost:9999', dynamodb: 'http://localhost:9999' },
    });
  });

  it('fails in one actionable line when nothing is configured', async () => {
    const dir = await projectDir({});

    const attempt = resolveConfig(
      {},
      { cwd: dir, env: {}, localConfigPath: join(dir, 'none.json') },
    );

    await expect(attempt).rejects.toThrow(UsageError);
    await expect(attempt).rejects.toThrow(NO_CONFIG_MESSAGE);
    expect(NO_CONFIG_MESSAGE).not.toContain('\n');
  });

  it('names the file when --config points nowhere or holds no stack outputs', async () => {
    const dir = await projectDir({ 'other.json': '{"SomeStack":{"Foo":"bar"}}', 'bad.json': '{' });
    const sources = { cwd: dir, env: {}, localConfigPath: join(dir, 'none.json') };

    await expect(resolveConfig({ config: 'missing.json' }, sources)).rejects.toThrow(
      /missing\.json \(from --config\) does not exist/,
    );
    await expect(resolveConfig({ config: 'other.json' }, sources)).rejects.toThrow(
      /has no WarmbatchStack outputs/,
    );
    await expect(resolveConfig({ config: 'bad.json' }, sources)).rejects.toThrow(/not valid JSON/);
  });
});
