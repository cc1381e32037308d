import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultCatalog } from '../../shared/pricing/catalog';
import { Admission } from './admission';
import { type ChatContext, handleChat } from './chat';
import { HttpError, sendError, sendJson } from './http';
import { simModelIds } from './models';
import { resolveOptions, type SimHandle, type SimStartOptions } from './options';
import { TokenInterner } from './render';
import { SimState } from './state';

/**
 * An in-process, OpenAI-compatible simulator of DeepSeek's chat API: its usage fields, its
 * context cache (two documented rules), its latency, its billing, and its failure modes under
 * load. Nothing here reaches DeepSeek; everything random is drawn from a seeded generator.
 * This file routes requests and runs the server; chat.ts serves a completion, faults.ts says
 * what fails, state.ts holds the cache and the usage report, options.ts the knobs.
 */

export type { CacheModel } from './cache';
export { DEFAULT_FAULTS, type SimFaults } from './faults';
export { KEEP_ALIVE_INTERVAL_MS } from './http';
export {
  DEFAULT_OPTIONS,
  HIT_PREFILL_SPEEDUP,
  REALISTIC_OPTIONS,
  type SimBilledCall,
  type SimConfigurePatch,
  type SimHandle,
  type SimOptions,
  type SimStartOptions,
  type SimTotals,
  type SimUsageReport,
} from './options';

function authorized(req: IncomingMessage, apiKeys: readonly string[]): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return match !== null && apiKeys.includes((match[1] as string).trim());
}

/** Answers the admin endpoints, the model list and chat completions; the rest is 404. */
async function route(
  ctx: ChatContext,
  handle: () => SimHandle,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const pathname = new URL(req.url ?? '/', 'http://sim').pathname.replace(/\/+$/, '');
  const path = pathname.startsWith('/v1/') ? pathname.slice(3) : pathname;
  const method = req.method ?? 'GET';
  if (path === '/_sim/usage' && method === 'GET') return sendJson(res, 200, handle().usage());
  if (path === '/_sim/reset' && method === 'POST') {
    handle().reset();
    return sendJson(res, 200, { ok: true });
  }
  const known =
    (path === '/models' && method === 'GET') || (path === '/chat/completions' && method === 'POST');
  if (!known) throw new HttpError(404, `Not Found: ${method} ${pathname}`, 'invalid_request_error');
  if (!authorized(req, ctx.opts.apiKeys))
    throw new HttpError(
      401,
      'Authentication Fails, Your api key is invalid',
      'authentication_error',
    );
  if (path === '/models')
    return sendJson(res, 200, {
      object: 'list',
      data: simModelIds(ctx.catalog()).map((id) => ({ id, object: 'model', owned_by: 'deepseek' })),
    });
  await handleChat(ctx, req, res);
}

/**
 * Starts the simulator on `options.port` (0 = any free port) and resolves once it listens.
 * Only billed (200, fully delivered) responses count in the usage report and the balance.
 */
export async function startSimulator(options: SimStartOptions = {}): Promise<SimHandle> {
  const opts = resolveOptions(options);
  const shutdown = new AbortController();
  // Every held request waits on this one signal; more than ten at once is normal load.
  setMaxListeners(0, shutdown.signal);
  const state = new SimState(opts);
  const ctx: ChatContext = {
    opts,
    state,
    admission: new Admission(opts, shutdown.signal),
    clock: opts.clock ?? Date.now,
    catalog: () => opts.catalog ?? defaultCatalog(),
    interner: new TokenInterner(),
    nonce: randomBytes(4).toString('hex'),
    wait: async (ms) => {
      if (ms > 0) await sleep(ms, undefined, { signal: shutdown.signal });
    },
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    route(ctx, () => handle, req, res).catch((err: unknown) => {
      // Once a held response has sent its 200, no status can follow: drop the connection.
      if (res.headersSent || shutdown.signal.aborted) {
        res.destroy();
        return;
      }
      sendError(
        res,
        err instanceof HttpError ? err : new HttpError(500, 'Server Error', 'server_error'),
      );
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;

  const handle: SimHandle = {
    url: `http://${hostForUrl}:${port}/v1`,
    port,
    options: opts,
    usage: () => structuredClone(state.report),
    inFlight: () => ctx.admission.count(),
    reset: () => state.reset(),
    configure: (patch) => {
      const { faults, quality, ...rest } = patch;
      Object.assign(opts, rest);
      if (faults) opts.faults = { ...opts.faults, ...faults };
      if (quality) opts.quality = { ...opts.quality, ...quality };
      ctx.admission.wake();
    },
    close: async () => {
      shutdown.abort(new Error('simulator closed'));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  return handle;
}
