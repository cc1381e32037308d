/**
 * Self-hosting break-even: a deployment of the open weights costs a fixed amount a month
 * whatever it serves, an API costs per token. For a workload shape (tokens per job) this says,
 * against each API model, from which monthly volume (and so which monthly API spend) the fixed
 * cost is the cheaper, and which option is cheapest at a given volume. Pure, integers only:
 * prices are micro-USD per 1M tokens, so a job's API cost is exact in pico-USD and every
 * comparison is made there, in BigInt; results are rounded once to nano-USD.
 */

import { type Catalog, defaultCatalog } from './catalog';
import { resolvePrice, type Tier } from './cost';
import { formatUsd } from './estimate';

/**
 * The playbook's self-hosting costs for DeepSeek V3.2: 8x H100 80GB minimum (~$25,000 a month),
 * 16 recommended (~$50,000 a month).
 */
export const PLAYBOOK_SELF_HOST_MONTHLY_USD = { minimum: 25_000, recommended: 50_000 } as const;

const NANO_PER_USD = 1_000_000_000n;
const PICO_PER_NANO = 1_000n;

/** A workload shape and the deployments and API models to weigh against each other. */
export interface SelfHostSpec {
  at: Date;
  /** API models to weigh self-hosting against (the workload's model first). */
  models: readonly string[];
  /** Prompt tokens of one job, cached part included, and the cached part. */
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  /** Monthly fixed cost of one deployment, integer nano-USD; one entry per deployment size. */
  monthlyCostsNanoUsd: readonly number[];
  /** Tokens (prompt + output) one deployment serves a month; absent: not limited. */
  capacityTokensPerMonth?: number;
  /** A monthly volume at which to name the cheapest option. */
  jobsPerMonth?: number;
}

/** One API model's price of a job, as the break-even uses it. */
export interface ApiJobPrice {
  model: string;
  billedAs: string;
  tier: Tier;
  /** A job's cost, exact. */
  perJobPicoUsd: bigint;
}

/** Where one deployment size breaks even against one API model. */
export interface BreakEven {
  model: string;
  /** A job's cost on the API, rounded to nano-USD (display; the computation is exact). */
  perJobNanoUsd: number;
  /** The least whole number of jobs a month whose API cost reaches the fixed cost; null: never. */
  jobsPerMonth: number | null;
  tokensPerMonth: number | null;
  /** The monthly API spend at which self-hosting breaks even: the fixed cost; null: never. */
  apiSpendNanoUsd: number | null;
  /** Why it never breaks even. */
  reason?: string;
}

export interface SelfHostOption {
  monthlyCostNanoUsd: number;
  breakEven: BreakEven[];
}

/** One way to run `jobsPerMonth` jobs, and what it costs a month. */
export interface MonthlyOption {
  option: 'api' | 'self-host';
  /** The API model, or the self-hosted deployment's name. */
  name: string;
  costNanoUsd: number;
  /** Self-hosting: deployments needed for the volume (capacity), each at `monthlyCostNanoUsd`. */
  deployments?: number;
  monthlyCostNanoUsd?: number;
}

export interface AtVolume {
  jobsPerMonth: number;
  tokensPerMonth: number;
  /** Cheapest first. */
  options: MonthlyOption[];
  cheapest: string;
}

export interface SelfHostEstimate {
  tokensPerJob: number;
  capacityTokensPerMonth: number | null;
  prices: ApiJobPrice[];
  options: SelfHostOption[];
  atVolume?: AtVolume;
}

function picoToNano(pico: bigint): number {
  const nano = Number((pico + PICO_PER_NANO / 2n) / PICO_PER_NANO);
  if (!Number.isSafeInteger(nano)) throw new RangeError(`${pico} pico-USD is too large`);
  return nano;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function safe(name: string, value: bigint): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${name} is too large (${value})`);
  return n;
}

function count(name: string, value: number, min = 0): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`);
  return value;
}

