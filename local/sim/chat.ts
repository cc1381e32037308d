/**
 * One chat completion, the way DeepSeek serves it: refusals before any work, admission under
 * the concurrency limit, the answer cut at max_tokens, the cache lookup and record, the latency
 * of prefill and output, billing, and the reply as one JSON body or as server-sent events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Catalog } from '../../shared/pricing/catalog';
import { tokenize } from '../../shared/tokens';
import type { Admission } from './admission';
import { composeAnswer } from './content';
import { emptiesJson, type FaultDraws, resetsConnection, throwStatusFault } from './faults';
import { Hold, HttpError, readBody } from './http';
import { responseCostNanoUsd } from './models';
import { HIT_PREFILL_SPEEDUP, type SimOptions, type SimTotals } from './options';
import { outageAnswer } from './outage';
import { renderPrompt, renderWithOutput, type TokenInterner } from './render';
import { type ParsedChat, parseChat } from './request';
import type { SimState } from './state';

/** Output tokens per SSE content chunk. */
const STREAM_CHUNK_TOKENS = 8;

/** What a request is served with: the live options, the server's state, clock and catalog. */
export interface ChatContext {
  opts: SimOptions;
  state: SimState;
  admission: Admission;
  clock: () => number;
  catalog: () => Catalog;
  interner: TokenInterner;
  /** Makes response ids unique to this server run. */
  nonce: string;
  /** Waits a real duration; rejects when the server closes. */
  wait: (ms: number) => Promise<void>;
}

/** The answer's text and tokens, cut at max_tokens. */
interface Answer {
  content: string;
  reasoning: string;
  contentIds: Int32Array;
  reasoningIds: Int32Array;
  finish: 'stop' | 'length';
}

/** A served answer, ready to write: its ids, timings, usage body and how to bill it. */
interface Served {
  id: string;
  model: string;
  reasoning: boolean;
  answer: Answer;
  firstTokenMs: number;
  outputMs: number;
  usageBody: Record<string, unknown>;
  /** Bills the call at the response's `created` (epoch seconds). */
  billCall: (created: number, abandoned: boolean) => void;
}

/** Handles POST /chat/completions; errors are thrown as HttpError for the router to answer. */
export async function handleChat(
  ctx: ChatContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { opts, state } = ctx;
  const receivedAt = ctx.clock();
  const chat = parseChat(await readBody(req), receivedAt, ctx.catalog());
  const { request, model } = chat;
  // Caches are per model (the model that serves the name) and per user_id.
  const cacheKey = `${model.servedBy}\u0000${chat.user}`;
  const prompt = renderPrompt(chat.messages, ctx.interner);
  if (prompt.length > model.contextTokens)
    throw new HttpError(
      400,
      `This model's maximum context length is ${model.contextTokens} tokens. However, you requested ${prompt.length} tokens in the messages.`,
      'invalid_request_error',
    );
  if (opts.balanceNanoUsd !== undefined && state.report.totals.costNanoUsd >= opts.balanceNanoUsd)
    throw new HttpError(402, 'Insufficient Balance', 'unknown_error');
  const down = outageAnswer(opts.outage, receivedAt);
  if (down) throw new HttpError(down.status, down.message, 'server_error');

  // A fixed number of draws per request keeps runs reproducible whatever the rates.
  const draws: FaultDraws = { status: state.prng(), reset: state.prng(), empty: state.prng() };
  const missDraw = state.prng();
  const faults = opts.faults;
  throwStatusFault(faults, draws);

  const stream = request.stream === true;
  const hold = new Hold(res, stream);
  await ctx.admission.admit(hold);
  try {
    if (faults.stallMs > 0) {
      hold.start();
      await ctx.wait(faults.stallMs);
    }
    const answer = composeCut(ctx, chat, emptiesJson(faults, draws));
    const served = serve(ctx, chat, { cacheKey, prompt, answer, missDraw, receivedAt });
    const reset = resetsConnection(faults, draws);
    if (stream) await writeStream(ctx, res, hold, served, { chat, reset });
    else await writeJson(ctx, res, hold, served, reset);
  } finally {
    hold.stop();
    ctx.admission.release();
  }
}

