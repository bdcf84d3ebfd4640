/** `mmcurate download`: URL rows of a caption dataset -> the images, fetched, checked, resized, encoded. */
import { UsageError } from '../errors.js';
import { bool, formatHelp, keyValues, list, num, parseArgs, QUIET_FLAG, required, str, type Flags, WORKERS_FLAG } from '../cli/args.js';
import { emptySources, summarize } from '../cli/summary.js';
import { runLocal } from '../run/executor.js';
import { worldOf, type StageDef } from '../run/contract.js';
import { openDataset } from '../io/dataset.js';
import { resolve as resolveLocation } from '../storage/location.js';
import { readManifest, type Manifest } from '../write/manifest.js';
import { manySmallImages } from '../image/vips.js';
import { isIP } from 'node:net';
import { VERSION } from '../version.js';
import { DEFAULT_MAX_PIXELS } from '../ingest/images.js';
import { badCidr } from './address.js';
import { ENCODE_FORMATS, RESIZE_MODES, type EncodeFormat, type ImageOptions, type ResizeMode } from './image.js';
import type { FetchOptions } from './http.js';
import { DOWNLOAD_COLUMNS, type DownloadSpec } from './task.js';
import type { DownloadManifestSpec } from './manifest.js';
import { COMPRESSION_FLAG, type Compression } from '../write/compression.js';

export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
const DEFAULT_DIRECTIVES = ['noai', 'noimageai', 'noindex', 'noimageindex'];
/** Rows per task when --tasks is not given: a task is minutes of work, and resumes at that grain. */
const ROWS_PER_TASK = 100_000;

