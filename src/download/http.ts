/**
 * One image over HTTP, politely and safely: undici keep-alive pools with a cap on connections per origin,
 * redirects followed by hand (each hop's scheme and address checked), Retry-After on 429/503, exponential
 * backoff with jitter, gzip/deflate/br bodies, the body streamed and cut at a byte limit, X-Robots-Tag
 * opt-outs honoured before the body is read. Every outcome is bytes or one reason code.
 */
import { Agent, request } from 'undici';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { pipeline, type Readable, type Transform } from 'node:stream';
import { checkedResolver, type CheckedResolver } from './resolver.js';
import type { AddressPolicy } from './address.js';

export const FETCH_REASONS = [
  'http_404', 'http_4xx', 'http_5xx', 'timeout', 'dns_failed', 'connection_failed', 'too_large',
  'opted_out', 'private_address', 'too_many_redirects', 'bad_url',
] as const;
export type FetchReason = (typeof FETCH_REASONS)[number];

export interface FetchOptions {
  /** Per request (each hop), connect to the last body byte. */
  timeoutMs: number;
  retries: number;
  /** Backoff base: attempt n waits about backoffMs * 2^n, half of it random. */
  backoffMs: number;
  /** A Retry-After longer than this is not waited for: the URL fails with its status. */
  maxRetryAfterMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** Connections per origin at most. */
  perHost: number;
  userAgent: string;
  /** Lower-case X-Robots-Tag user-agent tokens whose directives apply to us (besides directives with none). */
  robotsTokens: string[];
  /** Lower-case directives that opt an image out. */
  disallowed: string[];
  policy: AddressPolicy;
  /** host -> addresses, used instead of DNS (`--resolve`). */
  resolve: Record<string, string[]>;
  /** DNS servers asked instead of the system resolver (`--dns-server`); none: getaddrinfo. */
  dnsServers?: string[];
}

export type Fetched =
  | { ok: true; bytes: Buffer; status: number; finalUrl: string; contentType: string | undefined; attempts: number }
  | { ok: false; reason: FetchReason; detail: string; status?: number; attempts: number };