/** Composes the answer and cuts it at max_tokens, reasoning first, as DeepSeek does. */
function composeCut(ctx: ChatContext, chat: ParsedChat, emptyJson: boolean): Answer {
  const { model, maxTokens } = chat;
  const json = chat.request.response_format?.type === 'json_object';
  const composed = composeAnswer(chat.messages, json, {
    model: model.id,
    seed: ctx.opts.seed,
    quality: ctx.opts.quality,
  });
  let content = json && emptyJson ? '' : composed.content;
  let reasoning = model.reasoning ? composed.reasoning : '';
  let reasoningIds = ctx.interner.encode(reasoning);
  let contentIds = ctx.interner.encode(content);
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
  return { content, reasoning, contentIds, reasoningIds, finish };
}

/**
 * Looks the prompt up in the cache (a best-effort miss may lose the hit), times prefill and
 * output, records what the request leaves in the cache, and prepares its usage and bill.
 */
function serve(
  ctx: ChatContext,
  chat: ParsedChat,
  call: {
    cacheKey: string;
    prompt: Int32Array;
    answer: Answer;
    missDraw: number;
    receivedAt: number;
  },
): Served {
  const { opts, state } = ctx;
  const { model } = chat;
  const { cacheKey, prompt, answer } = call;
  const start = ctx.clock();
  let hit = state.cache.lookup(cacheKey, prompt, start);
  let lostHit = 0;
  if (hit > 0 && call.missDraw < opts.missRate) {
    lostHit = hit;
    hit = 0;
  }
  const miss = prompt.length - hit;
  const reasoningTokens = answer.reasoningIds.length;
  const completion = reasoningTokens + answer.contentIds.length;
  const prefillMs =
    (miss / opts.prefillMissTokensPerSecond +
      hit / (opts.prefillMissTokensPerSecond * HIT_PREFILL_SPEEDUP)) *
    1000;
  const firstTokenMs = state.scaled(
    opts.ttftMs + prefillMs + (prompt.length / 1000) * opts.promptLatencyMsPerKToken,
  );
  const outputMs = state.scaled((completion / opts.outputTokensPerSecond) * 1000);
  const finishedAt = start + firstTokenMs + outputMs;
  const readyAt = finishedAt + state.scaled(state.constructionDelay(cacheKey, start));
  state.cache.record(
    cacheKey,
    prompt,
    // Only the persisted-units rule keeps the answer; skip the copy otherwise.
    opts.cacheModel === 'persisted-units' ? renderWithOutput(prompt, answer.contentIds) : prompt,
    { readyAt, expiresAt: finishedAt + opts.ttlMs },
    start,
  );

  const id = state.nextId(ctx.nonce);
  const usageBody = {
    prompt_tokens: prompt.length,
    completion_tokens: completion,
    total_tokens: prompt.length + completion,
    prompt_tokens_details: { cached_tokens: hit },
    prompt_cache_hit_tokens: hit,
    prompt_cache_miss_tokens: miss,
    ...(model.reasoning
      ? { completion_tokens_details: { reasoning_tokens: reasoningTokens } }
      : {}),
  };
  const charge = (created: number): SimTotals => ({
    requests: 1,
    hitTokens: hit,
    missTokens: miss,
    outputTokens: completion,
    reasoningTokens,
    costNanoUsd: responseCostNanoUsd(
      model.id,
      new Date(opts.pricingInstant === 'created' ? created * 1000 : call.receivedAt),
      {
        promptHitTokens: hit,
        promptMissTokens: miss,
        completionTokens: completion,
        reasoningTokens,
      },
      ctx.catalog(),
    ),
  });
  const billCall = (created: number, abandoned: boolean) => {
    const usage = charge(created);
    state.bill(model.id, chat.user, usage);
    if (lostHit > 0) {
      state.report.bestEffort.misses++;
      state.report.bestEffort.lostHitTokens += lostHit;
    }
    const { messages, maxTokens } = chat;
    opts.onBilled?.({ id, model: model.id, messages, maxTokens, usage, abandoned });
  };
  return {
    id,
    model: model.id,
    reasoning: model.reasoning,
    answer,
    firstTokenMs,
    outputMs,
    usageBody,
    billCall,
  };
}

