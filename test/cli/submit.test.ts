import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ciMetadata } from '../../cli/commands/submit';
import type { Services } from '../../cli/config';
import { runCli } from '../../cli/lib/run';
import { createJobsStore } from '../../shared/aws/jobs';
import { createLedgerStore } from '../../shared/aws/ledger-store';
import { createMemoryObjectStore } from '../../shared/aws/object-store';
import { fixedClock } from '../../shared/clock';
import { ManifestSchema } from '../../shared/inputs';
import { bufferIo, projectDir } from './support';

/** Services over an in-memory bucket that records the order of writes; no table is touched. */
function memoryServices() {
  const objects = createMemoryObjectStore();
  const order: string[] = [];
  const put = objects.put.bind(objects);
  objects.put = async (key, body, type) => {
    order.push(key);
    await put(key, body, type);
  };
  // Without --wait, submit never reads the tables; the client points nowhere on purpose.
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }),
  );
  const services: Services = {
    objects,
    jobs: createJobsStore({ ddb: doc, table: 'unused' }),
    ledger: createLedgerStore({ ddb: doc, ledgerTable: 'unused', jobsTable: 'unused' }),
    close() {},
  };
  return { services, objects, order };
}

async function submitIn(dir: string, env: Record<string, string>, ...args: string[]) {
  const io = bufferIo(dir, env);
  const memory = memoryServices();
  const code = await runCli(['submit', ...args], {
    io,
    clock: fixedClock('2026-11-28T12:00:00Z'),
    connect: async () => memory.services,
    sleep: async () => {},
    pollMs: 1,
  });
  return { code, io, ...memory };
}

describe('warmbatch submit', () => {
  it('uploads files and context under the batch, then writes the manifest last', async () => {
    // Prepare
    const dir = await projectDir({
      'src/a.ts': 'export const a = 1;\n',
      'src/lib/b.ts': 'export const b = 2;\n',
      'src/.hidden.ts': 'x',
      'STYLE.md': '# style\n',
    });

    // Act
    const run = await submitIn(
      dir,
      { GITHUB_REPOSITORY: 'acme/api', GITHUB_SHA: 'abc', GITHUB_RUN_ID: '42' },
      './src',
      '--team',
      'Payments',
      '--project',
      'api',
      '--kind',
      'tests',
      '--context=STYLE.md',
    );

    // Assess
    expect(run.code).toBe(0);
    const batchId = run.io.out().trim();
    expect(run.order).toHaveLength(4);
    expect(run.order.at(-1)).toBe(`batches/payments/${batchId}/manifest.json`);
    expect(run.order.slice(0, -1).sort()).toEqual([
      `batches/payments/${batchId}/context/STYLE.md`,
      `batches/payments/${batchId}/files/src/a.ts`,
      `batches/payments/${batchId}/files/src/lib/b.ts`,
    ]);
    const manifest = ManifestSchema.parse(
      JSON.parse(
        (await run.objects.getText(`batches/payments/${batchId}/manifest.json`)) as string,
      ),
    );
    expect(manifest).toMatchObject({
      batchId,
      team: 'payments',
      files: ['src/a.ts', 'src/lib/b.ts'],
      contextFiles: ['STYLE.md'],
      model: 'deepseek-flash',
      createdAt: '2026-11-28T12:00:00.000Z',
      ci: {
        provider: 'github',
        repo: 'acme/api',
        commit: 'abc',
        runUrl: 'https://github.com/acme/api/actions/runs/42',
      },
    });
  });

  it('uploads nothing and exits 2 when a flag is wrong or a glob matches nothing', async () => {
    const dir = await projectDir({ 'src/a.ts': 'export const a = 1;\n' });

    const badModel = await submitIn(
      dir,
      {},
      'src',
      '--team',
      't',
      '--project',
      'p',
      '--kind',
      'docs',
      '--model',
      'gpt-9',
    );
    const noMatch = await submitIn(
      dir,
      {},
      'lib/**/*.ts',
      '--team',
      't',
      '--project',
      'p',
      '--kind',
      'docs',
    );
    const outside = await submitIn(
      dir,
      {},
      '../etc',
      '--team',
      't',
      '--project',
      'p',
      '--kind',
      'docs',
    );

    expect([badModel.code, noMatch.code, outside.code]).toEqual([2, 2, 2]);
    expect(badModel.io.err()).toMatch(/model "gpt-9" is not in the price catalog/);
    expect(noMatch.io.err()).toMatch(/matches no file/);
    expect(outside.io.err()).toMatch(/outside the working directory/);
    expect([...badModel.order, ...noMatch.order, ...outside.order]).toEqual([]);
  });

  it('reads GitLab CI variables into the manifest metadata', () => {
    const ci = ciMetadata({
      GITLAB_CI: 'true',
      CI_PROJECT_PATH: 'acme/api',
      CI_COMMIT_SHA: 'def',
      CI_COMMIT_REF_NAME: 'main',
      CI_PIPELINE_URL: 'https://gitlab.com/acme/api/-/pipelines/7',
    });

    expect(ci).toEqual({
      provider: 'gitlab',
      repo: 'acme/api',
      commit: 'def',
      ref: 'main',
      runUrl: 'https://gitlab.com/acme/api/-/pipelines/7',
    });
    expect(ciMetadata({})).toBeUndefined();
  });
});
