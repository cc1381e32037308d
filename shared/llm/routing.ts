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

/** What routing needs to know of an endpoint: its name and, when limited, the models it serves. */
export interface RouteEndpoint {
  name: string;
  /** Models the endpoint serves; absent: any. */
  models?: readonly string[];
}

/** One endpoint and model that may serve a job, in the order they are to be tried. */
export interface RouteCandidate {
  /** The endpoint's name (ENDPOINT_NAMES: the secret's key, the ledger's `endpoint`). */
  endpoint: string;
  /** The sensitivity level the endpoint is cleared for: never below the job's. */
  clearedFor: Sensitivity;
  model: string;
}

/** Where a job may go, or why it may go nowhere (the planner fails it with the reason). */
export type Route =
  | { ok: true; candidates: RouteCandidate[] }
  | { ok: false; code: 'no_endpoint'; reason: string };

/**
 * The one routing decision, for the planner (jobs, repairs, shadow runs) and, through
 * `selectEndpoint`, the LLM client: the endpoints and models that may serve a job of this
 * sensitivity and model, in order. A job goes only to the endpoint configured for its own
 * sensitivity, never to one for a lower level, and only if that endpoint serves its model;
 * otherwise the route says why not. The reservation is priced over every candidate, so it holds
 * whichever serves the job.
 */
export function routeJob(
  endpoints: Partial<Record<Sensitivity, RouteEndpoint>>,
  sensitivity: Sensitivity,
  model: string,
): Route {
  const endpoint = endpoints[sensitivity];
  if (!endpoint)
    return {
      ok: false,
      code: 'no_endpoint',
      reason: `no LLM endpoint is configured for ${sensitivity} inputs, and they are never sent to the public endpoint or one for a lower sensitivity: configure endpoints.${sensitivity}`,
    };
  if (endpoint.models && !endpoint.models.includes(model))
    return {
      ok: false,
      code: 'no_endpoint',
      reason: `the ${sensitivity} endpoint ${endpoint.name} does not serve ${model} (endpoints.${sensitivity}.models: ${endpoint.models.join(', ')})`,
    };
  return { ok: true, candidates: [{ endpoint: endpoint.name, clearedFor: sensitivity, model }] };
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
