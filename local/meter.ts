/**
 * Counts every AWS request the pipeline's SDK clients send, for the benchmarks that price the
 * pipeline's own bill (docs/benchmarks.md "The whole bill"), and can delay each one by a chosen
 * latency, so a run against the local emulators can be made to wait as long as AWS would.
 *
 * It is a middleware on the clients, so it counts what the adapters really send (one entry per
 * `send`, before the SDK's own retries), not what the domain meant to do. DynamoDB requests ask
 * for `ReturnConsumedCapacity` and the units the service reports are what is counted; requests
 * that failed (a condition that did not hold, a cancelled transaction) report none, so their
 * units are estimated as AWS bills them (a failed conditional write still consumes a write) and
 * counted apart as estimated. Calls are attributed to the caller named by `meter.scope`
 * (a function name), or to `unscoped`.
 *
 * Never installed by the Lambda handlers: the local runtime and the benchmarks install it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AwsUsage } from '../shared/pricing/aws';

export type AwsService = 's3' | 'sqs' | 'dynamodb' | 'secretsmanager';

/** What one operation of one service added up to, for one caller. */
export interface OperationTally {
  /** Requests sent (one per `send`). */
  calls: number;
  /** Of `calls`: those that failed (the failure may still be billed). */
  failed: number;
  /**
   * Requests as the service bills them: SQS bills each 64 KB of a request's payload as one
   * request; every other service one per call.
   */
  billed: number;
  /** DynamoDB read and write request units (on-demand), as reported or estimated. */
  readUnits: number;
  writeUnits: number;
  /** Of the units: those estimated because the service reported none (failed requests). */
  estimatedReadUnits: number;
  estimatedWriteUnits: number;
  /** SQS ReceiveMessage calls that returned no message (what an idle poller costs). */
  empty: number;
}

/** caller -> service -> operation -> tally. */
export type MeterSnapshot = Record<
  string,
  Partial<Record<AwsService, Record<string, OperationTally>>>
>;

export interface AwsMeter {
  /** Runs `fn` with every AWS call it makes (however deep, across awaits) attributed to `caller`. */
  scope<T>(caller: string, fn: () => T): T;
  /** A deep copy of the counts so far. */
  snapshot(): MeterSnapshot;
  reset(): void;
  /** Records one call; the middleware calls it. */
  record(service: AwsService, operation: string, add: Partial<OperationTally>): void;
}

/** Appended to an SQS operation sent to a FIFO queue (`SendMessageBatch.fifo`). */
export const FIFO_SUFFIX = '.fifo';

/** Calls made outside any `scope`. */
export const UNSCOPED = 'unscoped';

/** SQS bills every 64 KB chunk of a request's payload as one request. */
export const SQS_CHUNK_BYTES = 65_536;

const emptyTally = (): OperationTally => ({
  calls: 0,
  failed: 0,
  billed: 0,
  readUnits: 0,
  writeUnits: 0,
  estimatedReadUnits: 0,
  estimatedWriteUnits: 0,
  empty: 0,
});

/** A meter that keeps its counts in memory. */
export function createAwsMeter(): AwsMeter {
  const callers = new AsyncLocalStorage<string>();
  let counts: MeterSnapshot = {};
  return {
    scope: (caller, fn) => callers.run(caller, fn),
    snapshot: () => structuredClone(counts),
    reset: () => {
      counts = {};
    },
    record(service, operation, add) {
      const caller = callers.getStore() ?? UNSCOPED;
      counts[caller] ??= {};
      const byService = counts[caller];
      byService[service] ??= {};
      const byOperation = byService[service];
      byOperation[operation] ??= emptyTally();
      const tally = byOperation[operation];
      for (const [key, value] of Object.entries(add) as [keyof OperationTally, number][])
        tally[key] += value;
    },
  };
}

/** The smallest view of an AWS SDK v3 client the meter needs: its middleware stack. */
export interface MeterableClient {
  middlewareStack: {
    // biome-ignore lint/suspicious/noExplicitAny: every SDK client types its stack with its own command unions; the meter handles any of them
    add(middleware: any, options: { step: 'initialize'; name: string; override?: boolean }): void;
  };
}

export interface MeterOptions {
  /** Milliseconds each request waits before it is sent (an AWS-like latency); none by default. */
  latencyMs?: () => number;
}

const MIDDLEWARE_NAME = 'warmbatchMeter';

/**
 * Installs the meter (and the optional latency) on an SDK client. A DynamoDB document client
 * shares its base client's stack: install on one of them only.
 */
