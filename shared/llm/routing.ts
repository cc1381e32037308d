import type { Sensitivity } from '../types';
import { NoEndpointError } from './errors';

/** An OpenAI-compatible endpoint. The key is resolved by the caller (Secrets Manager, env var). */
export interface LlmEndpoint {
  name: string;
  baseURL: string;
  apiKey: string;
  /**
   * Request field that carries the team's user id: DeepSeek's `user_id` (it isolates the cache
   * per user), OpenAI's `user`, or none for servers that reject unknown fields.
   * Default `user_id`.
   */
  userIdField?: 'user_id' | 'user' | 'none';
}

/**
 * Where each sensitivity goes. `public` is the DeepSeek endpoint; `internal` and `restricted`
 * go only to the endpoint configured for them.
 */
export interface LlmRouting {
  public: LlmEndpoint;
  internal?: LlmEndpoint;
  restricted?: LlmEndpoint;
  userIdByTeam?: Record<string, string>;
}

/** DeepSeek's documented limit on `user_id`. */
export const MAX_USER_ID_BYTES = 512;

/**
 * The endpoint for a job of the given sensitivity. Never falls back to `public` for
 * `internal` or `restricted`: an unconfigured sensitivity is a NoEndpointError.
 */
export function selectEndpoint(routing: LlmRouting, sensitivity: Sensitivity): LlmEndpoint {
  const endpoint = routing[sensitivity];
  if (!endpoint) throw new NoEndpointError(sensitivity);
  return endpoint;
}

/**
 * Checks routing once, when the client is built, so that a bad configuration fails at cold start
 * rather than on the first job. Messages name the endpoint or team, never the key.
 */
export function validateRouting(routing: LlmRouting): void {
  const endpoints = [routing.public, routing.internal, routing.restricted].filter(
    (e): e is LlmEndpoint => e !== undefined,
  );
  for (const e of endpoints) {
    if (!e.name) throw new TypeError('every LLM endpoint needs a name');
    if (!URL.canParse(e.baseURL)) throw new TypeError(`endpoint ${e.name} has an invalid baseURL`);
    if (!e.apiKey) throw new TypeError(`endpoint ${e.name} has no API key`);
  }
  for (const [team, userId] of Object.entries(routing.userIdByTeam ?? {})) {
    if (Buffer.byteLength(userId, 'utf8') > MAX_USER_ID_BYTES)
      throw new TypeError(`user id of team ${team} exceeds ${MAX_USER_ID_BYTES} bytes`);
  }
}
