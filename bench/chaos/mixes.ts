/**
 * The fault campaign's mixes, and how a mix is judged (docs/reliability.md).
 */
import type { SimConfigurePatch } from '../../local/sim/server';
import { isJobErrorCode, type JobErrorCode, REJECTION_CODES } from '../../shared/job-errors';
import type { JobItem } from '../../shared/ports/jobs';

/** What a mix does to the pipeline. */
export interface Mix {
  name: string;
  description: string;
  /** Faults of the simulated provider during the mix. */
  sim?: SimConfigurePatch;
  /**
   * The worker loses every Nth billed job answer: its call never returns (a worker frozen or
   * killed between the answer and the ledger, in-process).
   */
  crashEvery?: number;
  /**
   * The worker runs in a child process, killed with SIGKILL `kills` times while calls are in
   * flight (every `everyMs` at the soonest), and started again each time.
   */
  sigkill?: { kills: number; everyMs: number };
  /** Every S3 notification of a dropped file is delivered twice. */
  duplicateEvents?: boolean;
  /** The work queue's visibility is 1 s: messages are delivered again while they run. */
  redeliverWork?: boolean;
  /** Every file is dropped twice, 100 ms apart. */
  dropTwice?: boolean;
  /**
   * The public endpoint answers 503 from the mix's start for at least `ms`, and until the jobs
   * dropped into the outage have ended, while a fallback serves; `restrictedFiles` files of a
   * restricted project are dropped in the same run.
   */
  outage?: { ms: number; restrictedFiles: number };
}

export const MIXES: readonly Mix[] = [
  { name: 'baseline', description: 'no faults' },
  {
    name: 'errors',
    description: '20% of requests answer 429, 500 or 503',
    sim: { faults: { rate429: 0.07, rate500: 0.07, rate503: 0.06 } },
  },
  {
    name: 'resets',
    description: '10% of connections reset mid-answer',
    sim: { faults: { resetRate: 0.1 } },
  },
  {
    name: 'stalls',
    description: 'every request held 1.5 s with keep-alive lines',
    sim: { faults: { stallMs: 1_500 } },
  },
  {
    name: 'lost-answers',
    description: 'every 50th billed answer never reaches the worker (in-process)',
    crashEvery: 50,
  },
  {
    name: 'crashes',
    description: 'the worker process killed with SIGKILL 4 times while calls are in flight',
    sigkill: { kills: 4, everyMs: 3_000 },
  },
  {
    name: 'duplicate-events',
    description: 'every S3 notification delivered twice',
    duplicateEvents: true,
  },
  {
    name: 'redelivered-work',
    description: 'work messages delivered again while they run',
    redeliverWork: true,
  },
  { name: 'drop-twice', description: 'every file dropped twice, 100 ms apart', dropTwice: true },
  {
    name: 'outage',
    description:
      'the public endpoint answers 503 for at least 20 s, until the jobs dropped into it have ended; a GPT-5.4 fallback serves; a restricted batch runs beside',
    outage: { ms: 20_000, restrictedFiles: 10 },
  },
];

/**
 * Failure codes that name a cause a person can act on and that no injected fault produces:
 * a failure with one of these is an honest outcome. Any other failure of the campaign (the
 * provider's errors, resets, time-outs, attempts run out, an unnamed error) is an injected
 * transient fault the pipeline should have ridden out, and its input counts as lost.
 */
export const HONEST_FAILURE_CODES: ReadonlySet<JobErrorCode> = new Set<JobErrorCode>([
  'budget',
  'no_endpoint',
  'missing',
  'deadline',
  'BadRequestError',
  'AuthenticationError',
  'InsufficientBalanceError',
  'InvalidParametersError',
]);

/** Whether a job's failure is honest: an input rejected for what it is, or a code above. */
export function honestFailure(job: JobItem): boolean {
  const code = job.error?.code;
  if (!isJobErrorCode(code)) return false;
  return HONEST_FAILURE_CODES.has(code) || (REJECTION_CODES as readonly string[]).includes(code);
}