/** The command's flags; the library API's DownloadOptions are generated from this table (src/index.ts). */
export const flags = {
  input: { type: 'string', required: true, help: 'a caption dataset folder (e.g. `mmcurate ingest` of LAION metadata) whose rows hold image URLs' },
  out: { type: 'string', required: true, help: 'output folder' },
  'image-size': { type: 'number', integer: true, min: 0, help: 'the size images are resized to (default 256; 0 keeps the original size)' },
  'resize-mode': { type: 'string', choices: RESIZE_MODES, help: `${RESIZE_MODES.join(' | ')} (default border, as img2dataset)` },
  'resize-only-if-bigger': { type: 'boolean', help: 'only scale images down, never up' },
  'min-image-size': { type: 'number', integer: true, min: 0, help: 'reject images whose smaller side is under this, as too_small (default 0)' },
  'max-image-area': { type: 'number', integer: true, min: 1, help: 'reject images with more pixels than this, as too_large (default: no limit)' },
  'max-aspect-ratio': { type: 'number', above: 0, help: 'reject images whose larger side / smaller side is over this, as bad_aspect_ratio (default: no limit)' },
  'encode-format': { type: 'string', choices: ENCODE_FORMATS, help: `${ENCODE_FORMATS.join(' | ')} (default jpg)` },
  'encode-quality': { type: 'number', integer: true, min: 0, help: 'jpg/webp quality 0-100 (default 95); png: compression level 0-9 (default 9)' },
  'skip-reencode': { type: 'boolean', help: 'keep the bytes as served when the image is already in --encode-format and needs no resize' },
  'max-pixels': { type: 'number', integer: true, min: 1, help: `decompression-bomb limit, read from the header before decoding (default ${DEFAULT_MAX_PIXELS})` },
  timeout: { type: 'number', above: 0, help: 'seconds per request, connection to last byte (default 10)' },
  retries: { type: 'number', integer: true, min: 0, help: 'retries after a timeout, a connection failure, HTTP 5xx, 408 or 429 (default 2)' },
  'backoff-ms': { type: 'number', min: 0, help: 'backoff before retry n: about this x 2^n ms, half of it random (default 1000); Retry-After wins when given' },
  'max-retry-after': { type: 'number', min: 0, help: 'seconds: a longer Retry-After is not waited for, the URL fails (default 60)' },
  concurrency: { type: 'number', integer: true, min: 1, help: 'requests in flight per task (default 64)' },
  'per-host': { type: 'number', integer: true, min: 1, help: 'connections and requests in flight to one host at most (default 8)' },
  'max-bytes': { type: 'number', integer: true, min: 1, help: `bytes per image body at most, decompressed (default ${DEFAULT_MAX_BYTES}); more is too_large` },
  'max-redirects': { type: 'number', integer: true, min: 0, help: 'redirects followed at most (default 10); more is too_many_redirects' },
  'user-agent-token': { type: 'string', help: 'added to the User-Agent, and an X-Robots-Tag token honoured besides mmcurate and img2dataset' },
  'disallowed-header-directives': { type: 'list', help: `X-Robots-Tag directives that opt an image out (default ${DEFAULT_DIRECTIVES.join(',')}; "none" honours none)` },
  'allow-private-addresses': { type: 'boolean', help: 'let downloads connect to loopback, private, link-local and other non-public addresses (cloud metadata addresses stay refused)' },
  'allow-address': { type: 'list', help: 'CIDR ranges allowed even though private, e.g. 10.1.2.0/24 for an internal mirror; repeatable' },
  'dns-server': { type: 'list', help: 'ADDRESS[:PORT]: resolve names through this DNS server (A and AAAA, c-ares) instead of the system resolver, e.g. a local caching resolver for a large crawl; repeatable' },
  resolve: { type: 'list', help: 'HOST=ADDRESS: use this address for HOST instead of DNS (as curl --resolve); the address is still checked' },
  tasks: { type: 'number', integer: true, min: 1, help: `number of tasks the rows are cut into, contiguous runs (default one per ${ROWS_PER_TASK.toLocaleString('en-US')} rows, at most 256)` },
  workers: WORKERS_FLAG,
  'shard-rows': { type: 'number', integer: true, min: 1, help: 'rows per shard at most (default 1,000,000)' },
  'shard-mb': { type: 'number', above: 0, help: 'MiB per shard at most (default 256)' },
  compression: COMPRESSION_FLAG,
  'allow-empty': { type: 'boolean', help: 'exit 0 even when every URL of a source failed' },
  quiet: QUIET_FLAG,
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate download --input DIR --out DIR [--image-size 256] [--resize-mode border] [--encode-format jpg] [--tasks N]',
  `Fetches the image of every URL row (image.path or url) of a caption dataset, as img2dataset does: checked, resized,
re-encoded. Safe by default: only http/https, and no connection to loopback, private, link-local, multicast or cloud
metadata addresses, checked after DNS and at every redirect. Every row is kept or rejected with a reason
(http_404, http_4xx, http_5xx, timeout, dns_failed, connection_failed, too_large, not_an_image, image_decode_failed,
too_small, bad_aspect_ratio, opted_out, private_address, too_many_redirects, bad_url) in OUT/rejects/.`,
  flags,
);

export interface DownloadOptions {
  input: string;
  out: string;
  image: ImageOptions;
  fetch: FetchOptions;
  concurrency: number;
  tasks?: number;
  workers?: number;
  shard?: DownloadSpec['shard'];
  allowEmpty?: boolean;
  quiet?: boolean;
  command?: string[];
}

export const stage: StageDef<DownloadOptions> = {
  command: 'download',
  parse: options,
  out: (o) => o.out,
  steps: () => [{ name: 'download', global: false }, { name: 'manifest', global: true }],
  setup: () => manySmallImages({ noCache: true }),
  async plan(o, ctx) {
    const ds = openDataset(o.input);
    if (ds.manifest.layout !== 'caption') {
      throw new UsageError(`mmcurate download: --input ${o.input} holds ${ds.manifest.layout} records; download reads caption datasets (an image URL per row), e.g. \`mmcurate ingest --kind caption\` of LAION metadata`);
    }
    const shards = ds.manifest.shards.map((s, i) => ({ path: ds.shardPaths[i]!, name: s.path, rows: s.rows }));
    const rows = shards.reduce((a, s) => a + s.rows, 0);
    const world = worldOf(Math.min(256, Math.ceil(rows / ROWS_PER_TASK)), ctx.tasks);
    const ranges: [number, number][] = Array.from({ length: world }, (_, r) => [Math.floor((r * rows) / world), Math.floor(((r + 1) * rows) / world)]);
    const columns = [...new Set([...(ds.manifest.columns ?? []), ...DOWNLOAD_COLUMNS])];
    const spec: DownloadSpec = { shards, ranges, columns, fetch: o.fetch, image: o.image, concurrency: o.concurrency, shard: o.shard ?? {} };
    const { userAgent: _ua, ...fetchSettings } = o.fetch;
    const manifest: DownloadManifestSpec = {
      command: ctx.command,
      world,
      columns,
      input: { dir: resolveLocation(o.input), rows },
      settings: { image: o.image, fetch: fetchSettings },
    };
    return [
      { step: 'download', world, module: 'download/task.js', spec, how: ['concurrency'], total: rows, unit: 'rows' },
      { step: 'manifest', world: 1, module: 'download/manifest.js', spec: manifest, how: ['command'] },
    ];
  },
};