/** Writes the whole answer as one JSON body once it is done; billed when it was delivered. */
async function writeJson(
  ctx: ChatContext,
  res: ServerResponse,
  hold: Hold,
  served: Served,
  reset: boolean,
): Promise<void> {
  const { answer } = served;
  await ctx.wait(served.firstTokenMs + served.outputMs);
  hold.stop();
  const created = Math.floor(ctx.clock() / 1000);
  const body = JSON.stringify({
    id: served.id,
    object: 'chat.completion',
    created,
    model: served.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: answer.content,
          ...(served.reasoning ? { reasoning_content: answer.reasoning } : {}),
        },
        logprobs: null,
        finish_reason: answer.finish,
      },
    ],
    usage: served.usageBody,
    system_fingerprint: 'fp_sim',
  });
  if (res.destroyed) {
    if (ctx.opts.billAbandoned) served.billCall(created, true);
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
  served.billCall(created, false);
  res.end(body);
}

/**
 * Streams the answer as server-sent events at the output speed, reasoning then content, with
 * the usage chunk when asked; billed when the last chunk went out, never when cut.
 */
async function writeStream(
  ctx: ChatContext,
  res: ServerResponse,
  hold: Hold,
  served: Served,
  { chat, reset }: { chat: ParsedChat; reset: boolean },
): Promise<void> {
  const { answer } = served;
  await ctx.wait(served.firstTokenMs);
  hold.stop();
  if (res.destroyed) return;
  if (!res.headersSent)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const created = Math.floor(ctx.clock() / 1000);
  const includeUsage = chat.request.stream_options?.include_usage === true;
  const event = (fields: object) =>
    `data: ${JSON.stringify({
      id: served.id,
      object: 'chat.completion.chunk',
      created,
      model: served.model,
      system_fingerprint: 'fp_sim',
      ...fields,
    })}\n\n`;
  const chunk = (delta: object, finishReason: string | null) =>
    event({
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const pieces = streamPieces(answer);
  res.write(chunk({ role: 'assistant', content: '' }, null));
  const cutAt = reset ? Math.floor(pieces.length / 2) : -1;
  for (const [i, piece] of pieces.entries()) {
    if (i === cutAt) {
      res.socket?.destroy();
      return;
    }
    await ctx.wait(ctx.state.scaled((piece.tokens / ctx.opts.outputTokensPerSecond) * 1000));
    if (res.destroyed) return;
    res.write(chunk(piece.delta, null));
  }
  if (reset) {
    res.socket?.destroy();
    return;
  }
  served.billCall(created, false);
  res.write(chunk({}, answer.finish));
  if (includeUsage) res.write(event({ choices: [], usage: served.usageBody }));
  res.end('data: [DONE]\n\n');
}

/** The answer in deltas of STREAM_CHUNK_TOKENS tokens, reasoning first. */
function streamPieces(answer: Answer): Array<{ delta: object; tokens: number }> {
  const pieces: Array<{ delta: object; tokens: number }> = [];
  for (const [field, text] of [
    ['reasoning_content', answer.reasoning],
    ['content', answer.content],
  ] as const) {
    const parts = tokenize(text);
    for (let i = 0; i < parts.length; i += STREAM_CHUNK_TOKENS) {
      const slice = parts.slice(i, i + STREAM_CHUNK_TOKENS);
      pieces.push({ delta: { [field]: slice.join('') }, tokens: slice.length });
    }
  }
  return pieces;
}
