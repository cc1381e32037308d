import { type SimHandle, type SimStartOptions, startSimulator } from '../../local/sim/server';
import { clockMs, fixedClock, runningClock } from '../../shared/clock';

export const KEY = 'sim-key';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatResponse {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: string; content: string; reasoning_content?: string };
    finish_reason: string;
  }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_cache_hit_tokens: number;
    prompt_cache_miss_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
    completion_tokens_details?: { reasoning_tokens: number };
  };
}

/**
 * A simulator on a free port with a movable clock and (almost) no simulated latency, so cache
 * readiness and expiry are decided by the test moving the clock, not by waiting.
 */
export async function startTestSim(
  options: SimStartOptions = {},
): Promise<SimHandle & { advance(ms: number): void }> {
  const clock = fixedClock('2026-11-02T12:00:00Z');
  const sim = await startSimulator({
    port: 0,
    timeScale: 1,
    ttftMs: 0,
    outputTokensPerSecond: 1e12,
    prefillMissTokensPerSecond: 1e12,
    constructionDelayMs: 1000,
    clock: () => clock.now().getTime(),
    ...options,
  });
  return Object.assign(sim, { advance: (ms: number) => clock.advance(ms) });
}

/** The simulator tests' instant: a Monday noon UTC, off-peak for DeepSeek. */
export const SIM_EPOCH = '2026-11-02T12:00:00Z';

/**
 * A clock at real pace for tests that wait on simulated latency, starting from a pinned instant
 * (deepseek-v4-flash priced) so that what is served and billed does not depend on the date.
 */
export const realPace = (): (() => number) => clockMs(runningClock(SIM_EPOCH));

/** Sends a chat completion and returns the raw fetch Response. */
export function post(sim: SimHandle, body: unknown, key: string | null = KEY): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  return fetch(`${sim.url}/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
}

/** Sends a chat completion that must succeed and returns its parsed body. */
export async function chat(sim: SimHandle, body: Record<string, unknown>): Promise<ChatResponse> {
  const res = await post(sim, { model: 'deepseek-v4-flash', ...body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}: ${text}`);
  return JSON.parse(text) as ChatResponse;
}

/** A text of exactly `words` tokens under shared/tokens (one word with its leading space each). */
export function words(count: number, word = 'alpha'): string {
  return Array.from(
    { length: count },
    (_, i) => ` ${word}${String.fromCharCode(97 + (i % 26))}`,
  ).join('');
}

export const system = (text: string): ChatMessage => ({ role: 'system', content: text });
export const user = (text: string): ChatMessage => ({ role: 'user', content: text });
export const assistant = (text: string): ChatMessage => ({ role: 'assistant', content: text });

/** A TypeScript source file as the pipeline's fourth message carries it. */
export function sourceMessage(path: string, code: string): ChatMessage {
  return user(`File: ${path}\n\n\`\`\`\n${code}\n\`\`\`\n\nFollow the instructions above.`);
}