export async function download(o: DownloadOptions): Promise<Manifest> {
  await runLocal(stage, o, { tasks: o.tasks, workers: o.workers, quiet: o.quiet, command: o.command ?? ['mmcurate', 'download'], argv: o.command?.slice(2) ?? null });
  return readManifest(o.out);
}

export function check(argv: string[]): void {
  options(argv);
}

export function options(argv: string[]): DownloadOptions {
  const p = parseArgs(argv, flags, 'download');
  const input = required(p, 'input', 'download');
  const out = required(p, 'out', 'download');
  const resizeMode = str(p, 'resize-mode') ?? 'border';
  if (!(RESIZE_MODES as readonly string[]).includes(resizeMode)) throw new UsageError(`mmcurate download: --resize-mode must be one of ${RESIZE_MODES.join(', ')}, got "${resizeMode}"`);
  const encodeFormat = str(p, 'encode-format') ?? 'jpg';
  if (!(ENCODE_FORMATS as readonly string[]).includes(encodeFormat)) throw new UsageError(`mmcurate download: --encode-format must be one of ${ENCODE_FORMATS.join(', ')}, got "${encodeFormat}"`);
  const quality = num(p, 'encode-quality') ?? (encodeFormat === 'png' ? 9 : 95);
  if (encodeFormat === 'png' ? quality > 9 : quality > 100) {
    throw new UsageError(`mmcurate download: --encode-quality ${quality}: for ${encodeFormat} it is ${encodeFormat === 'png' ? 'the compression level, 0-9' : 'the quality, 0-100'}`);
  }
  const allow = list(p, 'allow-address').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const a of allow) {
    const bad = badCidr(a);
    if (bad) throw new UsageError(`mmcurate download: --allow-address ${a}: ${bad} (give an address or a CIDR range, e.g. 10.1.2.0/24)`);
  }
  const resolve: Record<string, string[]> = {};
  for (const [host, addr] of Object.entries(keyValues(list(p, 'resolve'), 'resolve'))) {
    const addrs = addr.split(',').map((a) => a.trim().replace(/^\[|\]$/g, ''));
    const bad = addrs.find((a) => !isIP(a));
    if (bad !== undefined) throw new UsageError(`mmcurate download: --resolve ${host}=${addr}: "${bad}" is not an IP address`);
    resolve[host.toLowerCase()] = addrs;
  }
  const dnsServers = list(p, 'dns-server').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const d of dnsServers) {
    const m = /^\[([^\]]+)\](?::(\d+))?$|^([^:]+)(?::(\d+))?$|^([0-9a-fA-F:]+)$/.exec(d);
    const ip = m?.[1] ?? m?.[3] ?? m?.[5];
    const port = Number(m?.[2] ?? m?.[4] ?? 53);
    if (!ip || !isIP(ip) || !(port >= 1 && port <= 65535)) throw new UsageError(`mmcurate download: --dns-server ${d}: give an IP address, with a port if not 53 (e.g. 127.0.0.1:5353 or [::1]:53)`);
  }
  const directives = list(p, 'disallowed-header-directives').flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter(Boolean);
  const token = str(p, 'user-agent-token');
  if (token !== undefined && !/^[A-Za-z0-9_.-]+$/.test(token)) throw new UsageError(`mmcurate download: --user-agent-token "${token}": letters, digits, "_", "-" and "." only (it goes into a header)`);
  const image: ImageOptions = {
    imageSize: num(p, 'image-size') ?? 256,
    resizeMode: resizeMode as ResizeMode,
    resizeOnlyIfBigger: bool(p, 'resize-only-if-bigger'),
    minImageSize: num(p, 'min-image-size') ?? 0,
    maxImageArea: num(p, 'max-image-area') ?? Number.MAX_SAFE_INTEGER,
    maxAspectRatio: num(p, 'max-aspect-ratio') ?? Number.MAX_SAFE_INTEGER,
    encodeFormat: encodeFormat as EncodeFormat,
    encodeQuality: quality,
    skipReencode: bool(p, 'skip-reencode'),
    maxPixels: num(p, 'max-pixels') ?? DEFAULT_MAX_PIXELS,
  };
  const fetch: FetchOptions = {
    timeoutMs: Math.round((num(p, 'timeout') ?? 10) * 1000),
    retries: num(p, 'retries') ?? 2,
    backoffMs: num(p, 'backoff-ms') ?? 1000,
    maxRetryAfterMs: Math.round((num(p, 'max-retry-after') ?? 60) * 1000),
    maxBytes: num(p, 'max-bytes') ?? DEFAULT_MAX_BYTES,
    maxRedirects: num(p, 'max-redirects') ?? 10,
    perHost: num(p, 'per-host') ?? 8,
    userAgent: `Mozilla/5.0 (compatible; mmcurate/${VERSION}${token ? `; ${token}` : ''})`,
    robotsTokens: ['mmcurate', 'img2dataset', ...(token ? [token.toLowerCase()] : [])],
    disallowed: directives.length === 1 && directives[0] === 'none' ? [] : directives.length ? directives : DEFAULT_DIRECTIVES,
    policy: { allowPrivate: bool(p, 'allow-private-addresses'), allow },
    resolve,
    ...(dnsServers.length ? { dnsServers } : {}),
  };
  const mb = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 1024 * 1024));
  return {
    // a path made absolute, or a URL (s3://…) in its canonical form: path.resolve would mangle it
    input: resolveLocation(input),
    out: resolveLocation(out),
    image,
    fetch,
    concurrency: num(p, 'concurrency') ?? 64,
    tasks: num(p, 'tasks'),
    workers: num(p, 'workers'),
    shard: { maxShardRows: num(p, 'shard-rows'), maxShardBytes: mb(num(p, 'shard-mb')), compression: str(p, 'compression') as Compression | undefined },
    allowEmpty: bool(p, 'allow-empty'),
    quiet: bool(p, 'quiet'),
    command: ['mmcurate', 'download', ...argv],
  };
}

