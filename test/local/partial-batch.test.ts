import { describe, expect, it } from 'vitest';
import { recordsToDelete, toSqsRecord } from '../../local/runtime/event-source';

describe('partial batch response rules', () => {
  const records = ['1', '2', '3'].map((id) =>
    toSqsRecord({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: id }, 'arn:q', 'us-east-1'),
  );

  it('deletes every record when the handler returns nothing or an empty list', () => {
    expect(recordsToDelete(records, { ok: true, response: undefined })).toHaveLength(3);
    expect(
      recordsToDelete(records, { ok: true, response: { batchItemFailures: [] } }),
    ).toHaveLength(3);
  });

  it('deletes all but the failed records', () => {
    // Act
    const kept = recordsToDelete(records, {
      ok: true,
      response: { batchItemFailures: [{ itemIdentifier: '2' }] },
    });

    // Assess
    expect(kept.map((r) => r.messageId)).toEqual(['1', '3']);
  });

  it('deletes nothing when a failure names no record of the batch, as Lambda does', () => {
    expect(
      recordsToDelete(records, {
        ok: true,
        response: { batchItemFailures: [{ itemIdentifier: 'unknown' }] },
      }),
    ).toEqual([]);
    expect(
      recordsToDelete(records, {
        ok: true,
        response: { batchItemFailures: [{ itemIdentifier: '' }] },
      }),
    ).toEqual([]);
  });

  it('deletes nothing when the invocation failed', () => {
    expect(recordsToDelete(records, { ok: false })).toEqual([]);
  });
});
