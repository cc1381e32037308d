/**
 * What every ObjectStore must do: test/aws/object-store.test.ts holds the S3 adapter to it,
 * test/contracts/fakes.test.ts the in-memory store.
 */
import { expect, it } from 'vitest';
import type { ObjectStore } from '../../shared/ports/objects';

/** Registers the ObjectStore contract; `make` returns a store over an empty bucket. */
export function objectStoreContract(make: () => ObjectStore): void {
  it('reads a missing key as undefined', async () => {
    const store = make();

    expect(await store.get('outputs/none.md')).toBeUndefined();
    expect(await store.getText('outputs/none.md')).toBeUndefined();
    expect(await store.size('outputs/none.md')).toBeUndefined();
  });

  it("tells an object's size in bytes without reading it", async () => {
    const store = make();
    await store.put('intake/t/p/openai-batch/docs/a.jsonl', 'café\n');
    await store.put('intake/t/p/docs/empty.ts', '');

    expect(await store.size('intake/t/p/openai-batch/docs/a.jsonl')).toBe(6);
    expect(await store.size('intake/t/p/docs/empty.ts')).toBe(0);
  });

  it('round-trips text and bytes', async () => {
    const store = make();
    const bytes = new Uint8Array([0, 255, 10, 13, 128]);

    await store.put('results/b1/summary.json', '{"ok":true,"name":"café"}', 'application/json');
    await store.put('batches/b1/blob.bin', bytes);

    expect(await store.getText('results/b1/summary.json')).toBe('{"ok":true,"name":"café"}');
    expect(await store.get('batches/b1/blob.bin')).toEqual(bytes);
  });

  it('copies keys with spaces and unicode', async () => {
    const store = make();
    const from = 'outputs/t/p/b0/src/my file ünï.md';
    const to = 'outputs/t/p/b1/src/my file ünï.md';
    await store.put(from, '# docs');

    const copied = await store.copy(from, to);

    expect(copied).toBe(true);
    expect(await store.getText(to)).toBe('# docs');
  });

  it('reports a missing source instead of copying it', async () => {
    const store = make();

    const copied = await store.copy('outputs/t/p/b0/gone.md', 'outputs/t/p/b1/gone.md');

    expect(copied).toBe(false);
    expect(await store.get('outputs/t/p/b1/gone.md')).toBeUndefined();
  });

  it('lists every key under a prefix, in key order, past one page', async () => {
    const store = make();
    const keys = Array.from({ length: 10 }, (_, i) => `intake/t/p/docs/f${i}.ts`);
    for (const k of [...keys].reverse()) await store.put(k, 'x');
    await store.put('intake/t/q/docs/other.ts', 'x');

    const listed = await store.list('intake/t/p/');

    expect(listed).toEqual(keys);
  });
}