export function meterClient(
  client: MeterableClient,
  service: AwsService,
  meter: AwsMeter,
  options: MeterOptions = {},
): void {
  const middleware =
    (
      next: (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>,
      context: {
        commandName?: string;
      },
    ) =>
    async (args: { input: Record<string, unknown> }) => {
      const name = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      // FIFO and standard queues are priced apart.
      const fifo = service === 'sqs' && String(args.input.QueueUrl ?? '').endsWith('.fifo');
      const operation = fifo ? `${name}${FIFO_SUFFIX}` : name;
      if (service === 'dynamodb') args.input.ReturnConsumedCapacity = 'TOTAL';
      const delay = options.latencyMs?.() ?? 0;
      if (delay > 0) await sleep(delay);
      try {
        const result = await next(args);
        meter.record(service, operation, {
          calls: 1,
          billed: billedRequests(service, operation, args.input, result.output),
          ...(service === 'dynamodb' ? dynamoUnits(operation, args.input, result.output) : {}),
          ...(service === 'sqs' && operation === 'ReceiveMessage' && receivedNone(result.output)
            ? { empty: 1 }
            : {}),
        });
        return result;
      } catch (err) {
        const units = service === 'dynamodb' ? failedDynamoUnits(operation, args.input) : {};
        meter.record(service, operation, {
          calls: 1,
          failed: 1,
          billed: 1,
          ...units,
        });
        throw err;
      }
    };
  client.middlewareStack.add(middleware, {
    step: 'initialize',
    name: MIDDLEWARE_NAME,
    override: true,
  });
}

function receivedNone(output: unknown): boolean {
  const messages = (output as { Messages?: unknown[] } | undefined)?.Messages;
  return !messages || messages.length === 0;
}

const utf8 = (text: unknown) => (typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : 0);

/** Requests as billed: SQS by 64 KB chunks of the payload sent or received, others one. */
export function billedRequests(
  service: AwsService,
  operation: string,
  input: Record<string, unknown>,
  output: unknown,
): number {
  if (service !== 'sqs') return 1;
  operation = operation.replace(FIFO_SUFFIX, '');
  let bytes = 0;
  if (operation === 'SendMessage') bytes = utf8(input.MessageBody);
  else if (operation === 'SendMessageBatch')
    for (const entry of (input.Entries as { MessageBody?: string }[] | undefined) ?? [])
      bytes += utf8(entry.MessageBody);
  else if (operation === 'ReceiveMessage')
    for (const m of (output as { Messages?: { Body?: string }[] } | undefined)?.Messages ?? [])
      bytes += utf8(m.Body);
  return Math.max(1, Math.ceil(bytes / SQS_CHUNK_BYTES));
}

interface Consumed {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

const READ_OPERATIONS = new Set([
  'GetItem',
  'BatchGetItem',
  'Query',
  'Scan',
  'TransactGetItems',
  'ExecuteStatement',
]);

/**
 * The units a DynamoDB request consumed. Single-item and batch requests: what the service
 * reports in ConsumedCapacity (on-demand tables report one figure, reads for reads, writes for
 * writes). TransactWriteItems: computed, because DynamoDB Local reports 2 units per table
 * whatever the items; AWS bills 2 write units per KB of each item written (a Put from its item;
 * an Update or Delete taken at 1 KB, counted as estimated) and a ConditionCheck as a
 * transactional read, 2 read units per 4 KB (taken at one).
 */
function dynamoUnits(
  operation: string,
  input: Record<string, unknown>,
  output: unknown,
): Partial<OperationTally> {
  if (operation === 'TransactWriteItems') return transactionUnits(input);
  const consumed = (output as { ConsumedCapacity?: Consumed | Consumed[] } | undefined)
    ?.ConsumedCapacity;
  const list = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
  let units = 0;
  for (const c of list)
    units += c.CapacityUnits ?? (c.ReadCapacityUnits ?? 0) + (c.WriteCapacityUnits ?? 0);
  return READ_OPERATIONS.has(operation) ? { readUnits: units } : { writeUnits: units };
}

/** Units of a TransactWriteItems, as AWS bills it (see dynamoUnits). */
function transactionUnits(input: Record<string, unknown>): Partial<OperationTally> {
  const items = (input.TransactItems as Record<string, { Item?: unknown }>[] | undefined) ?? [];
  const out = { writeUnits: 0, readUnits: 0, estimatedWriteUnits: 0, estimatedReadUnits: 0 };
  for (const item of items) {
    if (item.ConditionCheck) {
      out.readUnits += 2;
      out.estimatedReadUnits += 2;
    } else if (item.Put)
      out.writeUnits += 2 * Math.max(1, Math.ceil(itemBytes(item.Put.Item) / 1024));
    else {
      out.writeUnits += 2;
      out.estimatedWriteUnits += 2;
    }
  }
  return out;
}

const ATTRIBUTE_TYPES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

/**
 * An item's size as DynamoDB counts it (attribute names plus values: strings and binaries by
 * their bytes, numbers by about half their digits, nested maps and lists with 3 bytes each and
 * 1 per element), from a marshalled or a plain item.
 */
export function itemBytes(value: unknown): number {
  if (value === null || value === undefined) return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number')
    return Math.ceil(String(value).replace(/[-.]/g, '').length / 2) + 1;
  if (typeof value === 'boolean') return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return 3 + value.reduce((n: number, v) => n + 1 + itemBytes(v), 0);
  const entries = Object.entries(value as Record<string, unknown>);
  const [only] = entries;
  if (entries.length === 1 && only && ATTRIBUTE_TYPES.has(only[0])) {
    const [type, v] = only;
    if (type === 'N') return Math.ceil(String(v).replace(/[-.]/g, '').length / 2) + 1;
    return itemBytes(v);
  }
  return entries.reduce((n, [k, v]) => n + Buffer.byteLength(k, 'utf8') + itemBytes(v), 0);
}

function conditionChecks(input: Record<string, unknown>): number {
  const items = input.TransactItems as { ConditionCheck?: unknown }[] | undefined;
  return items?.filter((i) => i.ConditionCheck !== undefined).length ?? 0;
}

/**
 * Units a failed request is billed for, estimated (the error carries no ConsumedCapacity): a
 * write whose condition failed still consumes a write unit (1 KB items assumed); a cancelled
 * transaction is taken at its full price, 2 units per item. Failed reads consume nothing.
 */
function failedDynamoUnits(
  operation: string,
  input: Record<string, unknown>,
): Partial<OperationTally> {
  if (operation === 'PutItem' || operation === 'UpdateItem' || operation === 'DeleteItem')
    return { writeUnits: 1, estimatedWriteUnits: 1 };
  if (operation === 'TransactWriteItems') {
    const items = (input.TransactItems as unknown[] | undefined)?.length ?? 0;
    const checks = conditionChecks(input);
    const writes = 2 * (items - checks);
    return {
      writeUnits: writes,
      estimatedWriteUnits: writes,
      readUnits: 2 * checks,
      estimatedReadUnits: 2 * checks,
    };
  }
  return {};
}

/** S3 operations billed at the PUT price (PUT, COPY, POST, LIST); reads and the rest at GET's. */
const S3_PUT_CLASS =
  /^(Put|Copy|List|Post|CreateMultipartUpload|UploadPart|CompleteMultipartUpload)/;
/** S3 operations AWS does not charge for. */
const S3_FREE = /^(Delete|AbortMultipartUpload)/;

/**
 * What the counted requests of `callers` (default: every caller) bill as: S3 requests by price
 * class, DynamoDB units (in halves), SQS requests by queue type, Secrets Manager calls. Lambda
 * and CloudWatch Logs are not requests of these clients: the caller adds them.
 */
export function usageOfMeter(
  snapshot: MeterSnapshot,
  callers: readonly string[] = Object.keys(snapshot),
): AwsUsage {
  const usage: Required<Pick<AwsUsage, 's3.putRequests' | 's3.getRequests'>> & AwsUsage = {
    's3.putRequests': 0,
    's3.getRequests': 0,
  };
  const add = (unit: keyof AwsUsage, n: number) => {
    if (n > 0) usage[unit] = (usage[unit] ?? 0) + n;
  };
  for (const caller of callers) {
    const services = snapshot[caller] ?? {};
    for (const [operation, t] of Object.entries(services.s3 ?? {})) {
      if (S3_FREE.test(operation)) continue;
      add(S3_PUT_CLASS.test(operation) ? 's3.putRequests' : 's3.getRequests', t.billed);
    }
    for (const t of Object.values(services.dynamodb ?? {})) {
      add('dynamodb.writeUnits', Math.round(t.writeUnits * 2));
      add('dynamodb.readUnits', Math.round(t.readUnits * 2));
    }
    for (const [operation, t] of Object.entries(services.sqs ?? {}))
      add(operation.endsWith(FIFO_SUFFIX) ? 'sqs.fifoRequests' : 'sqs.standardRequests', t.billed);
    for (const t of Object.values(services.secretsmanager ?? {}))
      add('secretsmanager.calls', t.billed);
  }
  for (const unit of ['s3.putRequests', 's3.getRequests'] as const)
    if (usage[unit] === 0) delete usage[unit];
  return usage;
}
