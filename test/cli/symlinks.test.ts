/**
 * The CLI reads and writes only inside the folders it is pointed at: a symbolic link in a
 * submitted tree, or planted in an output folder, cannot carry an upload or a download outside.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadOutputs } from '../../cli/lib/batch';
import { UsageError } from '../../cli/lib/exit';
import { expandInputs } from '../../cli/lib/files';
import { createMemoryObjectStore } from '../../shared/aws/object-store';
import { batchFileKeyFor } from '../../shared/inputs';
import { outputPrefixFor } from '../../shared/pipeline/keys';
import type { JobItem } from '../../shared/ports/jobs';

const made: string[] = [];
async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `warmbatch-${name}-`));
  made.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const BATCH = { batchId: 'b1', team: 'web', project: 'shop' };

function aJob(path: string): JobItem {
  return {
    jobId: `job-${path}`,
    batchId: BATCH.batchId,
    path,
    inputKey: batchFileKeyFor(BATCH, path),
    outputKey: `${outputPrefixFor(BATCH)}${path}.md`,
    state: 'succeeded',
    attempts: 1,
    estimateNanoUsd: 0,
    reservedNanoUsd: 0,
    updatedAt: '2026-11-30T10:00:00.000Z',
  };
}

describe('submitting files', () => {
  it('refuses a symbolic link that leads out of the working directory, naming it', async () => {
    // Prepare: a secret outside the project, linked from inside it as a file and as a folder
    const outside = await tempDir('outside');
    await writeFile(join(outside, 'secret.txt'), 'not for upload');
    const project = await tempDir('project');
    await mkdir(join(project, 'src'));
    await writeFile(join(project, 'src/a.ts'), 'export const a = 1;\n');
    await symlink(join(outside, 'secret.txt'), join(project, 'src/passwd.ts'));
    await symlink(outside, join(project, 'linked'));

    // Act
    const file = await expandInputs(project, ['src/**/*.ts']).catch((err: unknown) => err);
    const folder = await expandInputs(project, ['linked']).catch((err: unknown) => err);

    // Assess
    expect(file).toBeInstanceOf(UsageError);
    expect(String(file)).toMatch(/src\/passwd\.ts.*symbolic link.*outside/);
    expect(String(folder)).toMatch(/linked\/secret\.txt.*symbolic link.*outside/);
  });

  it('accepts a symbolic link that stays inside the working directory', async () => {
    // Prepare
    const project = await tempDir('project');
    await mkdir(join(project, 'src'));
    await writeFile(join(project, 'src/a.ts'), 'export const a = 1;\n');
    await symlink(join(project, 'src/a.ts'), join(project, 'src/alias.ts'));

    // Act
    const paths = await expandInputs(project, ['src']);

    // Assess
    expect(paths).toEqual(['src/a.ts', 'src/alias.ts']);
  });
});

describe('downloading outputs', () => {
  it('writes nothing through a link planted in the output folder, and writes every other output', async () => {
    // Prepare: out/src leads outside; out/b.ts.md is a link to a file outside
    const outside = await tempDir('outside');
    await writeFile(join(outside, 'b.target'), 'untouched');
    const out = await tempDir('out');
    await symlink(outside, join(out, 'src'));
    await symlink(join(outside, 'b.target'), join(out, 'b.ts.md'));
    const objects = createMemoryObjectStore();
    const jobs = [aJob('src/a.ts'), aJob('b.ts'), aJob('c.ts')];
    for (const job of jobs) await objects.put(job.outputKey, `docs of ${job.path}`);

    // Act
    const result = await downloadOutputs({ objects, batch: BATCH, jobs, outDir: out });

    // Assess
    expect(result.written).toEqual(['c.ts.md']);
    expect(result.refused.map((r) => r.path)).toEqual(['b.ts.md', 'src/a.ts.md']);
    for (const r of result.refused) expect(r.reason).toMatch(/symbolic link/);
    expect(await readdir(outside)).toEqual(['b.target']);
    expect(await readFile(join(outside, 'b.target'), 'utf8')).toBe('untouched');
    expect(await readFile(join(out, 'c.ts.md'), 'utf8')).toBe('docs of c.ts');
  });
});
