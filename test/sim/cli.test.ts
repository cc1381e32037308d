import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

describe('warmbatch sim', () => {
  it('serves DeepSeek-shaped usage on the port it prints, never printing the key, until stopped', async () => {
    // Prepare
    const proc = spawn(
      process.execPath,
      [
        'packages/tools/bin.js',
        'sim',
        '--port',
        '0',
        '--time-scale',
        '0',
        '--api-key',
        'cli-test-key',
        // Pinned: the models it serves do not depend on the machine's date.
        '--at',
        '2026-11-30T12:00:00Z',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let stdout = '';
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) =>
      proc.on('exit', (code) => resolve(code)),
    );
    await expect
      .poll(() => stdout, { timeout: 20_000, interval: 100 })
      .toMatch(/listening on http/);
    const url = /listening on (http:\/\/\S+\/v1)/.exec(stdout)?.[1] ?? '';

    // Act
    const res = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer cli-test-key', 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'deepseek-v4-flash',
        messages: [{ role: 'user', content: 'Write docs for nothing in particular.' }],
      }),
    });
    const body = (await res.json()) as { usage: Record<string, unknown> };
    proc.kill('SIGINT');
    const code = await exited;

    // Assess
    expect(res.status).toBe(200);
    expect(body.usage).toMatchObject({
      prompt_tokens: expect.any(Number),
      prompt_cache_hit_tokens: 0,
      prompt_cache_miss_tokens: body.usage.prompt_tokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
    });
    expect(stdout).toContain('"cacheModel": "persisted-units"');
    expect(stdout).not.toContain('cli-test-key');
    expect(stdout).toContain('simulator stopped');
    expect(code).toBe(0);
  });
});
