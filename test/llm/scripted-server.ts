import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer: a status, headers and a JSON body. */
export interface ScriptedReply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * An OpenAI-compatible endpoint that answers from a script, for the few provider behaviours the
 * DeepSeek simulator does not produce on demand (early finish reasons, exact Retry-After values).
 * When the script runs out it repeats its last reply.
 */
export async function startScriptedServer(script: ScriptedReply[]) {
  const received: ReceivedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({
      headers: req.headers,
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
    });
    const reply = script[Math.min(received.length, script.length) - 1];
    if (!reply) throw new Error('empty script');
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(JSON.stringify(reply.body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    received,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A DeepSeek-shaped chat completion. */
export function completion(over: { content?: string; finishReason?: string; id?: string } = {}) {
  return {
    id: over.id ?? 'resp-1',
    object: 'chat.completion',
    created: 1_793_000_000,
    model: 'deepseek-chat',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: over.content ?? '{"ok":true}' },
        finish_reason: over.finishReason ?? 'stop',
      },
    ],
    usage: {
      prompt_tokens: 100,
      completion_tokens: 7,
      total_tokens: 107,
      prompt_cache_hit_tokens: 64,
      prompt_cache_miss_tokens: 36,
    },
  };
}

/** A provider error body. */
export function errorBody(message: string) {
  return { error: { message, type: 'invalid_request_error', code: null } };
}
