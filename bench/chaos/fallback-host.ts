/**
 * The outage mix's fallback: an OpenAI-compatible host serving jobs with another model
 * (GPT-5.4 by default) and billing it at that model's price in the dated catalog, as the real
 * fallback would. It caches nothing (no `cached_tokens`), so a warm-up there could never pay.
 * Every billed call is reported like the simulator's, so the campaign compares the ledger with
 * both providers' bills.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimBilledCall } from '../../local/sim/server';
import { type Catalog, defaultCatalog } from '../../shared/pricing/catalog';
import { costAtPrice, resolvePrice } from '../../shared/pricing/cost';
import { estimateTokens } from '../../shared/tokens';
import { zeroBilledTotals } from '../../shared/totals';

/** Output tokens of every answer: short, like the chaos workload's docs. */
const ANSWER_TOKENS = 48;

export interface FallbackHost {
  url: string;
  apiKey: string;
  model: string;
  calls: SimBilledCall[];
  reset(): void;
  close(): Promise<void>;
}

export async function startFallbackHost(
  options: { model?: string; clock?: () => number; catalog?: Catalog } = {},
): Promise<FallbackHost> {
  const model = options.model ?? 'gpt-5.4';
  const clock = options.clock ?? Date.now;
  const catalog = options.catalog ?? defaultCatalog();
  const apiKey = 'sk-chaos-fallback';
  const calls: SimBilledCall[] = [];
  let n = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'bad key', type: 'authentication_error' } }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      model: string;
      messages: { role: string; content: string }[];
      max_tokens?: number;
    };
    const maxTokens = body.max_tokens ?? 4096;
    const prompt = body.messages.reduce((t, m) => t + estimateTokens(m.content) + 4, 0);
    const output = Math.min(maxTokens, ANSWER_TOKENS);
    const usage = { promptHitTokens: 0, promptMissTokens: prompt, completionTokens: output };
    const now = clock();
    const cost = costAtPrice(resolvePrice(body.model, new Date(now), catalog), {
      ...usage,
      reasoningTokens: 0,
    }).totalNanoUsd;
    const id = `fallback-${++n}-${now}`;
    calls.push({
      id,
      model: body.model,
      messages: body.messages.map((m) => ({ role: m.role, content: m.content })),
      maxTokens,
      usage: {
        ...zeroBilledTotals(),
        requests: 1,
        missTokens: prompt,
        outputTokens: output,
        costNanoUsd: cost,
      },
      abandoned: false,
    } as SimBilledCall);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id,
        object: 'chat.completion',
        created: Math.floor(now / 1000),
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: '# Overview\n\nServed by the fallback.\n' },
            finish_reason: output < maxTokens ? 'stop' : 'length',
          },
        ],
        usage: {
          prompt_tokens: prompt,
          completion_tokens: output,
          total_tokens: prompt + output,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    model,
    calls,
    reset: () => {
      calls.length = 0;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
