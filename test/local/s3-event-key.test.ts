import { describe, expect, it } from 'vitest';
import { decodeS3EventKey, encodeS3EventKey, isNotifiedKey } from '../../local/runtime/s3-bridge';

describe('S3 event key encoding', () => {
  it.each([
    ['intake/a b.ts', 'intake/a+b.ts'],
    ['intake/t/p/docs/my file (1).ts', 'intake/t/p/docs/my+file+%281%29.ts'],
    ['intake/dt=2026-11-01/x.ts', 'intake/dt%3D2026-11-01/x.ts'],
    ['intake/c++/größe.ts', 'intake/c%2B%2B/gr%C3%B6%C3%9Fe.ts'],
    ["intake/it's~!*.ts", 'intake/it%27s%7E%21*.ts'],
  ])('encodes %s as S3 does', (key, encoded) => {
    // Act
    const result = encodeS3EventKey(key);

    // Assess
    expect(result).toBe(encoded);
    expect(decodeS3EventKey(result)).toBe(key);
  });

  it.each([
    ['intake/team/project/docs/a.ts', true],
    ['batches/team/b-123/manifest.json', true],
    // The old layout still reaches the planner, which refuses it with a reason.
    ['batches/b-123/manifest.json', true],
    // S3's suffix filter matches any key ending so; the planner ignores what is no manifest.
    ['batches/team/b-123/files/manifest.json', true],
    ['batches/team/b-123/other.json', false],
    ['outputs/team/project/b/a.md', false],
    ['results/team/b/summary.json', false],
  ])('notifies %s: %s, as the deployed bucket does', (key, notified) => {
    expect(isNotifiedKey(key)).toBe(notified);
  });
});
