/**
 * The pipeline's view of its one bucket. Keys are full object keys (`outputs/t/p/b/a.md`); the
 * store knows nothing about prefixes or layout. shared/aws/object-store.ts implements it over S3.
 */
export interface ObjectStore {
  /** The object's bytes, or undefined when there is no such key. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The object decoded as UTF-8, or undefined when there is no such key. */
  getText(key: string): Promise<string | undefined>;
  /**
   * At most the first `maxBytes` bytes of the object and its whole size, in one ranged read, so
   * a huge object is never held in memory just to be refused; undefined when there is no such key.
   */
  getUpTo(key: string, maxBytes: number): Promise<{ bytes: Uint8Array; size: number } | undefined>;
  /** The object's size in bytes, read without its body; undefined when there is no such key. */
  size(key: string): Promise<number | undefined>;
  put(key: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  /**
   * Server-side copy inside the bucket (result reuse copies an earlier output); false when the
   * source does not exist, so callers need no separate existence check.
   */
  copy(from: string, to: string): Promise<boolean>;
  /** Every key under `prefix`, in key order, across all pages. */
  list(prefix: string): Promise<string[]>;
}
