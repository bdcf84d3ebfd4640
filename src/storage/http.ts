/**
 * https:// (and http://) read through Node's fetch with Range requests, and hf:// on top of it: the
 * Hugging Face Hub's resolve URLs for reads and its tree API for listing, with HF_TOKEN as a bearer token.
 * HF_ENDPOINT points at another Hub (a mirror, or a local server in tests). Both are read-only.
 */
import type { Readable } from 'node:stream';
import type { Backend, Entry } from './backend.js';
import { format, normalize, parse } from './location.js';
import { collect, resumable, StorageError, withRetry } from './retry.js';

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function hfEndpoint(): string {
  return (process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

function hfToken(): string | undefined {
  return process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
}

/** The URL to GET for a location, and the headers it needs. */
function target(loc: string): { url: string; headers: Record<string, string> } {
  const n = normalize(loc);
  if (!n.startsWith('hf://')) {
    // fetch refuses URLs with user:password; they become a Basic authorization header (never logged: redact())
    const u = new URL(n);
    if (!u.username && !u.password) return { url: n, headers: {} };
    const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
    u.username = '';
    u.password = '';
    return { url: u.href, headers: { authorization: `Basic ${basic}` } };
  }
  const p = parse(n);
  const [type, owner, name] = p.root.split('/');
  const repo = `${type === 'models' ? '' : type + '/'}${owner}/${name}`;
  const token = hfToken();
  return {
    url: `${hfEndpoint()}/${repo}/resolve/${encodeURIComponent(p.revision ?? 'main')}/${p.key.split('/').map(encodeURIComponent).join('/')}`,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  };
}

async function get(loc: string, headers: Record<string, string>, method = 'GET'): Promise<Response> {
  const t = target(loc);
  const r = await fetch(t.url, { method, headers: { ...t.headers, ...headers }, redirect: 'follow' });
  if (r.status === 404 && method !== 'HEAD') throw new StorageError(`${loc}: not found (HTTP 404)`, { status: 404 });
  if (r.status >= 400 && r.status !== 404) {
    await r.body?.cancel().catch(() => undefined);
    const hint = r.status === 401 || r.status === 403 ? (loc.startsWith('hf:') ? '; set HF_TOKEN for a gated or private repository' : '; the server refused the request') : '';
    throw new HttpStatusError(r.status, `${loc}: HTTP ${r.status} ${r.statusText}${hint}`);
  }
  return r;
}

export const http: Backend = {
  async size(loc) {
    const r = await withRetry(`stat ${loc}`, () => get(loc, {}, 'HEAD'));
    if (r.status === 404) return undefined;
    const linked = r.headers.get('x-linked-size');
    const len = linked ?? r.headers.get('content-length');
    if (len === null) throw new StorageError(`${loc}: the server gives no size (no Content-Length)`);
    return Number(len);
  },

  stream(loc: string, start = 0, end?: number): Readable {
    return resumable(`read ${loc}`, async (from) => {
      if (end !== undefined && from >= end) return [];
      const ranged = from > 0 || end !== undefined;
      const r = await get(loc, ranged ? { range: `bytes=${from}-${end === undefined ? '' : end - 1}` } : {});
      if (!r.body) return [];
      if (ranged && r.status === 200) {
        // the server ignores ranges: skip to `from` and stop at `end` ourselves
        return skip(r.body as unknown as AsyncIterable<Uint8Array>, from, end);
      }
      return r.body as unknown as AsyncIterable<Uint8Array>;
    }, start, end);
  },

  async read(loc, start, end) {
    if (end <= start) return new Uint8Array(0);
    return collect(this.stream(loc, start, end), end - start, `read ${loc} bytes ${start}-${end}`);
  },

  async list(dir) {
    const n = normalize(dir);
    if (!n.startsWith('hf://')) throw new StorageError(`${dir}: an https:// server cannot be listed; name the files (or use s3:// or hf://)`);
    const p = parse(n);
    const [type, owner, name] = p.root.split('/');
    const token = hfToken();
    const key = p.key.replace(/\/+$/, '');
    let url: string | undefined = `${hfEndpoint()}/api/${type}/${owner}/${name}/tree/${encodeURIComponent(p.revision ?? 'main')}${key ? '/' + key.split('/').map(encodeURIComponent).join('/') : ''}?recursive=true`;
    const out: Entry[] = [];
    while (url) {
      const u: string = url;
      const r = await withRetry(`list ${dir}`, async () => {
        const res = await fetch(u, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        if (res.status >= 400) {
          await res.body?.cancel().catch(() => undefined);
          throw new HttpStatusError(res.status, `list ${dir}: HTTP ${res.status}`);
        }
        return { items: (await res.json()) as { type: string; path: string; size?: number; lfs?: { size: number } }[], link: res.headers.get('link') };
      });
      for (const e of r.items) if (e.type === 'file') out.push({ loc: format({ ...p, key: e.path }), size: e.lfs?.size ?? e.size ?? 0 });
      url = /<([^>]+)>;\s*rel="next"/.exec(r.link ?? '')?.[1];
    }
    return out.sort((a, b) => (a.loc < b.loc ? -1 : a.loc > b.loc ? 1 : 0));
  },

  put: readOnly,
  putFile: readOnly,
  putIfAbsent: readOnly,
  remove: readOnly,
};

async function readOnly(loc: string): Promise<never> {
  throw new StorageError(`${loc}: https:// and hf:// are read-only here; write to a local folder or s3:// / gs://`);
}

async function* skip(body: AsyncIterable<Uint8Array>, from: number, end: number | undefined): AsyncGenerator<Uint8Array> {
  let at = 0;
  for await (const c of body) {
    const s = Math.max(0, from - at);
    const e = end === undefined ? c.length : Math.min(c.length, end - at);
    at += c.length;
    if (e > s) yield c.subarray(s, e);
    if (end !== undefined && at >= end) return;
  }
}
