import { describe, expect, it } from 'vitest';
import { requestKeyFor, requestSetKeyFor } from '../../shared/pipeline/keys';
import {
  requestSetId,
  type StoredRequest,
  type StoredRequestSet,
  storedRequestOf,
  storedRequestReader,
} from '../../shared/pipeline/request';

const batch = { team: 'alpha', batchId: 'b-1' };

const requestOf = (n: number): StoredRequest => ({
  model: 'deepseek-flash',
  messages: [
    { role: 'system', content: 'Write docs.' },
    { role: 'user', content: `file ${n}` },
  ],
  maxTokens: 512,
});

/** An object store of the given objects that counts its reads. */
function objectsOf(objects: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    getText: async (key: string) => {
      reads.push(key);
      return objects[key];
    },
  };
}

describe('stored requests', () => {
  it('reads each job of a set from one object, read once', async () => {
    // Prepare
    const set: StoredRequestSet = { requests: { j1: requestOf(1), j2: requestOf(2) } };
    const key = requestSetKeyFor(
      batch,
      requestSetId([
        { jobId: 'j1', requestHash: 'h1' },
        { jobId: 'j2', requestHash: 'h2' },
      ]),
    );
    const objects = objectsOf({ [key]: JSON.stringify(set) });
    const read = storedRequestReader(objects, batch);

    // Act
    const [one, two, absent] = await Promise.all([
      read(key, 'j1'),
      read(key, 'j2'),
      read(key, 'j3'),
    ]);

    // Assess
    expect(one).toEqual(requestOf(1));
    expect(two).toEqual(requestOf(2));
    expect(absent).toBeUndefined();
    expect(objects.reads).toEqual([key]);
  });

  it("reads a batch planned one object a job, for that job's own key only", () => {
    // Prepare
    const text = JSON.stringify(requestOf(1));

    // Act
    const own = storedRequestOf(batch, requestKeyFor(batch, 'j1'), 'j1', text);
    const other = storedRequestOf(batch, requestKeyFor(batch, 'j1'), 'j2', text);

    // Assess
    expect(own).toEqual(requestOf(1));
    expect(other).toBeUndefined();
  });

  it("refuses a key outside the batch's requests, without reading it", async () => {
    // Prepare: a job item updated to point at another team's set, or elsewhere in the bucket
    const foreign = requestSetKeyFor({ team: 'beta', batchId: 'b-1' }, 'abc');
    const keys = [foreign, 'batches/alpha/b-1/requests/../manifest.json', 'outputs/alpha/x.json'];
    const objects = objectsOf(
      Object.fromEntries(keys.map((k) => [k, JSON.stringify({ requests: { j1: requestOf(1) } })])),
    );
    const read = storedRequestReader(objects, batch);

    // Act
    const got = await Promise.all(keys.map((k) => read(k, 'j1')));

    // Assess
    expect(got).toEqual([undefined, undefined, undefined]);
    expect(objects.reads).toEqual([]);
  });

  it('names a set by its jobs and their requests, so a key always holds the same bytes', () => {
    const a = requestSetId([{ jobId: 'j1', requestHash: 'h1' }]);
    expect(requestSetId([{ jobId: 'j1', requestHash: 'h1' }])).toBe(a);
    expect(requestSetId([{ jobId: 'j1', requestHash: 'h2' }])).not.toBe(a);
    expect(requestSetId([{ jobId: 'j2', requestHash: 'h1' }])).not.toBe(a);
  });
});
