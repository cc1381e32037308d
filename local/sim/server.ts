import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as z from 'zod';
import { type Catalog, defaultCatalog } from '../../shared/pricing/catalog';
import { tokenize } from '../../shared/tokens';
import { addTotals, type BilledTotals, zeroBilledTotals } from '../../shared/totals';
import { type CacheModel, PromptCache, UNIT_TOKENS } from './cache';
import { composeAnswer } from './content';
import {
  findModel,
  ModelNotServedError,
  responseCostNanoUsd,
  type SimModel,
  simModelIds,
} from './models';
import { outageAnswer, type SimOutage } from './outage';
import { createPrng } from './prng';
import { DEFAULT_QUALITY, type SimQuality } from './quality';
import { renderPrompt, renderWithOutput, type SimMessage, TokenInterner } from './render';

/**
 * An in-process, OpenAI-compatible simulator of DeepSeek's chat API: its usage fields, its
 * context cache (two documented rules), its latency, its billing, and its failure modes under
 * load. Nothing here reaches DeepSeek; everything random is drawn from a seeded generator.
 */

export type { CacheModel } from './cache';

export interface SimFaults {
  /** Probability a request answers 429 (rate limit) before being processed. */
  rate429: number;
  /** Probability a request answers 500. */
  rate500: number;
  /** Probability a request answers 503 (overloaded). */
  rate503: number;
  /** Probability the connection is destroyed after part of the response body was written. */
  resetRate: number;
  /** Probability a JSON-mode answer comes back with empty content (finish_reason `stop`). */
  emptyJsonRate: number;
  /**
   * Hold every request this long before processing, sending keep-alive blank lines
   * (`: keep-alive` comments when streaming). Real milliseconds: not scaled by timeScale.
   */
  stallMs: number;
}

export interface SimOptions {
  /** 0 = any free port. */
  port: number;
  host: string;
  seed: number;
  /** Multiplies every simulated delay; 0 = no delays at all. */
  timeScale: number;
  cacheModel: CacheModel;
  /** persisted-units: also persist a unit every this many tokens (at least 64). */
  unitInterval?: number;
  /**
   * A cache entry is usable only this long (x timeScale) after the request that built it: the
   * median of a log-normal draw whose spread is `constructionDelaySpread`.
   */
  constructionDelayMs: number;
  /** Sigma of the log-normal construction delay; 0 = always the median. */
  constructionDelaySpread: number;
  /** Tokens the cache holds; the least recently used entries are evicted past it. */
  capacityTokens?: number;
  /** Latency every prompt token adds, hit or miss (ms per 1,000 tokens, x timeScale). */
  promptLatencyMsPerKToken: number;
  /**
   * A cache (per model and user) idle this long builds entries `factor` times slower for
   * `windowMs` after it wakes; a key never seen before wakes on its first request. Durations are
   * scaled by timeScale like the construction delay.
   */
  slowStart?: { idleMs: number; factor: number; windowMs: number };
  /**
   * Bill a processed request even when its client went away before the answer was written, as
   * a provider does once it has done the work (a worker killed mid-call). Default false.
   */
  billAbandoned: boolean;
  /** Told of every billed response (the harness's per-call bill); never prompts in logs. */
  onBilled?: (call: SimBilledCall) => void;
  /** Cache entries expire this long after they were last built or hit. */
  ttlMs: number;
  /** Best effort: probability that a would-be hit misses. */
  missRate: number;
  /** Accepted bearer keys. */
  apiKeys: string[];
  /** Requests processed at once. */
  concurrencyLimit: number;
  /** Over the limit: 429 with Retry-After, or hold the connection with keep-alives. */
  overload: 'reject' | 'queue';
  faults: SimFaults;
  /** When set, requests answer 402 once billed costs reach it. */
  balanceNanoUsd?: number;
  /** A window in which every chat request answers 503 (local/sim/outage.ts). */
  outage?: SimOutage;
  ttftMs: number;
  outputTokensPerSecond: number;
  /** Prefill speed of missed prompt tokens; hit tokens go HIT_PREFILL_SPEEDUP times faster. */
  prefillMissTokensPerSecond: number;
  /** Epoch milliseconds; drives cache readiness, expiry, `created` and prices. */
  clock?: () => number;
  /** The price catalog the simulator bills with and serves the models of; default built-in. */
  catalog?: Catalog;
  /**
   * Which instant of a request its price is taken at: when the request arrived (`sent`) or the
   * `created` of the response. The pipeline's `pricing.instant` setting, so both agree.
   */
  pricingInstant: 'sent' | 'created';
  /**
   * How good the tests it writes are: the share of broken first answers and of repairs that
   * fix them, with per-model rates (local/sim/quality.ts).
   */
  quality: SimQuality;
}

