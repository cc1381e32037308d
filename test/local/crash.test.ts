/**
 * `kill -9` of `npm start`: the DynamoDB Local JVM must die with it, and the next start must
 * find and clean what the killed run left (its config file). The one test besides the run's
 * globalSetup that starts a JVM of its own: the JVM's death is what it checks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalRuntime } from '../../local/runtime';
import { isAlive, readLocalConfig } from '../../local/runtime/config-file';
import type { Logger } from '../../shared/ports/logger';
import { sharedAws } from '../support/shared-aws';
import { testTempDir } from '../support/temp';

const BIN = fileURLToPath(new URL('../../packages/tools/bin.js', import.meta.url));

let child: ChildProcess | undefined;
let jvm: number | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  // Should the JVM have outlived its parent, this test must not leave it running either.
  if (jvm !== undefined && isAlive(jvm)) process.kill(jvm, 'SIGKILL');
});

/** `warmbatch local` as `npm start` runs it, on free ports, with no examples to run. */
async function startLocalCommand(configFile: string): Promise<ChildProcess> {
  const empty = await testTempDir('warmbatch-examples-');
  // Its own temp folder: a runtime killed with SIGKILL cannot remove DynamoDB Local's.
  const env: Record<string, string | undefined> = {
    ...process.env,
    NO_COLOR: '1',
    TMPDIR: await testTempDir('warmbatch-crash-tmp-'),
  };
  delete env.DEEPSEEK_API_KEY;
  const args = ['--s3-sqs-port', '0', '--dynamodb-port', '0', '--examples', empty];
  return spawn(process.execPath, [BIN, 'local', ...args, '--config-file', configFile], {
    env,
    stdio: 'ignore',
  });
}

/** Warnings a logger received. */
function recordingLogger(): Logger & { warnings: { message: string; attrs: unknown[] }[] } {
  const warnings: { message: string; attrs: unknown[] }[] = [];
  const nothing = () => undefined;
  return {
    warnings,
    debug: nothing,
    info: nothing,
    error: nothing,
    appendKeys: nothing,
    removeKeys: nothing,
    warn: (message, ...attrs) => warnings.push({ message, attrs }),
  };
}

// The JVM's death with its parent rests on Linux's PR_SET_PDEATHSIG (setpriv).
describe.runIf(process.platform === 'linux')('the local runtime killed with SIGKILL', () => {
  it('takes its DynamoDB Local with it, and the next start removes the stale config', async () => {
    // Prepare: a running `warmbatch local`, found through the config file it writes
    const configFile = join(await testTempDir('warmbatch-crash-'), 'warmbatch.json');
    child = await startLocalCommand(configFile);
    const pid = child.pid as number;
    await expect
      .poll(() => readLocalConfig(configFile), { timeout: 90_000, interval: 250 })
      .toMatchObject({ pid, dynamodbPid: expect.any(Number) });
    const started = (await readLocalConfig(configFile))?.dynamodbPid as number;
    jvm = started;
    expect(isAlive(started)).toBe(true);

    // Act: no exit hook can run
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    // Assess: the JVM is gone, the config file stayed behind and is recognised as stale
    await expect.poll(() => isAlive(started), { timeout: 15_000 }).toBe(false);
    expect(existsSync(configFile)).toBe(true);
    expect(await readLocalConfig(configFile)).toBeUndefined();

    // Act: the next start
    const logger = recordingLogger();
    const runtime = await startLocalRuntime({
      ...sharedAws(),
      ports: { s3Sqs: 0 },
      handlers: {},
      configPath: configFile,
      sendTestEvent: false,
      logger,
    });
    try {
      // Assess: it cleaned the stale config, said so, and wrote its own
      expect(runtime.cleaned).toEqual({ config: { path: configFile, pid } });
      expect(logger.warnings).toEqual([
        {
          message: 'cleaned up after a local runtime that was killed',
          attrs: [{ configFile, deadPid: pid }],
        },
      ]);
      expect(await readLocalConfig(configFile)).toMatchObject({ pid: process.pid });
    } finally {
      await runtime.stop();
    }
    expect(existsSync(configFile)).toBe(false);
  }, 150_000);
});
