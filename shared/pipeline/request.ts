/**
 * The request the planner stores for a job and the worker sends: planner and worker both hold
 * it, so it lives beside them rather than in either.
 *
 * Requests are stored in sets of up to `REQUESTS_PER_OBJECT` jobs, one S3 object a set
 * (`requests/set-<setId>.json`, `{ requests: { <jobId>: StoredRequest } }`): an S3 PUT costs
 * what 8 DynamoDB write units do, and one a job was a seventh of the pipeline's AWS bill. A set
 * is written once with the bytes its key names and never changed, so every attempt of a job
 * sends the same bytes. Batches planned before sets hold one object a job
 * (`requests/<jobId>.json`), still read.
 */
import { createHash } from 'node:crypto';
import type { ObjectStore } from '../ports/objects';
import { requestHash } from '../prompts/keys';
import type { BatchRef, ChatMessage } from '../types';
import { isRequestKeyOf, requestKeyFor } from './keys';

/** The request the worker sends for a job, stored so that every attempt sends the same bytes. */
export interface StoredRequest {
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
}

/** The stored form of a set of jobs' requests. */
export interface StoredRequestSet {
  requests: Record<string, StoredRequest>;
}

/** Jobs whose requests share one object: a work message's worth. */
export const REQUESTS_PER_OBJECT = 50;

/** The id of a set of requests: a hash of its jobs and their requests' hashes, in set order. */
export function requestSetId(entries: readonly { jobId: string; requestHash: string }[]): string {
  const hash = createHash('sha256');
  for (const e of entries) hash.update(`${e.jobId}\0${e.requestHash}\n`, 'utf8');
  return hash.digest('hex').slice(0, 32);
}

/**
 * The request of job `jobId` in the stored object `text` read from `key`, or undefined when the
 * object does not hold it. A key comes back from job items a team may update: it must be one of
 * the batch's request keys, and an object of one job's request only that job's own key.
 */
export function storedRequestOf(
  batch: BatchRef,
  key: string,
  jobId: string,
  text: string | undefined,
): StoredRequest | undefined {
  if (text === undefined || !isRequestKeyOf(batch, key)) return undefined;
  return requestIn(batch, key, jobId, JSON.parse(text) as StoredObject);
}

type StoredObject = Partial<StoredRequestSet> & Partial<StoredRequest>;

function requestIn(
  batch: BatchRef,
  key: string,
  jobId: string,
  parsed: StoredObject,
): StoredRequest | undefined {
  if (parsed.requests !== undefined)
    return Object.hasOwn(parsed.requests, jobId) ? parsed.requests[jobId] : undefined;
  return key === requestKeyFor(batch, jobId) ? (parsed as StoredRequest) : undefined;
}

/**
 * Reads jobs' stored requests of `batch`, each object once (read and parsed on first use and
 * kept): for the jobs of one work message, or of one set, not a whole large batch.
 */
export function storedRequestReader(
  objects: Pick<ObjectStore, 'getText'>,
  batch: BatchRef,
): (key: string, jobId: string) => Promise<StoredRequest | undefined> {
  const read = new Map<string, Promise<StoredObject | undefined>>();
  return async (key, jobId) => {
    if (!isRequestKeyOf(batch, key)) return undefined;
    let object = read.get(key);
    if (!object) {
      object = objects
        .getText(key)
        .then((text) => (text === undefined ? undefined : (JSON.parse(text) as StoredObject)));
      read.set(key, object);
    }
    const parsed = await object;
    return parsed && requestIn(batch, key, jobId, parsed);
  };
}

/**
 * Whether sending `request` with `model` is the request planned under `plannedHash`: the hash is
 * recomputed from the messages and limit about to be sent, as the planner computed it, so a
 * stored request changed after planning (or a job pointed at another request) is refused.
 */
function sendsAsPlanned(request: StoredRequest, model: string, plannedHash: string): boolean {
  return (
    request.model === model &&
    Array.isArray(request.messages) &&
    Number.isInteger(request.maxTokens) &&
    requestHash(model, request.messages, { maxTokens: request.maxTokens }) === plannedHash
  );
}

/**
 * A job's stored request, read and checked before anything depends on it: missing, or not the
 * request the job was planned with (its hash, recomputed from the model, messages and limit
 * about to be sent, is not the planned one), it is refused with the code and reason to record.
 */
export async function checkedRequest(
  read: (key: string, jobId: string) => Promise<StoredRequest | undefined>,
  job: { jobId: string; requestKey: string; requestHash: string },
  model: string,
): Promise<
  | { ok: true; request: StoredRequest }
  | { ok: false; code: 'missing_request' | 'request_mismatch'; reason: string }
> {
  const request = await read(job.requestKey, job.jobId);
  if (request === undefined)
    return {
      ok: false,
      code: 'missing_request',
      reason: `the planned request ${job.requestKey} is missing`,
    };
  if (!sendsAsPlanned(request, model, job.requestHash))
    return {
      ok: false,
      code: 'request_mismatch',
      reason: `the stored request ${job.requestKey} is not the one this file was planned with: nothing was sent. Submit the file again`,
    };
  return { ok: true, request };
}
