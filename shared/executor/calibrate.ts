/**
 * Calibration: a handful of cheap requests that measure a provider's context cache, so the
 * executor starts from figures rather than a guess (`warmbatch calibrate`).
 *
 * For each of `samples` prefixes of its own (a random nonce first, so nothing cached before can
 * serve it): one warm-up (the prefix, `max_tokens` 1), then probes of the same prefix at growing
 * waits until one is served or `maxWaitMs` has passed; the first served wait is an upper bound of
 * the construction delay. Then `warmProbes` more probes of a served prefix, to see how often a
 * warm prefix still misses. Every request is one output token; the cost is bounded beforehand by
 * pricing every request as a full miss (`calibrationCostBound`).
 */
import { randomBytes } from 'node:crypto';
import type { LlmClient, LlmResponse } from '../llm/client';
import type { Catalog } from '../pricing/catalog';
import { requestCost } from '../pricing/cost';
import type { ChatMessage } from '../types';
import { CacheProfile, type CacheProfileData, emptyProfile } from './profile';

export interface CalibrationPlan {
  model: string;
  /** Endpoint name, for the profile's key. */
  endpoint: string;
  /** Prefixes measured, each with its own warm-up. */
  samples: number;
  /** Approximate tokens of each prefix. */
  prefixTokens: number;
  /** First probe this long after the warm-up; each next one `growth` times later. */
  firstWaitMs: number;
  growth: number;
  /** Give a prefix up after this long. */
  maxWaitMs: number;
  /** Probes of a served prefix, to count best-effort misses. */
  warmProbes: number;
}

export const DEFAULT_CALIBRATION: Omit<CalibrationPlan, 'model' | 'endpoint'> = {
  samples: 3,
  prefixTokens: 1_100,
  firstWaitMs: 50,
  growth: 1.5,
  maxWaitMs: 45_000,
  warmProbes: 6,
};

/** Probes one prefix may take at most: the first wait grown until past the longest wait. */
export function maxProbesPerSample(plan: CalibrationPlan): number {
  let n = 0;
  for (let w = plan.firstWaitMs; w <= plan.maxWaitMs; w *= plan.growth) n++;
  return Math.max(1, n);
}

/** The most requests a plan may send. */
export function calibrationRequests(plan: CalibrationPlan): number {
  return plan.samples * (1 + maxProbesPerSample(plan)) + plan.warmProbes;
}

/**
 * The most a plan may cost, nano-USD: every request priced as a full miss of its prompt plus its
 * output token, at `at` (the dearest it can be; most probes are billed cheaper).
 */
export function calibrationCostBound(plan: CalibrationPlan, at: Date, catalog?: Catalog): number {
  const one = requestCost(
    plan.model,
    at,
    {
      // The chat template adds a few tokens around the prefix.
      promptHitTokens: 0,
      promptMissTokens: plan.prefixTokens + 16,
      completionTokens: 1,
      reasoningTokens: 0,
    },
    catalog,
  ).totalNanoUsd;
  return one * calibrationRequests(plan);
}

export interface CalibrationSample {
  /** First wait (ms after the warm-up's answer) at which the prefix was served; none if never. */
  readyWithinMs?: number;
  /** Last wait at which it was not served. */
  notReadyAtMs?: number;
  probes: number;
}

export interface CalibrationResult {
  model: string;
  endpoint: string;
  samples: CalibrationSample[];
  /** Probes of a served prefix, and those that missed it. */
  warmProbes: number;
  warmMisses: number;
  /** Round trips of the short requests, ms: cache misses and hits. */
  latencyMs: { miss: number[]; hit: number[] };
  requests: number;
  /** What the provider billed, from each answer's usage, nano-USD. */
  costNanoUsd: number;
  /** The profile the executor starts from. */
  profile: CacheProfileData;
}

export interface CalibrationDeps {
  llm: LlmClient;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  catalog?: Catalog;
  /** Told of each request's outcome (a line of progress; no prompt). */
  onProbe?: (line: string) => void;
}

