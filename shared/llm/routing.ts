import type { Catalog } from '../pricing/catalog';
import { highestPrice, type ResolvedPrice } from '../pricing/cost';
import { SENSITIVITIES, type Sensitivity } from '../types';
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
  /**
   * Per sensitivity, the endpoints tried in order after that level's own when its breaker is
   * open: each cleared for the level or a stricter one, never a lower.
   */
  fallbacks?: Partial<Record<Sensitivity, readonly LlmFallbackEndpoint[]>>;
}

/** A fallback endpoint: cleared for a sensitivity, and serving jobs with its own model. */
export interface LlmFallbackEndpoint extends LlmEndpoint {
  clearedFor: Sensitivity;
  /** The model it serves a job with (`gpt-5.4` for a DeepSeek job); absent: the job's own. */
  model?: string;
}

/** What routing needs to know of an endpoint: its name and, when limited, the models it serves. */
export interface RouteEndpoint {
  name: string;
  /** Models the endpoint serves; absent: any. */
  models?: readonly string[];
}

/** A fallback as routing sees it: where it is cleared, and the model it serves jobs with. */
export interface RouteFallback extends RouteEndpoint {
  clearedFor: Sensitivity;
  model?: string;
}

/** Each sensitivity's own endpoint, and its ordered fallbacks (settings `endpoints`). */
export type RouteEndpoints = Partial<Record<Sensitivity, RouteEndpoint>> & {
  fallbacks?: Partial<Record<Sensitivity, readonly RouteFallback[]>> | undefined;
};

/** Whether an endpoint cleared for `cleared` may serve a job of `sensitivity`. */
export function clearedFor(cleared: Sensitivity, sensitivity: Sensitivity): boolean {
  return SENSITIVITIES.indexOf(cleared) >= SENSITIVITIES.indexOf(sensitivity);
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
 * sensitivity and model, in order. A job goes first to the endpoint configured for its own
 * sensitivity, and only if that endpoint serves its model (otherwise the route says why not);
 * then to that level's fallbacks, in order, each cleared for the level or a stricter one and
 * serving the job with its own model. Never to an endpoint for a lower level. The reservation is
 * priced over every candidate, so it holds whichever serves the job.
 */
export function routeJob(
  endpoints: RouteEndpoints,
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
  const candidates: RouteCandidate[] = [
    { endpoint: endpoint.name, clearedFor: sensitivity, model },
  ];
  for (const f of endpoints.fallbacks?.[sensitivity] ?? []) {
    const served = f.model ?? model;
    if (!clearedFor(f.clearedFor, sensitivity)) continue;
    if (f.models && !f.models.includes(served)) continue;
    candidates.push({ endpoint: f.name, clearedFor: f.clearedFor, model: served });
  }
  return { ok: true, candidates };
}

/** A candidate with the dearest price it may be billed at in an interval. */
export interface PricedCandidate extends RouteCandidate {
  worstPrice: ResolvedPrice;
}

/**
 * Each candidate of a route with its worst-case price between `from` and `until` (peak where a
 * peak window can fall in it): what a reservation must hold whichever candidate serves.
 * @throws PricingError for a model no catalog row prices: no call is planned unpriced.
 */
export function priceRoute(
  candidates: readonly RouteCandidate[],
  from: Date,
  until: Date,
  catalog: Catalog,
): PricedCandidate[] {
  return candidates.map((c) => ({ ...c, worstPrice: highestPrice(c.model, from, until, catalog) }));
}

/** An endpoint the client may send a call to, with the model it sends. */
export interface CallCandidate {
  endpoint: LlmEndpoint;
  model: string;
  fallback: boolean;
}

/**
 * The endpoints a call of this sensitivity and model may go to, in order: the level's own
 * (NoEndpointError when there is none), then its fallbacks cleared for it.
 */
export function callCandidates(
  routing: LlmRouting,
  sensitivity: Sensitivity,
  model: string,
): CallCandidate[] {
  const own = selectEndpoint(routing, sensitivity);
  return [
    { endpoint: own, model, fallback: false },
    ...(routing.fallbacks?.[sensitivity] ?? [])
      .filter((f) => clearedFor(f.clearedFor, sensitivity))
      .map((f) => ({ endpoint: f, model: f.model ?? model, fallback: true })),
  ];
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
  const endpoints = [
    routing.public,
    routing.internal,
    routing.restricted,
    ...Object.values(routing.fallbacks ?? {}).flat(),
  ].filter((e): e is LlmEndpoint => e !== undefined);
  for (const [level, list] of Object.entries(routing.fallbacks ?? {}))
    for (const f of list ?? [])
      if (!clearedFor(f.clearedFor, level as Sensitivity))
        throw new TypeError(
          `fallback ${f.name} is cleared for ${f.clearedFor}, below ${level}: it may not serve ${level} jobs`,
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