/** One billed response, as the harness sees it: what was asked and what it cost. */
export interface SimBilledCall {
  id: string;
  model: string;
  messages: SimMessage[];
  maxTokens: number;
  usage: SimTotals;
  /** True when the client had gone before the answer was written (billed anyway). */
  abandoned: boolean;
}

/** What the simulator billed, as a provider reports it: totals without a counterfactual. */
export type SimTotals = BilledTotals;

export interface SimUsageReport {
  totals: SimTotals;
  byModel: Record<string, SimTotals>;
  /** Keyed by `user_id`; requests without one are under the empty key. */
  byUser: Record<string, SimTotals>;
  /**
   * Of the billed responses, those a best-effort miss (`missRate`) turned from a hit into a
   * miss, and the prompt tokens that would have been hits: what the draws cost, for a harness
   * that compares a run with an expectation.
   */
  bestEffort: { misses: number; lostHitTokens: number };
}

/** Options of `startSimulator`: any subset, faults included field by field. */
export type SimStartOptions = Omit<Partial<SimOptions>, 'faults' | 'quality'> & {
  faults?: Partial<SimFaults>;
  quality?: Partial<SimQuality>;
};

/** What `configure` may change on a running simulator. */
export type SimConfigurePatch = Omit<
  Partial<
    Pick<
      SimOptions,
      | 'faults'
      | 'missRate'
      | 'concurrencyLimit'
      | 'overload'
      | 'balanceNanoUsd'
      | 'outage'
      | 'timeScale'
      | 'constructionDelayMs'
      | 'constructionDelaySpread'
      | 'billAbandoned'
      | 'onBilled'
    >
  >,
  'faults'
> & { faults?: Partial<SimFaults>; quality?: Partial<SimQuality> };

export interface SimHandle {
  /** Base URL ending in /v1, for an OpenAI client's `baseURL`. */
  url: string;
  port: number;
  options: SimOptions;
  usage(): SimUsageReport;
  /** Requests being processed now. */
  inFlight(): number;
  /** Clears the cache and the usage report. */
  reset(): void;
  /** Changes faults and load settings of a running simulator; faults merge into the current ones. */
  configure(patch: SimConfigurePatch): void;
  close(): Promise<void>;
}

export const DEFAULT_FAULTS: SimFaults = {
  rate429: 0,
  rate500: 0,
  rate503: 0,
  resetRate: 0,
  emptyJsonRate: 0,
  stallMs: 0,
};

export const DEFAULT_OPTIONS: SimOptions = {
  port: 8787,
  host: '127.0.0.1',
  seed: 1,
  timeScale: 1,
  cacheModel: 'persisted-units',
  constructionDelayMs: 2000,
  constructionDelaySpread: 0,
  promptLatencyMsPerKToken: 0,
  billAbandoned: false,
  ttlMs: 3_600_000,
  missRate: 0,
  apiKeys: ['sim-key'],
  concurrencyLimit: 2500,
  overload: 'reject',
  faults: DEFAULT_FAULTS,
  ttftMs: 1200,
  outputTokensPerSecond: 32,
  prefillMissTokensPerSecond: 8000,
  pricingInstant: 'sent',
  quality: DEFAULT_QUALITY,
};