/** Text of about `tokens` tokens that no earlier request can share beyond its first word. */
function uniquePrefix(tokens: number): ChatMessage[] {
  const nonce = randomBytes(8).toString('hex');
  const words = Array.from({ length: tokens }, (_, i) => `w${(i * 7919) % 10007}`);
  return [
    { role: 'system', content: `calibration ${nonce}. ${words.join(' ')}` },
    { role: 'user', content: 'Reply with one word.' },
    { role: 'assistant', content: 'ok' },
  ];
}

/** Runs a calibration plan and returns what it measured, with the profile to start from. */
export async function calibrate(
  plan: CalibrationPlan,
  deps: CalibrationDeps,
): Promise<CalibrationResult> {
  const latency = { miss: [] as number[], hit: [] as number[] };
  let requests = 0;
  let cost = 0;
  const send = async (messages: ChatMessage[]): Promise<LlmResponse> => {
    const started = deps.now();
    const response = await deps.llm.complete(
      { model: plan.model, messages, maxTokens: 1, sensitivity: 'public', team: 'calibrate' },
      { deadline: started + plan.maxWaitMs + 120_000 },
    );
    requests++;
    for (const billed of [...response.discarded.map((d) => d.usage), response.usage])
      cost += requestCost(plan.model, new Date(response.sentAt), billed, deps.catalog).totalNanoUsd;
    const served = response.usage.promptHitTokens > 0;
    (served ? latency.hit : latency.miss).push(deps.now() - started);
    return response;
  };

  const samples: CalibrationSample[] = [];
  let warmPrefix: ChatMessage[] | undefined;
  for (let s = 0; s < plan.samples; s++) {
    const prefix = uniquePrefix(plan.prefixTokens);
    await send(prefix);
    const warmedAt = deps.now();
    const sample: CalibrationSample = { probes: 0 };
    for (let wait = plan.firstWaitMs; wait <= plan.maxWaitMs; wait *= plan.growth) {
      await deps.sleep(Math.max(0, warmedAt + wait - deps.now()));
      const waited = deps.now() - warmedAt;
      const r = await send(prefix);
      sample.probes++;
      if (r.usage.promptHitTokens > 0) {
        sample.readyWithinMs = waited;
        warmPrefix = prefix;
        break;
      }
      sample.notReadyAtMs = waited;
    }
    deps.onProbe?.(
      sample.readyWithinMs === undefined
        ? `prefix ${s + 1}: never served within ${plan.maxWaitMs} ms`
        : `prefix ${s + 1}: served within ${sample.readyWithinMs} ms (not at ${sample.notReadyAtMs ?? 0} ms)`,
    );
    samples.push(sample);
  }

  let warmMisses = 0;
  let warmProbes = 0;
  if (warmPrefix)
    for (let i = 0; i < plan.warmProbes; i++) {
      const r = await send(warmPrefix);
      warmProbes++;
      if (r.usage.promptHitTokens === 0) warmMisses++;
    }

  const at = new Date(deps.now());
  const profile = new CacheProfile({
    ...emptyProfile(CacheProfile.key(plan.endpoint, plan.model), at),
    source: 'calibrate',
  });
  for (const sample of samples) {
    if (sample.readyWithinMs !== undefined) profile.observeCheck(sample.readyWithinMs, true, at);
    else if (sample.notReadyAtMs !== undefined) profile.observeNeverServed(sample.notReadyAtMs, at);
  }
  for (let i = 0; i < warmProbes; i++) profile.observeAnswer(0, i >= warmMisses, true, at);
  for (const ms of latency.miss.concat(latency.hit)) profile.observeProbeLatency(ms);
  const data = { ...profile.data, source: 'calibrate' as const, probes: 0, wastedProbes: 0 };
  return {
    model: plan.model,
    endpoint: plan.endpoint,
    samples,
    warmProbes,
    warmMisses,
    latencyMs: latency,
    requests,
    costNanoUsd: cost,
    profile: data,
  };
}
