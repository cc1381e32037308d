/**
 * What the pipeline's own AWS usage costs: list prices held as dated data (like the model
 * catalog), and the arithmetic that prices a usage. Prices are integer micro-USD per million
 * units, which holds every AWS list price below exactly ($0.0000133334 per GB-second is
 * 13,333,400 per million GB-seconds); a usage times a price is exact in pico-USD, rounded once
 * to integer nano-USD.
 *
 * The rows are us-east-1 list prices, without free tiers, volume tiers or savings plans: the
 * bill of a pipeline that runs at scale in an account that has used its free tier. Every row
 * names its source; rows marked `uncertain` say why. Operators in another region, or with
 * other prices, replace rows with `awsPrices` (settings) or `--aws-prices` (CLI): a later row of
 * the same unit wins from its `from`.
 */

/** What AWS bills the pipeline by, each in the quantity the usage counts. */
export const AWS_UNITS = [
  /** S3 Standard PUT, COPY, POST and LIST requests. */
  's3.putRequests',
  /** S3 Standard GET, HEAD and other requests. */
  's3.getRequests',
  /** DynamoDB on-demand write request units, counted in halves (scale 2). */
  'dynamodb.writeUnits',
  /** DynamoDB on-demand read request units, counted in halves (an eventually consistent read is one half). */
  'dynamodb.readUnits',
  /** SQS standard queue requests (each 64 KB of payload is one). */
  'sqs.standardRequests',
  /** SQS FIFO queue requests (each 64 KB of payload is one). */
  'sqs.fifoRequests',
  /** Lambda invocations. */
  'lambda.requests',
  /** Lambda duration on arm64, counted in MB-milliseconds (memory x billed duration). */
  'lambda.armDuration',
  /** Secrets Manager API calls. */
  'secretsmanager.calls',
  /** CloudWatch Logs ingestion (standard class), counted in bytes. */
  'logs.ingestedBytes',
] as const;
export type AwsUnit = (typeof AWS_UNITS)[number];

/** The units the adapters' own requests are billed in: S3, DynamoDB and SQS (not Lambda, logs or secrets). */
export const AWS_REQUEST_UNITS: readonly AwsUnit[] = [
  's3.putRequests',
  's3.getRequests',
  'dynamodb.writeUnits',
  'dynamodb.readUnits',
  'sqs.standardRequests',
  'sqs.fifoRequests',
];

/** Quantities of each unit; absent means none. */
export type AwsUsage = Partial<Record<AwsUnit, number>>;

/** How many counted quantities make one priced unit: halves of request units, MB-ms of GB-s. */
export const AWS_UNIT_SCALE: Record<AwsUnit, number> = {
  's3.putRequests': 1,
  's3.getRequests': 1,
  'dynamodb.writeUnits': 2,
  'dynamodb.readUnits': 2,
  'sqs.standardRequests': 1,
  'sqs.fifoRequests': 1,
  'lambda.requests': 1,
  // Lambda bills GB-seconds with 1 GB = 1,024 MB: MB x ms / 1,024,000.
  'lambda.armDuration': 1_024_000,
  'secretsmanager.calls': 1,
  // Priced per GB of 10^9 bytes; the price row is per million bytes.
  'logs.ingestedBytes': 1,
};

/** The service line a unit belongs to, for reports. */
export const AWS_SERVICE_OF: Record<AwsUnit, string> = {
  's3.putRequests': 'S3',
  's3.getRequests': 'S3',
  'dynamodb.writeUnits': 'DynamoDB',
  'dynamodb.readUnits': 'DynamoDB',
  'sqs.standardRequests': 'SQS',
  'sqs.fifoRequests': 'SQS',
  'lambda.requests': 'Lambda',
  'lambda.armDuration': 'Lambda',
  'secretsmanager.calls': 'Secrets Manager',
  'logs.ingestedBytes': 'CloudWatch Logs',
};

export interface AwsPriceRow {
  unit: AwsUnit;
  /** Integer micro-USD per million priced units. */
  microUsdPerMillion: number;
  /** ISO instant from which the row applies; until the next row of the same unit. */
  from: string;
  region: string;
  /** Where the price was read. */
  source: string;
  /** Set when the figure, or how AWS applies it, could not be confirmed: why. */
  uncertain?: string;
}

const CHECKED = 'checked 2026-11-30';
/**
 * A row's `from` is the earliest instant it is known to hold, not when AWS set the price: the
 * one price change this book records is DynamoDB's on-demand cut of 1 November 2024 (with the
 * rows before it, from the launch of on-demand on 28 November 2018).
 */
