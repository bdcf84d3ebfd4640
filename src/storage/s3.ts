/**
 * s3:// and gs:// through the AWS SDK v3. The endpoint comes from `--s3-endpoint` or AWS_ENDPOINT_URL
 * (MinIO, Ceph, R2, a local emulator: path-style addressing), credentials from the SDK's standard chain
 * (environment, ~/.aws, SSO, instance and pod roles). gs:// is Google Cloud Storage through its
 * S3-interoperable XML API (https://storage.googleapis.com) with HMAC keys given as AWS credentials.
 *
 * Uploads: a file goes up as a multipart upload that is completed last (lib-storage), so the object
 * appears whole or not at all; S3 has no rename, and a copy of a temporary key would cost a second write.
 */
import { createReadStream } from 'node:fs';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import type { Backend, Entry } from './backend.js';
import { parse } from './location.js';
import { collect, resumable, StorageError, statusOf, withRetry } from './retry.js';

// the SDK warns on every run under Node 20 about its releases after January 2027; package-lock pins this one
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const clients = new Map<string, S3Client>();

/** The endpoint for a scheme: gs:// always Google's; s3:// the configured one, if any. */
export function endpointFor(scheme: 's3' | 'gs'): string | undefined {
  if (scheme === 'gs') return process.env.MMCURATE_GS_ENDPOINT ?? 'https://storage.googleapis.com';
  return process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL ?? undefined;
}

function client(scheme: 's3' | 'gs'): S3Client {
  const endpoint = endpointFor(scheme);
  const key = `${scheme} ${endpoint ?? ''}`;
  let c = clients.get(key);
  if (!c) {
    const cfg: S3ClientConfig = {
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (scheme === 'gs' ? 'auto' : 'us-east-1'),
      // retries are ours (retry.ts): one policy for every backend, and streams resume mid-object
      maxAttempts: 1,
      // S3-compatible stores (and GCS) do not all accept the SDK's default CRC32 trailers
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (endpoint) {
      cfg.endpoint = endpoint;
      cfg.forcePathStyle = true;
    }
    c = new S3Client(cfg);
    clients.set(key, c);
  }
  return c;
}

function where(loc: string): { c: S3Client; Bucket: string; Key: string } {
  const p = parse(loc);
  if (!p.root) throw new StorageError(`${loc}: no bucket named`);
  return { c: client(p.scheme as 's3' | 'gs'), Bucket: p.root, Key: p.key };
}

function missing(err: unknown): boolean {
  const s = statusOf(err);
  const n = (err as { name?: string }).name;
  return s === 404 || n === 'NotFound' || n === 'NoSuchKey';
}

export const s3: Backend = {
  async size(loc) {
    const { c, Bucket, Key } = where(loc);
    const h = await withRetry(`stat ${loc}`, () =>
      c.send(new HeadObjectCommand({ Bucket, Key })).catch((e: unknown) => {
        if (missing(e)) return undefined;
        throw e;
      }),
    );
    return h ? Number(h.ContentLength ?? 0) : undefined;
  },

  stream(loc: string, start = 0, end?: number): Readable {
    const { c, Bucket, Key } = where(loc);
    return resumable(`read ${loc}`, async (from) => {
      if (end !== undefined && from >= end) return [];
      const Range = from > 0 || end !== undefined ? `bytes=${from}-${end === undefined ? '' : end - 1}` : undefined;
      const r = await c.send(new GetObjectCommand({ Bucket, Key, Range }));
      return r.Body as AsyncIterable<Uint8Array>;
    }, start, end);
  },

  async read(loc, start, end) {
    if (end <= start) return new Uint8Array(0);
    return collect(this.stream(loc, start, end), end - start, `read ${loc} bytes ${start}-${end}`);
  },

  async list(dir) {
    const { c, Bucket, Key } = where(dir);
    const Prefix = Key === '' || Key.endsWith('/') ? Key : Key + '/';
    const out: Entry[] = [];
    const p = parse(dir);
    const base = `${p.scheme}://${p.root}`;
    let token: string | undefined;
    do {
      const r = await withRetry(`list ${dir}`, () => c.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken: token })));
      for (const o of r.Contents ?? []) if (o.Key) out.push({ loc: `${base}/${o.Key}`, size: Number(o.Size ?? 0) });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.loc < b.loc ? -1 : a.loc > b.loc ? 1 : 0));
  },

  async put(loc, data) {
    const { c, Bucket, Key } = where(loc);
    const Body = typeof data === 'string' ? Buffer.from(data) : data;
    await withRetry(`write ${loc}`, () => c.send(new PutObjectCommand({ Bucket, Key, Body })));
  },

  async putFile(loc, file) {
    const { c, Bucket, Key } = where(loc);
    // a failed part fails the upload, which lib-storage aborts (no parts left behind); the whole upload is retried
    await withRetry(`upload ${file} to ${loc}`, async () => {
      const up = new Upload({ client: c, params: { Bucket, Key, Body: createReadStream(file, { highWaterMark: 1 << 20 }) }, partSize: PART_BYTES, queueSize: 4, leavePartsOnError: false });
      await up.done();
    });
  },

  async putIfAbsent(loc, data) {
    const { c, Bucket, Key } = where(loc);
    const Body = typeof data === 'string' ? Buffer.from(data) : data;
    try {
      await withRetry(`write ${loc}`, () => c.send(new PutObjectCommand({ Bucket, Key, Body, IfNoneMatch: '*' })));
      return true;
    } catch (err) {
      const s = (err as StorageError).status;
      if (s === 412 || s === 409) return false;
      throw err;
    }
  },

  async remove(loc) {
    const { c, Bucket, Key } = where(loc);
    await withRetry(`delete ${loc}`, () => c.send(new DeleteObjectCommand({ Bucket, Key })));
  },
};

/** Part size of multipart uploads: S3's minimum is 5 MiB; 16 MiB keeps 10,000 parts above 150 GiB. */
export const PART_BYTES = 16 * 1024 * 1024;