/** The name of a self-hosted deployment in reports: `self-host $25,000/month`. */
export function selfHostName(monthlyCostNanoUsd: number): string {
  const whole = BigInt(monthlyCostNanoUsd) / NANO_PER_USD;
  const cents = (BigInt(monthlyCostNanoUsd) % NANO_PER_USD).toString().padStart(9, '0');
  const fraction = cents.replace(/0+$/, '');
  return `self-host $${whole.toLocaleString('en-US')}${fraction ? `.${fraction}` : ''}/month`;
}

function breakEven(
  price: ApiJobPrice,
  fixedNanoUsd: number,
  tokensPerJob: number,
  capacity: number | undefined,
): BreakEven {
  const perJobNanoUsd = picoToNano(price.perJobPicoUsd);
  const never = (reason: string): BreakEven => ({
    model: price.model,
    perJobNanoUsd,
    jobsPerMonth: null,
    tokensPerMonth: null,
    apiSpendNanoUsd: null,
    reason,
  });
  if (price.perJobPicoUsd === 0n) return never('a job costs nothing on the API');
  const fixedPico = BigInt(fixedNanoUsd) * PICO_PER_NANO;
  const jobs = ceilDiv(fixedPico, price.perJobPicoUsd);
  const tokens = jobs * BigInt(tokensPerJob);
  if (capacity !== undefined && tokens > BigInt(capacity)) {
    // Each further deployment adds its fixed cost and its capacity alike: if one full
    // deployment serves less API work than it costs, n of them do too.
    const perDeploymentJobs = tokensPerJob === 0 ? 0n : BigInt(capacity) / BigInt(tokensPerJob);
    const served = picoToNano(perDeploymentJobs * price.perJobPicoUsd);
    return never(
      `one deployment serves at most ${perDeploymentJobs} jobs a month, ${formatUsd(served)} of ${price.model} API work, less than its monthly cost`,
    );
  }
  return {
    model: price.model,
    perJobNanoUsd,
    jobsPerMonth: safe('break-even jobs a month', jobs),
    tokensPerMonth: safe('break-even tokens a month', tokens),
    apiSpendNanoUsd: fixedNanoUsd,
  };
}

/**
 * Weighs a fixed monthly cost against per-token API prices at `spec.at`: per deployment size and
 * API model, the break-even volume and spend; and, with `jobsPerMonth`, every option's monthly
 * cost at that volume, cheapest first.
 * @throws RangeError on bad counts or costs; PricingError for a model not priced at `spec.at`.
 */