/** One mix's verdict. */
export interface MixResult {
  mix: string;
  description: string;
  inputs: number;
  /** Inputs with an output object (succeeded or reused). */
  outputs: number;
  /** Inputs without an output that ended failed, skipped or expired with an honest reason. */
  failedHonestly: number;
  /**
   * Inputs with neither: no job, no output object where one was recorded, or a failure whose
   * reason is an injected transient fault; plus inputs whose answer the provider billed and
   * delivered but that ended failed.
   */
  lost: number;
  /** Why the lost inputs were lost (a code, `no output object`, `no job`, ...), with counts. */
  lostReasons: Record<string, number>;
  /** Extra answers the worker received for inputs already answered (duplicate work). */
  billedTwice: number;
  /**
   * What the provider billed against what the ledger holds: requests the provider billed more
   * than once for the same input, calls billed and not recorded exactly (each must be covered by
   * an estimate that is an upper bound), and estimates for calls the provider never billed.
   */
  provider: {
    billedRequests: number;
    recordedExactly: number;
    recordedAsEstimates: number;
    /** Job requests billed again for an input already billed (crashes make these). */
    billedTwiceForAnInput: number;
    /** Calls the provider billed that no exact record holds. */
    billedNotRecorded: number;
    /** Of those, calls whose client was gone when the answer was ready (billed anyway). */
    billedAbandoned: number;
    /** Estimates with no provider call behind them (a worker died before its call got out). */
    estimatesWithoutBill: number;
    /** Billed-unrecorded calls whose estimate is lower than what the provider billed. */
    estimatesBelowBill: number;
    /** Billed-unrecorded calls with no estimate at all. */
    uncovered: number;
  };
  /** Answers billed by the provider and lost with a dying worker (in-process mix). */
  crashed: number;
  /** SIGKILLs sent, and calls in flight at each. */
  kills: { count: number; inFlightAtKill: number[] };
  sim: { requests: number; costNanoUsd: number };
  ledger: {
    requests: number;
    costNanoUsd: number;
    estimatedRequests: number;
    estimatedCostNanoUsd: number;
  };
  /**
   * Every exact record is a call the provider billed, at exactly its bill, and every call
   * billed and not recorded exactly is covered by an estimate at least as large.
   */
  ledgerMatches: boolean;
  /** Per batch, from its first drop to its summary. */
  completionMs: { p50: number; p95: number };
  elapsedMs: number;
  /** The outage mix's figures. */
  outage?: OutageFigures;
}

/** What the outage mix shows: who served, at what price, and what the breaker did. */
export interface OutageFigures {
  /** Job answers recorded in the ledger per endpoint. */
  jobsByEndpoint: Record<string, number>;
  /** Of them, those the fallback served, and their cost in the ledger and on its bill. */
  servedByFallback: number;
  /** results.jsonl lines naming the fallback's endpoint and model, with its finish_reason. */
  resultsFromFallback: number;
  fallbackModel: string;
  fallbackLedgerNanoUsd: number;
  fallbackBilledNanoUsd: number;
  /** Requests the public endpoint answered with the outage's 503 (nothing billed). */
  refusedByPrimary: number;
  /** The public endpoint's breaker: times it opened and closed, and where it ended. */
  breaker: { opened: number; closed: number; status: string };
  /** The restricted batch: its inputs, outputs, and requests that reached a public endpoint. */
  restricted: { inputs: number; outputs: number; requestsToPublic: number };
}

/** Faults planted in the product itself, to prove the campaign sees them. */
export const MUTATIONS = ['answered-as-failed'] as const;
export type Mutation = (typeof MUTATIONS)[number];

export interface ChaosOptions {
  jobs: number;
  mixes: readonly Mix[];
  timeoutMs?: number;
  /** Jobs of the unreported first run that warms the emulators up; default `jobs`. */
  warmupJobs?: number;
  /** A running DynamoDB Local (and table prefix) for the in-process mixes: no JVM to start. */
  dynamodb?: { dynamodbEndpoint: string; tablePrefix: string };
  /** Plants a fault in the product (in-process mixes): the campaign must then fail. */
  mutation?: Mutation;
  onMix?: (r: MixResult) => void;
}

/** Whether a mix's result breaks a promise of docs/reliability.md. */
export function mixFailed(r: MixResult, mix?: Mix): boolean {
  const crashes = mix ? mix.crashEvery !== undefined || mix.sigkill !== undefined : true;
  return (
    r.lost > 0 ||
    !r.ledgerMatches ||
    // Without crashes nothing may be billed twice; a crash can make the provider bill twice.
    (!crashes && (r.billedTwice > 0 || r.provider.billedTwiceForAnInput > 0)) ||
    (mix?.outage !== undefined && outageFailed(r.outage))
  );
}

/**
 * Whether the outage mix failed its promise: the fallback served at its own price (the ledger
 * equal to its bill), the breaker opened and closed again, and no restricted request reached a
 * public endpoint.
 */
function outageFailed(o: OutageFigures | undefined): boolean {
  return (
    o === undefined ||
    o.servedByFallback === 0 ||
    o.resultsFromFallback !== o.servedByFallback ||
    o.fallbackLedgerNanoUsd !== o.fallbackBilledNanoUsd ||
    o.breaker.opened === 0 ||
    o.breaker.closed === 0 ||
    o.restricted.requestsToPublic > 0 ||
    o.restricted.outputs < o.restricted.inputs
  );
}
