/**
 * The simulator's HTTP plumbing: errors answered with a status, JSON replies, bounded request
 * bodies, and a held connection kept alive the way DeepSeek keeps one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Real milliseconds between keep-alive lines on a held connection. */
export const KEEP_ALIVE_INTERVAL_MS = 250;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** An answer the simulator gives with an HTTP error status. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(
    res,
    err.status,
    { error: { message: err.message, type: err.type, param: null, code: 'invalid_request_error' } },
    err.headers,
  );
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'Request body too large', 'invalid_request_error'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Keeps a connection open the way DeepSeek does while a request waits: status 200 and headers
 * at once, then a blank line (JSON) or a `: keep-alive` comment (SSE) now and periodically.
 */
export class Hold {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly res: ServerResponse,
    private readonly stream: boolean,
  ) {}

  start(): void {
    if (this.timer || this.res.destroyed) return;
    if (!this.res.headersSent) {
      this.res.writeHead(200, {
        'content-type': this.stream ? 'text/event-stream' : 'application/json',
        'cache-control': 'no-cache',
      });
    }
    this.beat();
    this.timer = setInterval(() => this.beat(), KEEP_ALIVE_INTERVAL_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private beat(): void {
    if (!this.res.destroyed) this.res.write(this.stream ? ': keep-alive\n\n' : '\n');
  }
}