const KNOWN_FROM = '2024-11-01T00:00:00Z';
const S3_PAGE = `aws.amazon.com/s3/pricing (Requests & data retrievals, S3 Standard; the stored page renders its cells as templates, figures read from third-party copies of it), ${CHECKED}`;
const DDB_PAGE = `aws.amazon.com/dynamodb/pricing/on-demand, as quoted after the 1 Nov 2024 cut of 50%, ${CHECKED}`;
const SQS_PAGE = `aws.amazon.com/sqs/pricing (first 100 billion requests a month; a 64 KB chunk of payload is one request), ${CHECKED}`;
const LAMBDA_PAGE = `aws.amazon.com/lambda/pricing (Arm, first 7.5 billion GB-seconds a month), ${CHECKED}`;

/** The built-in rows: us-east-1 list prices. */
export const AWS_PRICE_ROWS: readonly AwsPriceRow[] = [
  {
    unit: 's3.putRequests',
    microUsdPerMillion: 5_000_000,
    from: KNOWN_FROM,
    region: 'us-east-1',
    source: `${S3_PAGE}: $0.005 per 1,000`,
  },
  {
    unit: 's3.getRequests',
    microUsdPerMillion: 400_000,
    from: KNOWN_FROM,
    region: 'us-east-1',
    source: `${S3_PAGE}: $0.0004 per 1,000`,
  },
  {
    unit: 'dynamodb.writeUnits',
    microUsdPerMillion: 1_250_000,
    from: '2018-11-28T00:00:00Z',
    region: 'us-east-1',
    source:
      'aws.amazon.com/dynamodb/pricing/on-demand before the 1 Nov 2024 cut: $1.25 per million',
  },
  {
    unit: 'dynamodb.writeUnits',
    microUsdPerMillion: 625_000,
    from: '2024-11-01T00:00:00Z',
    region: 'us-east-1',
    source: `${DDB_PAGE}: $0.625 per million write request units`,
    uncertain:
      'a ConditionCheck in a transaction and a write whose condition failed are billed, but DynamoDB Local reports no units for them: the meter estimates them (2 read units, 1 write unit)',
  },
  {
    unit: 'dynamodb.readUnits',
    microUsdPerMillion: 250_000,
    from: '2018-11-28T00:00:00Z',
    region: 'us-east-1',
    source:
      'aws.amazon.com/dynamodb/pricing/on-demand before the 1 Nov 2024 cut: $0.25 per million',
  },
  {
    unit: 'dynamodb.readUnits',
    microUsdPerMillion: 125_000,
    from: '2024-11-01T00:00:00Z',
    region: 'us-east-1',
    source: `${DDB_PAGE}: $0.125 per million read request units`,
  },
  {
    unit: 'sqs.standardRequests',
    microUsdPerMillion: 400_000,
    from: KNOWN_FROM,
    region: 'us-east-1',
    source: `${SQS_PAGE}: standard $0.40 per million`,
  },
  {
    unit: 'sqs.fifoRequests',
    microUsdPerMillion: 500_000,
    from: KNOWN_FROM,
    region: 'us-east-1',
    source: `${SQS_PAGE}: FIFO $0.50 per million`,
  },
  {
    unit: 'lambda.requests',
    microUsdPerMillion: 200_000,
    from: KNOWN_FROM,
    region: 'us-east-1',
    source: `${LAMBDA_PAGE}: $0.20 per million requests`,
  },
  {
    unit: 'lambda.armDuration',
    microUsdPerMillion: 13_333_400,
    from: KNOWN_FROM,
    region: 'us-east-1',
    source: `${LAMBDA_PAGE}: $0.0000133334 per GB-second`,
    uncertain:
      "the worker's billed duration is mostly waiting for the provider: benchmarks model that wait from the simulator's latency model (TTFT, prefill, 32 output tokens a second), not from a measured Lambda",
  },
  {
    unit: 'secretsmanager.calls',
    microUsdPerMillion: 5_000_000,
    from: KNOWN_FROM,
    region: 'us-east-1',
    source: `aws.amazon.com/secrets-manager/pricing: $0.05 per 10,000 API calls (and $0.40 per secret a month, not per job), ${CHECKED}`,
  },
  {
    unit: 'logs.ingestedBytes',
    microUsdPerMillion: 500,
    from: KNOWN_FROM,
    region: 'us-east-1',
    source: `aws.amazon.com/cloudwatch/pricing: Logs ingestion, standard class, $0.50 per GB (GB read as 10^9 bytes), ${CHECKED}`,
    uncertain:
      "log bytes are the size of the pipeline's JSON log lines plus an estimate of Lambda's own START/END/REPORT lines and one metrics blob per invocation",
  },
];

/** A price book: the row of each unit in force at an instant. */
export interface AwsPriceBook {
  rows: readonly AwsPriceRow[];
  /** The row of `unit` in force at `at`. @throws RangeError when none is. */
  rowOf(unit: AwsUnit, at: Date): AwsPriceRow;
}