export function selfHostBreakEven(
  spec: SelfHostSpec,
  catalog: Catalog = defaultCatalog(),
): SelfHostEstimate {
  const input = count('inputTokens', spec.inputTokens);
  const cached = count('cachedTokens', spec.cachedTokens);
  const output = count('outputTokens', spec.outputTokens);
  if (cached > input)
    throw new RangeError(`cachedTokens (${cached}) exceed inputTokens (${input})`);
  const tokensPerJob = input + output;
  const capacity =
    spec.capacityTokensPerMonth === undefined
      ? undefined
      : count('capacityTokensPerMonth', spec.capacityTokensPerMonth, 1);
  if (spec.monthlyCostsNanoUsd.length === 0) throw new RangeError('no self-hosting cost given');
  for (const c of spec.monthlyCostsNanoUsd) count('monthly self-hosting cost', c, 1);

  const prices = spec.models.map((model): ApiJobPrice => {
    const price = resolvePrice(model, spec.at, catalog, { holidaysUnknown: 'peak' });
    return {
      model,
      billedAs: price.billedAs,
      tier: price.tier,
      perJobPicoUsd:
        BigInt(input - cached) * BigInt(price.miss) +
        BigInt(cached) * BigInt(price.hit) +
        BigInt(output) * BigInt(price.output),
    };
  });
  const options = spec.monthlyCostsNanoUsd.map((fixed) => ({
    monthlyCostNanoUsd: fixed,
    breakEven: prices.map((p) => breakEven(p, fixed, tokensPerJob, capacity)),
  }));
  const result: SelfHostEstimate = {
    tokensPerJob,
    capacityTokensPerMonth: capacity ?? null,
    prices,
    options,
  };
  if (spec.jobsPerMonth === undefined) return result;

  const jobs = count('jobsPerMonth', spec.jobsPerMonth);
  const tokens = BigInt(jobs) * BigInt(tokensPerJob);
  const deployments =
    capacity === undefined ? 1n : tokens === 0n ? 1n : ceilDiv(tokens, BigInt(capacity));
  const monthly: MonthlyOption[] = [
    ...prices.map(
      (p): MonthlyOption => ({
        option: 'api',
        name: p.model,
        costNanoUsd: picoToNano(BigInt(jobs) * p.perJobPicoUsd),
      }),
    ),
    ...spec.monthlyCostsNanoUsd.map(
      (fixed): MonthlyOption => ({
        option: 'self-host',
        name: selfHostName(fixed),
        costNanoUsd: safe('self-hosting cost', deployments * BigInt(fixed)),
        deployments: safe('deployments', deployments),
        monthlyCostNanoUsd: fixed,
      }),
    ),
  ];
  // Stable: on a tie the API (listed first) stays ahead: no fixed commitment for the same money.
  monthly.sort((a, b) => a.costNanoUsd - b.costNanoUsd);
  result.atVolume = {
    jobsPerMonth: jobs,
    tokensPerMonth: safe('tokens a month', tokens),
    options: monthly,
    cheapest: (monthly[0] as MonthlyOption).name,
  };
  return result;
}

/** Integer nano-USD as the decimal USD string and the integer beside it, as JSON outputs carry money. */
export function moneyJson(nano: number): { usd: string; nanoUsd: number } {
  if (!Number.isSafeInteger(nano)) throw new RangeError(`not an integer nano-USD amount: ${nano}`);
  const sign = nano < 0 ? '-' : '';
  const abs = BigInt(Math.abs(nano));
  const usd = `${sign}${abs / NANO_PER_USD}.${(abs % NANO_PER_USD).toString().padStart(9, '0')}`;
  return { usd, nanoUsd: nano };
}

/** A USD amount as written by a person (`25000`, `25000.50`) to exact integer nano-USD. */
export function usdToNano(text: string): number {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a USD amount with at most 9 decimals: ${JSON.stringify(text)}`);
  const nano = BigInt(m[1] as string) * NANO_PER_USD + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  return safe('USD amount', nano);
}

/** The `selfHost` section of `estimate --json`: money as `{usd, nanoUsd}` pairs. */
export function selfHostToJson(e: SelfHostEstimate) {
  return {
    tokensPerJob: e.tokensPerJob,
    capacityTokensPerMonth: e.capacityTokensPerMonth,
    options: e.options.map((o) => ({
      name: selfHostName(o.monthlyCostNanoUsd),
      monthlyCost: moneyJson(o.monthlyCostNanoUsd),
      breakEven: o.breakEven.map((b) => ({
        model: b.model,
        perJob: moneyJson(b.perJobNanoUsd),
        jobsPerMonth: b.jobsPerMonth,
        tokensPerMonth: b.tokensPerMonth,
        apiSpendPerMonth: b.apiSpendNanoUsd === null ? null : moneyJson(b.apiSpendNanoUsd),
        ...(b.reason ? { reason: b.reason } : {}),
      })),
    })),
    ...(e.atVolume
      ? {
          atVolume: {
            jobsPerMonth: e.atVolume.jobsPerMonth,
            tokensPerMonth: e.atVolume.tokensPerMonth,
            cheapest: e.atVolume.cheapest,
            options: e.atVolume.options.map((o) => ({
              option: o.option,
              name: o.name,
              cost: moneyJson(o.costNanoUsd),
              ...(o.deployments !== undefined ? { deployments: o.deployments } : {}),
            })),
          },
        }
      : {}),
  };
}
