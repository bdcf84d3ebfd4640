/**
 * The storage layer: every read and write of a file the pipeline does not own in memory goes through here,
 * as onnx.ts owns onnxruntime. A location is a local path (the file system, exactly as before) or a URL:
 * s3:// and gs:// (AWS SDK v3, read and write), https:// and hf:// (read). See docs/storage.md.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { AsyncBuffer } from 'hyparquet';
import type { Backend, Entry } from './backend.js';
import { http } from './http.js';
import { local } from './local.js';
import { isRemote, normalize, parse, redact } from './location.js';
import { StorageError } from './retry.js';

export { isRemote, join, normalize, redact, resolve } from './location.js';
export { StorageError, retryCounter } from './retry.js';
export type { Entry } from './backend.js';

let s3mod: Promise<Backend> | undefined;

/** The backend of a location; the AWS SDK is loaded only when an s3:// or gs:// location is used. */
async function backend(loc: string): Promise<Backend> {
  if (!isRemote(loc)) return local;
  const scheme = parse(loc).scheme;
  if (scheme === 's3' || scheme === 'gs') return (s3mod ??= import('./s3.js').then((m) => m.s3));
  return http;
}

const norm = (loc: string) => normalize(loc);

export async function size(loc: string): Promise<number | undefined> {
  return (await backend(loc)).size(norm(loc));
}

export async function exists(loc: string): Promise<boolean> {
  return (await size(loc)) !== undefined;
}

export async function read(loc: string, start: number, end: number): Promise<Uint8Array> {
  return (await backend(loc)).read(norm(loc), start, end);
}

export async function readAll(loc: string): Promise<Uint8Array> {
  const b = await backend(loc);
  const n = await b.size(norm(loc));
  if (n === undefined) throw new StorageError(`${loc}: no such file`, { code: 'ENOENT' });
  return b.read(norm(loc), 0, n);
}

/** The whole text of a small file in one request, or undefined when there is none (markers, plans). */
export async function readTextIfExists(loc: string): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of stream(loc)) chunks.push(Buffer.from(c as Uint8Array));
  } catch (err) {
    const e = err as { status?: number; code?: string };
    if (e.status === 404 || e.code === 'ENOENT' || e.code === 'NoSuchKey') return undefined;
    throw err;
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function readText(loc: string): Promise<string> {
  return Buffer.from(await readAll(loc)).toString('utf8');
}

/**
 * A byte stream of [start, end). Local files keep their fs stream; remote ones are fetched lazily so
 * creating the stream costs nothing until it is read.
 */
export function stream(loc: string, range?: { start: number; end?: number }): Readable {
  if (!isRemote(loc)) return local.stream(loc, range?.start, range?.end);
  const l = norm(loc);
  const scheme = parse(l).scheme;
  if (scheme === 'https' || scheme === 'http' || scheme === 'hf') return http.stream(l, range?.start, range?.end);
  // the s3 backend is loaded on first use; a PassThrough bridges the await
  return lazy(async () => (await backend(l)).stream(l, range?.start, range?.end));
}

function lazy(make: () => Promise<Readable>): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  make().then(
    (s) => {
      s.on('error', (e) => out.destroy(e));
      s.pipe(out);
    },
    (e: unknown) => out.destroy(e as Error),
  );
  return out;
}

/** Every file under a folder, recursively, sorted. */
export async function list(dir: string): Promise<Entry[]> {
  return (await backend(dir)).list(norm(dir));
}

/** `*` matches within one path segment, as a shell glob does. */
export function globRegExp(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
}

/**
 * The files a glob names (`s3://b/laion/*.parquet`, `hf://datasets/o/n/data/train-*.parquet`): one listing
 * of the prefix before the first `*`, filtered. Sorted.
 */
export async function glob(pattern: string): Promise<Entry[]> {
  const p = norm(pattern);
  const star = p.indexOf('*');
  if (star < 0) {
    const n = await size(p);
    return n === undefined ? [] : [{ loc: p, size: n }];
  }
  const dir = p.slice(0, p.lastIndexOf('/', star));
  const re = globRegExp(p);
  return (await list(dir)).filter((e) => re.test(isRemote(e.loc) ? normalize(e.loc) : e.loc));
}

export async function put(loc: string, data: Uint8Array | string): Promise<void> {
  return (await backend(loc)).put(norm(loc), data);
}

export async function putFile(loc: string, file: string): Promise<void> {
  return (await backend(loc)).putFile(norm(loc), file);
}

export async function putIfAbsent(loc: string, data: Uint8Array | string): Promise<boolean> {
  return (await backend(loc)).putIfAbsent(norm(loc), data);
}

export async function remove(loc: string): Promise<void> {
  return (await backend(loc)).remove(norm(loc));
}

/**
 * A random-access view for hyparquet: each slice is one ranged read, so a Parquet file is read as its
 * footer plus the row groups asked for. Local files keep single preallocated reads (no copy).
 */
export async function asyncBuffer(loc: string): Promise<AsyncBuffer> {
  const b = await backend(loc);
  const l = norm(loc);
  const n = await b.size(l);
  if (n === undefined) throw new StorageError(`${isRemote(loc) ? redact(l) : loc}: no such file`, { code: 'ENOENT' });
  return {
    byteLength: n,
    async slice(start: number, end = n): Promise<ArrayBuffer> {
      const u = await b.read(l, start, end);
      return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength ? (u.buffer as ArrayBuffer) : (u.slice().buffer as ArrayBuffer);
    },
  };
}
