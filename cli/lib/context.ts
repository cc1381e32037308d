import type { Clock } from '../../shared/clock';
import { systemClock } from '../../shared/clock';
import { type CliConfig, type ConnectionFlags, resolveConfig, type Services } from '../config';

/** Where a command writes, and what it knows of its process. Tests pass buffers. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Everything a command depends on, passed in so tests run commands in-process. */
export interface CliDeps {
  io: CliIo;
  clock: Clock;
  /** Opens the stores for the given connection flags (resolves configuration first). */
  connect(flags: ConnectionFlags): Promise<Services>;
  sleep(ms: number): Promise<void>;
  /** Time between two polls of a batch with `--wait`. */
  pollMs: number;
}

/** The process's own io. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** The system clock and real AWS clients, configured from `io`'s environment and folder. */
export function processDeps(io: CliIo = processIo()): CliDeps {
  return {
    io,
    clock: systemClock,
    async connect(flags) {
      const config: CliConfig = await resolveConfig(flags, {
        env: io.env,
        cwd: io.cwd,
        // Lets tests and side-by-side checkouts point at another runtime's config file.
        ...(io.env.WARMBATCH_LOCAL_CONFIG
          ? { localConfigPath: io.env.WARMBATCH_LOCAL_CONFIG }
          : {}),
      });
      // Loaded on connect, not at start: `--help` and `estimate` need no AWS SDK.
      const { createServices } = await import('../services');
      return createServices(config);
    },
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    pollMs: 2_000,
  };
}

/** Fills the missing dependencies of a command from the process. */
export function withDefaults(deps: Partial<CliDeps> | undefined): CliDeps {
  return { ...processDeps(), ...deps };
}