/** A row of a price override, as settings and files write it. */
export type AwsPriceOverride = Omit<AwsPriceRow, 'region' | 'source'> &
  Partial<Pick<AwsPriceRow, 'region' | 'source'>>;

/** The built-in rows, then `overrides` (a later row of a unit wins from its `from`). */
export function awsPriceBook(overrides: readonly AwsPriceOverride[] = []): AwsPriceBook {
  const rows: AwsPriceRow[] = [
    ...AWS_PRICE_ROWS,
    ...overrides.map((o) => {
      if (!AWS_UNITS.includes(o.unit)) throw new RangeError(`unknown AWS price unit ${o.unit}`);
      if (!Number.isSafeInteger(o.microUsdPerMillion) || o.microUsdPerMillion < 0)
        throw new RangeError(`${o.unit}: microUsdPerMillion must be a non-negative integer`);
      if (Number.isNaN(Date.parse(o.from))) throw new RangeError(`${o.unit}: bad from ${o.from}`);
      return { region: 'configured', source: 'configured', ...o };
    }),
  ];
  return {
    rows,
    rowOf(unit, at) {
      let best: AwsPriceRow | undefined;
      for (const row of rows) {
        if (row.unit !== unit || Date.parse(row.from) > at.getTime()) continue;
        // The latest start wins; at equal starts, the later row (an override) wins.
        if (!best || Date.parse(row.from) >= Date.parse(best.from)) best = row;
      }
      if (!best) throw new RangeError(`no AWS price for ${unit} at ${at.toISOString()}`);
      return best;
    },
  };
}

/** One priced line of an AWS bill. */
export interface AwsCostLine {
  unit: AwsUnit;
  service: string;
  quantity: number;
  /** Integer nano-USD, rounded on its own (display; `totalNanoUsd` is rounded once). */
  nanoUsd: number;
  row: AwsPriceRow;
}

export interface AwsCost {
  lines: AwsCostLine[];
  /** Integer nano-USD: the exact sum rounded once, half up. */
  totalNanoUsd: number;
  /** Per service line (S3, DynamoDB, ...), each rounded on its own. */
  byService: Record<string, number>;
}

/** pico-USD (exact BigInt) to nano-USD, half up. */
function picoToNano(pico: bigint): number {
  const nano = (pico + 500n) / 1000n;
  const value = Number(nano);
  if (!Number.isSafeInteger(value)) throw new RangeError('an AWS cost is too large');
  return value;
}

/** Quantity x price: micro-USD per million x quantity / scale = pico-USD, kept exact. */
function picoOf(unit: AwsUnit, quantity: number, row: AwsPriceRow): bigint {
  if (!Number.isSafeInteger(quantity) || quantity < 0)
    throw new RangeError(`${unit} must be a non-negative integer quantity, got ${quantity}`);
  const scale = BigInt(AWS_UNIT_SCALE[unit]);
  // Exact up to the scale: round the division half up (only Lambda's MB-ms can leave a remainder).
  return (BigInt(quantity) * BigInt(row.microUsdPerMillion) * 2n + scale) / (2n * scale);
}

/** Prices a usage at `at`: every line, the exact total, and the total per service. */
export function awsCost(usage: AwsUsage, at: Date, book: AwsPriceBook = awsPriceBook()): AwsCost {
  let total = 0n;
  const lines: AwsCostLine[] = [];
  const byServicePico = new Map<string, bigint>();
  for (const unit of AWS_UNITS) {
    const quantity = usage[unit] ?? 0;
    if (quantity === 0) continue;
    const row = book.rowOf(unit, at);
    const pico = picoOf(unit, quantity, row);
    total += pico;
    const service = AWS_SERVICE_OF[unit];
    byServicePico.set(service, (byServicePico.get(service) ?? 0n) + pico);
    lines.push({ unit, service, quantity, nanoUsd: picoToNano(pico), row });
  }
  return {
    lines,
    totalNanoUsd: picoToNano(total),
    byService: Object.fromEntries([...byServicePico].map(([s, p]) => [s, picoToNano(p)])),
  };
}

/** Adds usages up. */
export function addAwsUsage(...usages: readonly AwsUsage[]): AwsUsage {
  const out: AwsUsage = {};
  for (const usage of usages)
    for (const unit of AWS_UNITS) {
      const q = usage[unit];
      if (q) out[unit] = (out[unit] ?? 0) + q;
    }
  return out;
}

/** A usage times `n` (a per-job profile times the jobs), rounded to whole counted quantities. */
export function scaleAwsUsage(usage: AwsUsage, n: number): AwsUsage {
  const out: AwsUsage = {};
  for (const unit of AWS_UNITS) {
    const q = usage[unit];
    if (q) out[unit] = Math.round(q * n);
  }
  return out;
}
