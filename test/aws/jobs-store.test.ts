/**
 * The DynamoDB JobsStore: the contract every JobsStore meets, and what only DynamoDB can get
 * wrong (pages of 1 MB, attributes a team's own credentials may update, where an item keeps what
 * the pipeline obeys).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { batchKey, CANCEL_ATTRIBUTES, createJobsStore, openDropKey } from '../../shared/aws/jobs';
import type { JobsStore } from '../../shared/ports/jobs';
import { jobsStoreContract } from '../contracts/jobs.contract';
import { useLocalAws } from '../support/emulators';
import { aBatch, at, someJobs } from './factories';

const aws = useLocalAws();
const T0 = at('2026-11-03T10:00:00.000Z');

function store(): JobsStore {
  return createJobsStore({ ddb: aws.clients.doc, table: aws.resources.tables.jobs });
}

jobsStoreContract(store);

describe('createBatch over DynamoDB', () => {
  it('writes batches larger than one transaction and lists them across pages', async () => {
    const jobs = store();
    const batch = aBatch();
    // Long paths push the listing past DynamoDB's 1 MB page.
    const many = someJobs(260).map((j) => ({ ...j, path: `${j.path}/${'x'.repeat(4_000)}` }));

    await jobs.createBatch(batch, many);

    const listed = await jobs.listJobs(batch);
    expect(listed).toHaveLength(260);
    expect(new Set(listed.map((j) => j.jobId)).size).toBe(260);
  });
});

describe('drops over DynamoDB', () => {
  const PREFIX = { team: 'payments', project: 'checkout', kind: 'docs' } as const;
  const file = (name: string) => ({
    key: `intake/payments/checkout/docs/src/${name}`,
    eventId: 'e1',
    expiresAt: Math.floor(T0.getTime() / 1000) + 86_400,
  });

  it("takes an open drop's team, project and kind from its key, not from attributes a team may update", async () => {
    // Prepare: the team's own credentials may update its open drop's item (status --latest)
    const jobs = store();
    await jobs.joinDrop(PREFIX, [file('a.ts')], { now: T0, newDropId: 'drop-1' });
    await aws.clients.doc.send(
      new UpdateCommand({
        TableName: aws.resources.tables.jobs,
        Key: openDropKey(PREFIX.team, PREFIX.project, PREFIX.kind),
        UpdateExpression: 'SET #team = :other, #project = :p',
        ExpressionAttributeNames: { '#team': 'team', '#project': 'project' },
        ExpressionAttributeValues: { ':other': 'ledger', ':p': 'elsewhere' },
      }),
    );

    // Act
    const open = await jobs.getOpenDrop(PREFIX);

    // Assess
    expect(open).toMatchObject({ ...PREFIX, dropId: 'drop-1' });
  });
});

describe('what the pipeline obeys, over DynamoDB', () => {
  /** A team's UpdateItem of one of its items, as test/pipeline/ownership.test.ts puts it to IAM. */
  const lowerToPublic = (
    key: { pk: string; sk: string },
    path: string,
    attrs: Record<string, string>,
  ) =>
    aws.clients.doc.send(
      new UpdateCommand({
        TableName: aws.resources.tables.jobs,
        Key: key,
        UpdateExpression: `SET ${path} = :p`,
        ExpressionAttributeNames: attrs,
        ExpressionAttributeValues: { ':p': 'public' },
      }),
    );

  it("keeps a batch's sensitivity in `sensitivity` and a plan's in `batch`, attributes no cancel writes", async () => {
    // Prepare: a restricted batch, and a restricted sharded batch's plan
    const jobs = store();
    const batch = aBatch({ sensitivity: 'restricted' });
    await jobs.createBatch(batch, someJobs(1));
    const sharded = aBatch({ sensitivity: 'restricted' });
    await jobs.createPlan(sharded, { planId: 'plan-1', shards: 2, jobs: 4, batch: sharded }, T0);

    // Act: the writes the ownership tests carry out on the in-memory stores
    await lowerToPublic(batchKey(batch), '#s', { '#s': 'sensitivity' });
    await lowerToPublic({ pk: batchKey(sharded).pk, sk: 'PLAN' }, '#b.#s', {
      '#b': 'batch',
      '#s': 'sensitivity',
    });

    // Assess: the store reads what was written there, and IAM's cancel attributes hold neither
    expect((await jobs.getBatch(batch))?.sensitivity).toBe('public');
    expect((await jobs.getPlan(sharded))?.batch.sensitivity).toBe('public');
    expect(CANCEL_ATTRIBUTES).not.toContain('sensitivity');
    expect(CANCEL_ATTRIBUTES).not.toContain('batch');
  });
});