/** img2dataset-style closing lines: the success rate and the most common failures. */
export function rates(m: Manifest): string {
  const pct = (n: number) => (m.read ? ((100 * n) / m.read).toFixed(1) : '0.0');
  const top = Object.entries(m.rejected_by_reason).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
  const lines = [`  success rate: ${pct(m.rows)}% (${m.rows.toLocaleString('en-US')} of ${m.read.toLocaleString('en-US')} URLs)`];
  if (top.length) lines.push(`  top failures: ${top.map(([r, n]) => `${r} ${n.toLocaleString('en-US')} (${pct(n)}%)`).join(', ')}`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const p = parseArgs(argv, flags, 'download');
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const o = options(argv);
  const m = await download(o);
  process.stdout.write(summarize(m, o.out) + '\n' + rates(m) + '\n');
  const empty = emptySources(m, o.out, EMPTY_HINTS);
  if (!empty.length) return 0;
  for (const e of empty) process.stderr.write(`${o.allowEmpty ? 'warning' : 'error'}: ${e}\n`);
  if (o.allowEmpty) return 0;
  process.stderr.write(`error: download exits 1 because ${empty.length === 1 ? 'a source' : `${empty.length} sources`} came out empty; --allow-empty accepts that\n`);
  return 1;
}

const EMPTY_HINTS: Record<string, string> = {
  private_address: 'Downloads refuse loopback and private addresses by default; --allow-private-addresses (or --allow-address CIDR) lets them through',
  dns_failed: 'No host name resolved: is there network access from this machine?',
  connection_failed: 'No connection succeeded: is there network access from this machine (a proxy is not used)?',
};
