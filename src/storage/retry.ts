/**
 * Retries for object stores and HTTP servers: throttling (503 SlowDown, 429), server errors (5xx) and
 * dropped connections are retried with exponential backoff and full jitter, so many workers throttled at
 * once do not come back in step. A stream cut mid-object resumes from its last byte with a range request.
 */
import { Readable } from 'node:stream';
import { redact } from './location.js';

/** Read when used, so a test (or a wrapper script) can set them after this module is loaded. */
export const RETRY = {
  get attempts(): number {
    return Number(process.env.MMCURATE_STORAGE_RETRIES ?? 8);
  },
  get baseMs(): number {
    return Number(process.env.MMCURATE_STORAGE_BACKOFF_MS ?? 200);
  },
  capMs: 20_000,
};

/** An error the storage layer raises: its message names the location and never carries credentials. */
export class StorageError extends Error {
  readonly status?: number;
  readonly code?: string;
  constructor(message: string, opts: { status?: number; code?: string; cause?: unknown } = {}) {
    super(redact(message));
    this.name = 'StorageError';
    this.status = opts.status;
    this.code = opts.code;
  }
}

const NET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED']);

/** The HTTP status an error carries (AWS SDK, fetch wrappers), if any. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { status?: number; $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number } };
  return e?.status ?? e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

export function retryable(err: unknown): boolean {
  const status = statusOf(err);
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  const e = err as { code?: string; name?: string; cause?: { code?: string }; message?: string };
  const code = e?.code ?? e?.cause?.code;
  if (code && NET_CODES.has(code)) return true;
  if (e?.name === 'SlowDown' || e?.name === 'TimeoutError' || e?.name === 'RequestTimeout' || e?.name === 'InternalError') return true;
  // the SDK and undici report a cut body or socket in several ways
  return /socket hang up|aborted|premature close|other side closed|ECONNRESET|terminated|fetch failed/i.test(e?.message ?? '');
}

/** Milliseconds to wait before attempt `n` (1-based retry count): full jitter over an exponential cap. */
export function backoff(n: number): number {
  return Math.random() * Math.min(RETRY.capMs, RETRY.baseMs * 2 ** (n - 1));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts retries per process, so tests and the benchmark can say how many happened. */
export const retryCounter = { retries: 0 };

/** Runs `op` until it succeeds, fails with a non-retryable error, or the attempts are spent. */
export async function withRetry<T>(what: string, op: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!retryable(err) || attempt >= RETRY.attempts) throw wrap(what, err, attempt);
      retryCounter.retries++;
      await sleep(backoff(attempt));
    }
  }
}

export function wrap(what: string, err: unknown, attempts = 1): StorageError {
  if (err instanceof StorageError) return err;
  const status = statusOf(err);
  const e = err as { name?: string; code?: string; message?: string; Code?: string };
  const detail = [status ? `HTTP ${status}` : '', e?.Code ?? e?.code ?? (e?.name && e.name !== 'Error' ? e.name : ''), e?.message ?? String(err)].filter(Boolean).join(' ');
  return new StorageError(`${what}: ${detail}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`, { status, code: e?.Code ?? e?.code ?? e?.name });
}

/**
 * A byte stream of [start, end) that survives dropped connections: `open(from)` starts a ranged request at
 * `from`; when the body breaks, a new one starts at the first byte not yet delivered.
 */
export function resumable(what: string, open: (from: number) => Promise<Iterable<Uint8Array> | AsyncIterable<Uint8Array>>, start: number, end: number | undefined): Readable {
  async function* gen(): AsyncGenerator<Uint8Array> {
    let at = start;
    let failures = 0;
    while (end === undefined || at < end) {
      let body: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
      try {
        body = await withRetry(what, () => open(at));
      } catch (err) {
        throw wrap(what, err);
      }
      try {
        for await (const chunk of body) {
          at += chunk.length;
          failures = 0;
          yield chunk;
        }
        if (end === undefined || at >= end) return;
        // the server closed the body early without an error: ask for the rest
        throw Object.assign(new Error(`body ended at byte ${at}, expected ${end}`), { code: 'ECONNRESET' });
      } catch (err) {
        if (err instanceof StorageError || !retryable(err) || ++failures >= RETRY.attempts) throw wrap(what, err, failures);
        retryCounter.retries++;
        await sleep(backoff(failures));
      }
    }
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1 });
}

/** Reads a stream into one buffer of a known size (ranged reads for Parquet). */
export async function collect(stream: AsyncIterable<Uint8Array>, size: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let off = 0;
  for await (const c of stream) {
    if (off + c.length > size) throw new StorageError(`${what}: the server sent more than the ${size} bytes asked for`);
    out.set(c, off);
    off += c.length;
  }
  if (off !== size) throw new StorageError(`${what}: got ${off} bytes, expected ${size} (the object changed or was truncated while being read?)`);
  return out;
}
