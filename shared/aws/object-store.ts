import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectStore } from '../ports/objects';

const decoder = new TextDecoder('utf-8');

function defaultContentType(body: string | Uint8Array): string {
  return typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
}

// CopySource is `<bucket>/<key>` URL-encoded; slashes stay literal so the key keeps its folders.
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function isMissing(err: unknown): boolean {
  if (err instanceof NoSuchKey) return true;
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return meta?.httpStatusCode === 404;
}

export interface S3ObjectStoreOptions {
  /** Keys per ListObjectsV2 page; S3's default (1,000) unless set. */
  listPageSize?: number;
}

/** An ObjectStore over one S3 bucket; the client is built by the caller, once. */
export function createS3ObjectStore(
  s3: S3Client,
  bucket: string,
  options: S3ObjectStoreOptions = {},
): ObjectStore {
  async function get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!res.Body) return new Uint8Array();
      return await res.Body.transformToByteArray();
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async function getUpTo(key: string, maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
      throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
    try {
      const res = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${maxBytes - 1}` }),
      );
      const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
      // `bytes 0-99/12345`: the whole size; absent when the server sent the whole object.
      const total = /\/(\d+)$/.exec(res.ContentRange ?? '')?.[1];
      return { bytes: bytes.subarray(0, maxBytes), size: total ? Number(total) : bytes.byteLength };
    } catch (err) {
      if (isMissing(err)) return undefined;
      // An empty object has no byte 0 to range over (HTTP 416).
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 416) {
        const whole = await get(key);
        return whole === undefined ? undefined : { bytes: whole, size: whole.byteLength };
      }
      throw err;
    }
  }

  return {
    get,
    getUpTo,
    async getText(key) {
      const bytes = await get(key);
      return bytes === undefined ? undefined : decoder.decode(bytes);
    },
    async size(key) {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return head.ContentLength ?? 0;
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async put(key, body, contentType) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          // Said explicitly: the SDK omits it for an empty body and then warns of a stream.
          ContentLength: typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
          ContentType: contentType ?? defaultContentType(body),
        }),
      );
    },
    async copy(from, to) {
      try {
        await s3.send(
          new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: copySource(bucket, from) }),
        );
        return true;
      } catch (err) {
        if (isMissing(err)) return false;
        throw err;
      }
    },
    async list(prefix) {
      const keys: string[] = [];
      for await (const page of paginateListObjectsV2(
        { client: s3, ...(options.listPageSize ? { pageSize: options.listPageSize } : {}) },
        { Bucket: bucket, Prefix: prefix },
      )) {
        for (const object of page.Contents ?? [])
          if (object.Key !== undefined) keys.push(object.Key);
      }
      return keys;
    },
  };
}

/** A stored object of the in-memory store, exposed so tests can check content types. */
export interface MemoryObject {
  body: Uint8Array;
  contentType: string;
}

/**
 * An ObjectStore held in a Map, for unit tests of the domain. It behaves like the S3 adapter:
 * missing keys read as undefined, copies of missing keys fail, listings are in key order.
 */
export function createMemoryObjectStore(): ObjectStore & { objects: Map<string, MemoryObject> } {
  const objects = new Map<string, MemoryObject>();
  const encoder = new TextEncoder();
  return {
    objects,
    async get(key) {
      const object = objects.get(key);
      return object ? object.body.slice() : undefined;
    },
    async getText(key) {
      const object = objects.get(key);
      return object ? decoder.decode(object.body) : undefined;
    },
    async getUpTo(key, maxBytes) {
      const object = objects.get(key);
      return object
        ? { bytes: object.body.slice(0, maxBytes), size: object.body.byteLength }
        : undefined;
    },
    async size(key) {
      return objects.get(key)?.body.byteLength;
    },
    async put(key, body, contentType) {
      const bytes = typeof body === 'string' ? encoder.encode(body) : body.slice();
      objects.set(key, { body: bytes, contentType: contentType ?? defaultContentType(body) });
    },
    async copy(from, to) {
      const object = objects.get(from);
      if (!object) return false;
      objects.set(to, { body: object.body.slice(), contentType: object.contentType });
      return true;
    },
    async list(prefix) {
      return [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
  };
}