type Attempt = Fetched | { retry: true; reason: FetchReason; detail: string; status?: number; waitMs?: number };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class Fetcher {
  private readonly agent: Agent;
  readonly resolver: CheckedResolver;

  constructor(private readonly o: FetchOptions) {
    this.resolver = checkedResolver(o.policy, o.resolve, o.dnsServers, o.timeoutMs);
    this.agent = new Agent({
      connections: o.perHost,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      connect: { timeout: o.timeoutMs, lookup: this.resolver.lookup as never },
    });
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }

  async fetch(url: string): Promise<Fetched> {
    let attempts = 0;
    for (;;) {
      attempts++;
      const a = await this.attempt(url);
      if (!('retry' in a)) return { ...a, attempts };
      if (attempts > this.o.retries || (a.waitMs !== undefined && a.waitMs > this.o.maxRetryAfterMs)) {
        const waited = a.waitMs !== undefined && a.waitMs > this.o.maxRetryAfterMs ? `; Retry-After asked for ${Math.round(a.waitMs / 1000)} s, more than --max-retry-after` : '';
        return { ok: false, reason: a.reason, detail: `${a.detail}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}${waited}`, ...(a.status ? { status: a.status } : {}), attempts };
      }
      const base = this.o.backoffMs * 2 ** (attempts - 1);
      await sleep(a.waitMs ?? base / 2 + Math.random() * (base / 2));
    }
  }

  /** One try: the redirect chain from `url` to a final answer. */
  private async attempt(start: string): Promise<Attempt> {
    let url = start;
    const seen = new Set<string>();
    for (let hop = 0; ; hop++) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return { ok: false, reason: 'bad_url', detail: hop ? `redirect ${hop} points at "${url.slice(0, 200)}", not a URL` : `"${url.slice(0, 200)}" is not a URL`, attempts: 0 };
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        return { ok: false, reason: 'bad_url', detail: `${hop ? `redirect ${hop} to ` : ''}${parsed.protocol} URLs are not downloaded (only http and https)`, attempts: 0 };
      }
      if (parsed.username || parsed.password) parsed.username = parsed.password = '';
      const literal = this.resolver.refuseLiteral(parsed.hostname);
      if (literal) return { ok: false, reason: 'private_address', detail: `${hop ? `redirect ${hop} to ` : ''}${literal}`, attempts: 0 };
      const r = await this.one(parsed);
      if ('location' in r) {
        seen.add(url);
        let next: string;
        try {
          next = new URL(r.location, parsed).href;
        } catch {
          return { ok: false, reason: 'bad_url', detail: `redirect ${hop + 1} (HTTP ${r.status}) points at "${r.location.slice(0, 200)}", not a URL`, attempts: 0 };
        }
        if (seen.has(next)) return { ok: false, reason: 'too_many_redirects', detail: `redirect loop: ${next} redirects back to itself after ${hop + 1} hop(s)`, attempts: 0 };
        if (hop + 1 > this.o.maxRedirects) return { ok: false, reason: 'too_many_redirects', detail: `more than ${this.o.maxRedirects} redirects (--max-redirects)`, attempts: 0 };
        url = next;
        continue;
      }
      if ('ok' in r && r.ok) return { ...r, finalUrl: parsed.href };
      return r;
    }
  }

  /** One request, no redirect followed. */
  private async one(url: URL): Promise<Attempt | { location: string; status: number }> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new TimeoutError()), this.o.timeoutMs);
    try {
      const res = await request(url, {
        dispatcher: this.agent,
        method: 'GET',
        signal: ctl.signal,
        headers: { 'user-agent': this.o.userAgent, accept: 'image/*,*/*;q=0.8', 'accept-encoding': 'gzip, deflate, br' },
      });
      const status = res.statusCode;
      const header = (name: string): string | undefined => {
        const v = res.headers[name];
        return Array.isArray(v) ? v.join(', ') : v;
      };
      if (REDIRECTS.has(status)) {
        await res.body.dump();
        const location = header('location');
        if (!location) return { ok: false, reason: 'http_4xx', detail: `HTTP ${status} redirect without a Location header`, status, attempts: 0 };
        return { location, status };
      }
      if (status < 200 || status >= 300) {
        await res.body.dump();
        const retryAfter = status === 429 || status === 503 ? parseRetryAfter(header('retry-after')) : undefined;
        const reason: FetchReason = status === 404 ? 'http_404' : status < 500 ? 'http_4xx' : 'http_5xx';
        const detail = `HTTP ${status} at ${url.href.slice(0, 300)}`;
        if (status >= 500 || status === 429 || status === 408) return { retry: true, reason, detail, status, ...(retryAfter !== undefined ? { waitMs: retryAfter } : {}) };
        return { ok: false, reason, detail, status, attempts: 0 };
      }
      const robots = res.headers['x-robots-tag'];
      const optOut = robots === undefined ? undefined : disallowedBy(Array.isArray(robots) ? robots : [robots], this.o.robotsTokens, this.o.disallowed);
      if (optOut) {
        await res.body.dump();
        return { ok: false, reason: 'opted_out', detail: `X-Robots-Tag: ${optOut}`, status, attempts: 0 };
      }
      const length = Number(header('content-length'));
      const encoding = header('content-encoding')?.trim().toLowerCase();
      if (!encoding && Number.isFinite(length) && length > this.o.maxBytes) {
        res.body.destroy();
        return { ok: false, reason: 'too_large', detail: `Content-Length ${length} bytes, over --max-bytes ${this.o.maxBytes}`, status, attempts: 0 };
      }
      const body = await readCapped(res.body, encoding, this.o.maxBytes);
      if ('reason' in body) return { ok: false, ...body, status, attempts: 0 };
      return { ok: true, bytes: body.bytes, status, finalUrl: url.href, contentType: header('content-type'), attempts: 0 };
    } catch (err) {
      return classify(err, url);
    } finally {
      clearTimeout(timer);
    }
  }
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** Seconds or an HTTP date, as milliseconds from now; undefined when absent or unreadable. */
export function parseRetryAfter(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

/**
 * img2dataset's reading of X-Robots-Tag: each header value is `[token:] directive, directive...`; a value
 * without a token, or with one of ours, opts out when any directive is disallowed. Returns the value that did.
 */
export function disallowedBy(values: string[], tokens: string[], disallowed: string[]): string | undefined {
  for (const value of values) {
    const colon = value.indexOf(':');
    const token = colon >= 0 ? value.slice(0, colon).trim().toLowerCase() : undefined;
    // "unavailable_after: DATE" is a directive with a value, not a user-agent token
    const isToken = token !== undefined && /^[a-z0-9_-]+$/.test(token) && !KNOWN_DIRECTIVES.has(token);
    const directives = (isToken ? value.slice(colon + 1) : value).split(',').map((d) => d.trim().toLowerCase());
    if (isToken && !tokens.includes(token!)) continue;
    if (directives.some((d) => disallowed.includes(d))) return value.trim();
  }
  return undefined;
}

const KNOWN_DIRECTIVES = new Set(['unavailable_after', 'max-snippet', 'max-image-preview', 'max-video-preview']);

/** The body, decompressed, cut at `max` bytes (compressed and decompressed both count). */
async function readCapped(raw: Readable, encoding: string | undefined, max: number): Promise<{ bytes: Buffer } | { reason: 'too_large' | 'connection_failed'; detail: string }> {
  let decoder: Transform | undefined;
  if (encoding === 'gzip' || encoding === 'x-gzip') decoder = createGunzip();
  else if (encoding === 'deflate') decoder = createInflate();
  else if (encoding === 'br') decoder = createBrotliDecompress();
  else if (encoding && encoding !== 'identity') {
    raw.destroy();
    return { reason: 'connection_failed', detail: `Content-Encoding "${encoding.slice(0, 40)}" is not one this client reads (gzip, deflate, br)` };
  }
  let rawBytes = 0;
  if (decoder) {
    raw.on('data', (c: Buffer) => {
      rawBytes += c.length;
      if (rawBytes > max) raw.destroy(new TooLarge(`the compressed body passed --max-bytes ${max}`));
    });
    pipeline(raw, decoder, () => undefined);
  }
  const stream: Readable = decoder ?? raw;
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of stream) {
      n += (c as Buffer).length;
      if (n > max) {
        raw.destroy();
        stream.destroy();
        return { reason: 'too_large', detail: `the ${decoder ? 'decompressed ' : ''}body passed --max-bytes ${max}` };
      }
      chunks.push(c as Buffer);
    }
  } catch (err) {
    if (err instanceof TooLarge) return { reason: 'too_large', detail: err.message };
    if (decoder && (err as { code?: string }).code?.startsWith('Z_')) return { reason: 'connection_failed', detail: `the ${encoding} body does not decompress: ${(err as Error).message}` };
    throw err;
  }
  return { bytes: Buffer.concat(chunks, n) };
}