/**
 * The most realistic reading of DeepSeek's documentation, where the ideal defaults above keep
 * tests exact: the cache is best effort (a would-be hit misses whole one time in twenty), is
 * built "in seconds" (median 2 s, log-normal spread 0.6: about 0.6-6.5 s for 19 in 20 entries),
 * lives "a few hours" (the low end: 1 hour) in a cache of bounded size, a long prompt answers
 * later even when cached, and a cache left idle builds slower for a while. The benchmark and
 * `warmbatch sim` start from these; every figure is a knob.
 */
export const REALISTIC_OPTIONS = {
  missRate: 0.05,
  constructionDelayMs: 2000,
  constructionDelaySpread: 0.6,
  ttlMs: 3_600_000,
  capacityTokens: 200_000_000,
  promptLatencyMsPerKToken: 20,
  slowStart: { idleMs: 300_000, factor: 3, windowMs: 60_000 },
} as const satisfies SimStartOptions;

/** Cached prompt tokens prefill this many times faster than missed ones. */
export const HIT_PREFILL_SPEEDUP = 20;
/** Real milliseconds between keep-alive lines on a held connection. */
export const KEEP_ALIVE_INTERVAL_MS = 250;
/** Output tokens per SSE content chunk. */
const STREAM_CHUNK_TOKENS = 8;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const USER_ID_MAX_BYTES = 512;

const ContentPart = z.object({ type: z.string(), text: z.string().optional() }).loose();
const Message = z
  .object({
    role: z.enum(['system', 'user', 'assistant']),
    content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  })
  .loose();
const ChatRequest = z
  .object({
    model: z.string(),
    messages: z.array(Message).min(1),
    max_tokens: z.number().nullish(),
    max_completion_tokens: z.number().nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
    response_format: z
      .object({ type: z.enum(['text', 'json_object']) })
      .loose()
      .nullish(),
    user_id: z.string().nullish(),
    user: z.string().nullish(),
  })
  .loose();
type ChatRequest = z.infer<typeof ChatRequest>;

/** An answer the simulator gives with an HTTP error status. */
class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function emptyReport(): SimUsageReport {
  return {
    totals: zeroBilledTotals(),
    byModel: {},
    byUser: {},
    bestEffort: { misses: 0, lostHitTokens: 0 },
  };
}