class TooLarge extends Error {}

const codeOf = (err: unknown): string | undefined => {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code;
};

/** An error from undici, the socket or a lookup, as a reason; network failures are worth a retry. */
function classify(err: unknown, url: URL): Attempt {
  const e = err as Error & { cause?: Error };
  const code = codeOf(err);
  const msg = `${url.host}: ${e?.message ?? String(err)}`.slice(0, 400);
  if (code === 'EPRIVATEADDR' || e?.cause instanceof Error && codeOf(e.cause) === 'EPRIVATEADDR') return { ok: false, reason: 'private_address', detail: (e.cause?.message ?? e.message).slice(0, 400), attempts: 0 };
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_NODATA' || code === 'EAI_FAIL') return { ok: false, reason: 'dns_failed', detail: `${url.hostname}: no such host (${code})`, attempts: 0 };
  if (code === 'EAI_AGAIN') return { retry: true, reason: 'dns_failed', detail: `${url.hostname}: DNS lookup failed for now (EAI_AGAIN)` };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT') {
    return { retry: true, reason: 'timeout', detail: `${url.host}: no complete answer within --timeout` };
  }
  if (err instanceof TooLarge) return { ok: false, reason: 'too_large', detail: e.message, attempts: 0 };
  return { retry: true, reason: 'connection_failed', detail: code ? `${msg} (${code})` : msg };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