function messageText(content: z.infer<typeof Message>['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((part) => part.text ?? '').join('');
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(
    res,
    err.status,
    { error: { message: err.message, type: err.type, param: null, code: 'invalid_request_error' } },
    err.headers,
  );
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'Request body too large', 'invalid_request_error'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Keeps a connection open the way DeepSeek does while a request waits: status 200 and headers
 * at once, then a blank line (JSON) or a `: keep-alive` comment (SSE) now and periodically.
 */
class Hold {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly res: ServerResponse,
    private readonly stream: boolean,
  ) {}

  start(): void {
    if (this.timer || this.res.destroyed) return;
    if (!this.res.headersSent) {
      this.res.writeHead(200, {
        'content-type': this.stream ? 'text/event-stream' : 'application/json',
        'cache-control': 'no-cache',
      });
    }
    this.beat();
    this.timer = setInterval(() => this.beat(), KEEP_ALIVE_INTERVAL_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private beat(): void {
    if (!this.res.destroyed) this.res.write(this.stream ? ': keep-alive\n\n' : '\n');
  }
}

function resolveOptions(options: SimStartOptions): SimOptions {
  const resolved: SimOptions = {
    ...DEFAULT_OPTIONS,
    ...options,
    faults: { ...DEFAULT_FAULTS, ...options.faults },
    quality: { ...DEFAULT_QUALITY, ...options.quality },
  };
  if (resolved.unitInterval !== undefined && resolved.unitInterval < UNIT_TOKENS)
    throw new RangeError(`unitInterval must be at least ${UNIT_TOKENS} tokens`);
  if (resolved.apiKeys.length === 0) throw new RangeError('apiKeys must hold at least one key');
  if (!(resolved.timeScale >= 0)) throw new RangeError('timeScale must be >= 0');
  if (!(resolved.concurrencyLimit >= 1)) throw new RangeError('concurrencyLimit must be >= 1');
  return resolved;
}

/**
 * Starts the simulator on `options.port` (0 = any free port) and resolves once it listens.
 * Only billed (200, fully delivered) responses count in the usage report and the balance.
 */
export async function startSimulator(options: SimStartOptions = {}): Promise<SimHandle> {
  const opts = resolveOptions(options);
  const clock = opts.clock ?? Date.now;
  const catalog = () => opts.catalog ?? defaultCatalog();
  const nonce = randomBytes(4).toString('hex');
  const interner = new TokenInterner();
  const shutdown = new AbortController();
  // Every held request waits on this one signal; more than ten at once is normal load.
  setMaxListeners(0, shutdown.signal);
  const sockets = new Set<Socket>();
  const waiters: Array<() => void> = [];

  const newCache = () =>
    new PromptCache({
      model: opts.cacheModel,
      unitInterval: opts.unitInterval,
      ttlMs: opts.ttlMs,
      ...(opts.capacityTokens !== undefined ? { capacityTokens: opts.capacityTokens } : {}),
    });

  let prng = createPrng(opts.seed);
  // The construction delay's draws come from a stream of their own, so a spread leaves the
  // sequence of fault and miss outcomes of a seed as it was.
  const delaySeed = (opts.seed ^ 0x5bd1e995) >>> 0;
  let delayPrng = createPrng(delaySeed);
  /** Per cache key: its last request, and when it last woke from idle. */
  let lastSeen = new Map<string, { at: number; wokeAt: number }>();

  /** The construction delay of an entry built now under `key`, before scaling. */
  function constructionDelay(key: string, now: number): number {
    let delay = opts.constructionDelayMs;
    if (opts.constructionDelaySpread > 0) {
      const u1 = Math.max(delayPrng(), 1e-12);
      const u2 = delayPrng();
      const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      delay *= Math.exp(opts.constructionDelaySpread * normal);
    }
    const slow = opts.slowStart;
    if (slow) {
      const seen = lastSeen.get(key);
      const wokeAt = seen === undefined || now - seen.at >= scaled(slow.idleMs) ? now : seen.wokeAt;
      lastSeen.set(key, { at: now, wokeAt });
      if (now - wokeAt < scaled(slow.windowMs)) delay *= slow.factor;
    }
    return delay;
  }
  let cache = newCache();
  let counter = 0;
  let inFlight = 0;
  let report = emptyReport();

  const scaled = (ms: number) => ms * opts.timeScale;
  const wait = async (ms: number) => {
    if (ms > 0) await sleep(ms, undefined, { signal: shutdown.signal });
  };

  /** Hands free slots to held requests, oldest first. */
  function wake(): void {
    while (waiters.length > 0 && inFlight < opts.concurrencyLimit) {
      inFlight++;
      waiters.shift()?.();
    }
  }

  function release(): void {
    inFlight--;
    wake();
  }

  async function admit(hold: Hold): Promise<void> {
    if (inFlight < opts.concurrencyLimit) {
      inFlight++;
      return;
    }
    if (opts.overload === 'reject') {
      throw new HttpError(
        429,
        'Rate Limit Reached: too many concurrent requests',
        'rate_limit_error',
        { 'retry-after': String(Math.max(1, Math.ceil(scaled(opts.ttftMs) / 1000))) },
      );
    }
    hold.start();
    // The slot is taken by release() on our behalf before we are woken.
    await new Promise<void>((resolve, reject) => {
      const onShutdown = () => reject(shutdown.signal.reason);
      shutdown.signal.addEventListener('abort', onShutdown, { once: true });
      waiters.push(() => {
        shutdown.signal.removeEventListener('abort', onShutdown);
        resolve();
      });
    });
  }

  function bill(model: string, user: string, usage: SimTotals): void {
    report.byModel[model] ??= zeroBilledTotals();
    report.byUser[user] ??= zeroBilledTotals();
    for (const into of [report.totals, report.byModel[model], report.byUser[user]])
      addTotals(into, usage);
  }

  function parseChat(
    body: string,
    receivedAt: number,
  ): {
    request: ChatRequest;
    model: SimModel;
    messages: SimMessage[];
    maxTokens: number;
    user: string;
  } {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new HttpError(400, 'Invalid Format: request body is not JSON', 'invalid_request_error');
    }
    const parsed = ChatRequest.safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join('.') ?? 'body';
      throw new HttpError(400, `Invalid Format: ${where}`, 'invalid_request_error');
    }
    const request = parsed.data;
    let model: SimModel;
    try {
      // A model with no price in force is not served: it would otherwise be billed as $0.
      model = findModel(request.model, new Date(receivedAt), catalog());
    } catch (err) {
      if (err instanceof ModelNotServedError)
        throw new HttpError(400, `Model Not Exist: ${request.model}`, 'invalid_request_error');
      throw err;
    }
    const maxTokens =
      request.max_tokens ?? request.max_completion_tokens ?? (model.reasoning ? 32_768 : 4096);
    if (!Number.isInteger(maxTokens) || maxTokens < 1)
      throw new HttpError(
        422,
        'Invalid Parameters: max_tokens must be a positive integer',
        'invalid_request_error',
      );
    const user = request.user_id ?? request.user ?? '';
    if (Buffer.byteLength(user) > USER_ID_MAX_BYTES)
      throw new HttpError(422, 'Invalid Parameters: user_id is too long', 'invalid_request_error');
    const messages = request.messages.map((m) => ({
      role: m.role,
      content: messageText(m.content),
    }));
    return { request, model, messages, maxTokens, user };
  }

  async function handleChat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = clock();
    const { request, model, messages, maxTokens, user } = parseChat(
      await readBody(req),
      receivedAt,
    );
    // Caches are per model (the model that serves the name) and per user_id.
    const cacheKey = `${model.servedBy}\u0000${user}`;
    const prompt = renderPrompt(messages, interner);
    if (prompt.length > model.contextTokens)
      throw new HttpError(
        400,
        `This model's maximum context length is ${model.contextTokens} tokens. However, you requested ${prompt.length} tokens in the messages.`,
        'invalid_request_error',
      );
    if (opts.balanceNanoUsd !== undefined && report.totals.costNanoUsd >= opts.balanceNanoUsd)
      throw new HttpError(402, 'Insufficient Balance', 'unknown_error');

    const down = outageAnswer(opts.outage, receivedAt);
    if (down) throw new HttpError(down.status, down.message, 'server_error');
    // A fixed number of draws per request keeps runs reproducible whatever the rates.
    const statusDraw = prng();
    const resetDraw = prng();
    const emptyDraw = prng();
    const missDraw = prng();
    const f = opts.faults;
    if (statusDraw < f.rate429)
      throw new HttpError(429, 'Rate Limit Reached', 'rate_limit_error', { 'retry-after': '1' });
    if (statusDraw < f.rate429 + f.rate500)
      throw new HttpError(500, 'Server Error', 'server_error');
    if (statusDraw < f.rate429 + f.rate500 + f.rate503)
      throw new HttpError(503, 'Server Overloaded', 'server_error');

    const stream = request.stream === true;
    const hold = new Hold(res, stream);
    await admit(hold);
    try {
      if (f.stallMs > 0) {
        hold.start();
        await wait(f.stallMs);
      }
      const json = request.response_format?.type === 'json_object';
      const answer = composeAnswer(messages, json, {
        model: model.id,
        seed: opts.seed,
        quality: opts.quality,
      });
      let content = json && emptyDraw < f.emptyJsonRate ? '' : answer.content;
      let reasoning = model.reasoning ? answer.reasoning : '';
      let reasoningIds = interner.encode(reasoning);
      let contentIds = interner.encode(content);
      let finish: 'stop' | 'length' = 'stop';
      if (reasoningIds.length >= maxTokens && reasoningIds.length > 0) {
        reasoning = tokenize(reasoning).slice(0, maxTokens).join('');
        reasoningIds = reasoningIds.subarray(0, maxTokens);
        content = '';
        contentIds = new Int32Array(0);
        finish = 'length';
      } else if (reasoningIds.length + contentIds.length > maxTokens) {
        const room = maxTokens - reasoningIds.length;
        content = tokenize(content).slice(0, room).join('');
        contentIds = contentIds.subarray(0, room);
        finish = 'length';
      }

      const start = clock();
      let hit = cache.lookup(cacheKey, prompt, start);
      let lostHit = 0;
      if (hit > 0 && missDraw < opts.missRate) {
        lostHit = hit;
        hit = 0;
      }
      const miss = prompt.length - hit;
      const completion = reasoningIds.length + contentIds.length;
      const prefillMs =
        (miss / opts.prefillMissTokensPerSecond +
          hit / (opts.prefillMissTokensPerSecond * HIT_PREFILL_SPEEDUP)) *
        1000;
      const firstTokenMs = scaled(
        opts.ttftMs + prefillMs + (prompt.length / 1000) * opts.promptLatencyMsPerKToken,
      );
      const outputMs = scaled((completion / opts.outputTokensPerSecond) * 1000);
      const finishedAt = start + firstTokenMs + outputMs;
      const readyAt = finishedAt + scaled(constructionDelay(cacheKey, start));
      cache.record(
        cacheKey,
        prompt,
        // Only the persisted-units rule keeps the answer; skip the copy otherwise.
        opts.cacheModel === 'persisted-units' ? renderWithOutput(prompt, contentIds) : prompt,
        { readyAt, expiresAt: finishedAt + opts.ttlMs },
        start,
      );

      const id = `chatcmpl-${nonce}-${++counter}`;
      const usageBody = {
        prompt_tokens: prompt.length,
        completion_tokens: completion,
        total_tokens: prompt.length + completion,
        prompt_tokens_details: { cached_tokens: hit },
        prompt_cache_hit_tokens: hit,
        prompt_cache_miss_tokens: miss,
        ...(model.reasoning
          ? { completion_tokens_details: { reasoning_tokens: reasoningIds.length } }
          : {}),
      };
      const charge = (created: number): SimTotals => ({
        requests: 1,
        hitTokens: hit,
        missTokens: miss,
        outputTokens: completion,
        reasoningTokens: reasoningIds.length,
        costNanoUsd: responseCostNanoUsd(
          model.id,
          new Date(opts.pricingInstant === 'created' ? created * 1000 : receivedAt),
          {
            promptHitTokens: hit,
            promptMissTokens: miss,
            completionTokens: completion,
            reasoningTokens: reasoningIds.length,
          },
          catalog(),
        ),
      });
      const reset = resetDraw < f.resetRate;
      const billCall = (created: number, abandoned: boolean) => {
        const usage = charge(created);
        bill(model.id, user, usage);
        if (lostHit > 0) {
          report.bestEffort.misses++;
          report.bestEffort.lostHitTokens += lostHit;
        }
        opts.onBilled?.({ id, model: model.id, messages, maxTokens, usage, abandoned });
      };

      if (!stream) {
        await wait(firstTokenMs + outputMs);
        hold.stop();
        const created = Math.floor(clock() / 1000);
        const body = JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model: model.id,
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content,
                ...(model.reasoning ? { reasoning_content: reasoning } : {}),
              },
              logprobs: null,
              finish_reason: finish,
            },
          ],
          usage: usageBody,
          system_fingerprint: 'fp_sim',
        });
        if (res.destroyed) {
          if (opts.billAbandoned) billCall(created, true);
          return;
        }
        if (!res.headersSent)
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
        if (reset) {
          res.write(body.slice(0, Math.floor(body.length / 2)));
          res.socket?.destroy();
          return;
        }
        billCall(created, false);
        res.end(body);
        return;
      }

      await wait(firstTokenMs);
      hold.stop();
      if (res.destroyed) return;
      if (!res.headersSent)
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const created = Math.floor(clock() / 1000);
      const includeUsage = request.stream_options?.include_usage === true;
      const chunk = (delta: object, finishReason: string | null) =>
        `data: ${JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model: model.id,
          system_fingerprint: 'fp_sim',
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
          ...(includeUsage ? { usage: null } : {}),
        })}\n\n`;
      const pieces: Array<{ delta: object; tokens: number }> = [];
      for (const [field, text] of [
        ['reasoning_content', reasoning],
        ['content', content],
      ] as const) {
        const parts = tokenize(text);
        for (let i = 0; i < parts.length; i += STREAM_CHUNK_TOKENS) {
          const slice = parts.slice(i, i + STREAM_CHUNK_TOKENS);
          pieces.push({ delta: { [field]: slice.join('') }, tokens: slice.length });
        }
      }
      res.write(chunk({ role: 'assistant', content: '' }, null));
      const cutAt = reset ? Math.floor(pieces.length / 2) : -1;
      for (const [i, piece] of pieces.entries()) {
        if (i === cutAt) {
          res.socket?.destroy();
          return;
        }
        await wait(scaled((piece.tokens / opts.outputTokensPerSecond) * 1000));
        if (res.destroyed) return;
        res.write(chunk(piece.delta, null));
      }
      if (reset) {
        res.socket?.destroy();
        return;
      }
      billCall(created, false);
      res.write(chunk({}, finish));
      if (includeUsage)
        res.write(
          `data: ${JSON.stringify({
            id,
            object: 'chat.completion.chunk',
            created,
            model: model.id,
            system_fingerprint: 'fp_sim',
            choices: [],
            usage: usageBody,
          })}\n\n`,
        );
      res.end('data: [DONE]\n\n');
    } finally {
      hold.stop();
      release();
    }
  }

  function authorized(req: IncomingMessage): boolean {
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return match !== null && opts.apiKeys.includes((match[1] as string).trim());
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://sim').pathname.replace(/\/+$/, '');
    const path = pathname.startsWith('/v1/') ? pathname.slice(3) : pathname;
    const method = req.method ?? 'GET';
    if (path === '/_sim/usage' && method === 'GET') return sendJson(res, 200, handle.usage());
    if (path === '/_sim/reset' && method === 'POST') {
      handle.reset();
      return sendJson(res, 200, { ok: true });
    }
    const known =
      (path === '/models' && method === 'GET') ||
      (path === '/chat/completions' && method === 'POST');
    if (!known)
      throw new HttpError(404, `Not Found: ${method} ${pathname}`, 'invalid_request_error');
    if (!authorized(req))
      throw new HttpError(
        401,
        'Authentication Fails, Your api key is invalid',
        'authentication_error',
      );
    if (path === '/models')
      return sendJson(res, 200, {
        object: 'list',
        data: simModelIds(catalog()).map((id) => ({ id, object: 'model', owned_by: 'deepseek' })),
      });
    await handleChat(req, res);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
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
    usage: () => structuredClone(report),
    inFlight: () => inFlight,
    reset: () => {
      cache = newCache();
      report = emptyReport();
      prng = createPrng(opts.seed);
      delayPrng = createPrng(delaySeed);
      lastSeen = new Map();
    },
    configure: (patch) => {
      const { faults, quality, ...rest } = patch;
      Object.assign(opts, rest);
      if (faults) opts.faults = { ...opts.faults, ...faults };
      if (quality) opts.quality = { ...opts.quality, ...quality };
      wake();
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
