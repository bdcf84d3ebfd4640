/**
 * `mmcurate download` against real HTTP servers on 127.0.0.1: every image format, every failure a web host
 * shows, redirects to private and metadata addresses, --tasks 1 vs 3, and a resume after a lost shard.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { readHyparquet, runMain, tmpDir } from './helpers.js';
import { dnsServer, makeImages, routes, startServer, type ImageServer } from './download-helpers.js';
import type { Manifest } from '../src/write/manifest.js';

let server: ImageServer;
let dir: string;
let ingested: string;
let deadPort: number;

/** Every case: path on the test server (or a full URL), and the outcome expected. */
const CASES: { url: string; expect: string }[] = [];

const FAST = ['--allow-private-addresses', '--timeout', '1', '--retries', '1', '--backoff-ms', '5', '--max-retry-after', '5', '--max-bytes', '200000', '--quiet'];

async function rowsOf(out: string): Promise<Record<string, unknown>[]> {
  const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
  const rows: Record<string, unknown>[] = [];
  for (const s of m.shards) rows.push(...(await readHyparquet(path.join(out, s.path))));
  return rows;
}

function rejectsOf(out: string): Record<string, unknown>[] {
  const d = path.join(out, 'rejects');
  if (!existsSync(d)) return [];
  return readdirSync(d).sort().flatMap((f) => readFileSync(path.join(d, f), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
}

const manifestOf = (out: string) => JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest & { download: Record<string, unknown> };

before(async () => {
  server = await startServer(routes(await makeImages()));
  // a port that refuses connections: a server started and closed
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const b = server.base;
  CASES.push(
    { url: `${b}/img/photo.jpg`, expect: 'kept' },
    { url: `${b}/img/chart.png`, expect: 'kept' },
    { url: `${b}/img/alpha.png`, expect: 'kept' },
    { url: `${b}/img/pic.webp`, expect: 'kept' },
    { url: `${b}/img/anim.gif`, expect: 'kept' },
    { url: `${b}/img/scan.tiff`, expect: 'kept' },
    { url: `${b}/img/pic.avif`, expect: 'kept' },
    { url: `${b}/gzip/photo.jpg`, expect: 'kept' },
    { url: `${b}/br/photo.jpg`, expect: 'kept' },
    { url: `${b}/deflate/chart.png`, expect: 'kept' },
    { url: `${b}/flaky.jpg`, expect: 'kept' },
    { url: `${b}/busy.jpg`, expect: 'kept' },
    { url: `${b}/r/1`, expect: 'kept' },
    { url: `${b}/other-bot.jpg`, expect: 'kept' },
    { url: `http://images.example.test:${server.port}/img/photo.jpg`, expect: 'kept' },
    { url: `${b}/missing.jpg`, expect: 'http_404' },
    { url: `${b}/gone.jpg`, expect: 'http_4xx' },
    { url: `${b}/broken.jpg`, expect: 'http_5xx' },
    { url: `${b}/slow.jpg`, expect: 'timeout' },
    { url: `http://127.0.0.1:${deadPort}/x.jpg`, expect: 'connection_failed' },
    { url: `${b}/huge.jpg`, expect: 'too_large' },
    { url: `${b}/huge-stream.jpg`, expect: 'too_large' },
    { url: `${b}/gzip-bomb.jpg`, expect: 'too_large' },
    { url: `${b}/bomb.png`, expect: 'too_large' },
    { url: `${b}/loop/a`, expect: 'too_many_redirects' },
    { url: `${b}/page.jpg`, expect: 'not_an_image' },
    { url: `${b}/cut.jpg`, expect: 'image_decode_failed' },
    { url: `${b}/img/tiny.png`, expect: 'too_small' },
    { url: `${b}/img/wide.png`, expect: 'bad_aspect_ratio' },
    { url: `${b}/noai.jpg`, expect: 'opted_out' },
    { url: `${b}/to-metadata`, expect: 'private_address' },
    { url: `http://metadata.example.test:${server.port}/img/photo.jpg`, expect: 'private_address' },
    { url: 's3://bucket/photo.jpg', expect: 'bad_url' },
  );
  dir = tmpDir('mmcurate-download-');
  const lines = CASES.map((c, i) => JSON.stringify({ caption: `case ${i}: ${c.expect}`, url: c.url, similarity: 0.3 }));
  writeFileSync(path.join(dir, 'urls.jsonl'), lines.join('\n') + '\n');
  ingested = path.join(dir, 'ingested');
  const r = await runMain(['ingest', '--kind', 'caption', '--input', `web=${path.join(dir, 'urls.jsonl')}`, '--out', ingested, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await server.close();
});

/** The flags of the main run: names resolved through --resolve, no real DNS. */
const caseFlags = () => [
  ...FAST,
  '--min-image-size', '32',
  '--max-aspect-ratio', '5',
  '--resolve', 'images.example.test=127.0.0.1',
  '--resolve', 'metadata.example.test=169.254.169.254',
];

describe('download', () => {
  let one: string;

  it('keeps every image format and rejects every failure with its reason; read = kept + rejected', async () => {
    one = path.join(dir, 'one');
    const r = await runMain(['download', '--input', ingested, '--out', one, '--tasks', '1', ...caseFlags()]);
    assert.equal(r.code, 0, r.stderr);
    const m = manifestOf(one);
    const rows = await rowsOf(one);
    const rejects = rejectsOf(one);
    assert.equal(m.read, CASES.length);
    assert.equal(m.read, m.rows + m.rejected);
    assert.equal(rows.length + rejects.length, CASES.length);
    const got = new Map<string, string>();
    for (const row of rows) got.set((row.image as { path: string }).path, 'kept');
    for (const j of rejects) got.set(String(j.url), String(j.reason));
    for (const c of CASES) assert.equal(got.get(c.url), c.expect, `${c.url}: expected ${c.expect}, got ${got.get(c.url)}`);
    const want: Record<string, number> = {};
    for (const c of CASES) if (c.expect !== 'kept') want[c.expect] = (want[c.expect] ?? 0) + 1;
    assert.deepEqual(m.rejected_by_reason, want);
    assert.deepEqual(m.sources.web!.rejected_by_reason, want);
    assert.match(r.stdout, /success rate: \d+\.\d% \(15 of 33 URLs\)/);
    assert.match(r.stdout, /top failures: too_large 4/);
    assert.equal(m.download.success_rate, Number((15 / 33).toFixed(6)));
  });

  it('writes resized images with their download columns; captions and metadata kept', async () => {
    const rows = await rowsOf(one);
    for (const row of rows) {
      const img = row.image as { bytes: Uint8Array; path: string };
      const meta = await sharp(img.bytes).metadata();
      assert.equal(meta.format, 'jpeg');
      // border mode: every image comes out 256 x 256
      assert.deepEqual([meta.width, meta.height, row.width, row.height], [256, 256, 256, 256], img.path);
      assert.equal(row.image_format, 'jpeg');
      assert.equal(row.image_sha256, createHash('sha256').update(img.bytes).digest('hex'));
      assert.equal(row.http_status, 200);
      assert.equal(row.url, img.path);
      assert.match(String(row.text), /^case \d+: kept$/);
      assert.deepEqual(JSON.parse(String(row.metadata)), { similarity: 0.3 });
    }
    const by = (p: string) => rows.find((r) => (r.image as { path: string }).path.endsWith(p))!;
    assert.deepEqual([by('/img/photo.jpg').original_width, by('/img/photo.jpg').original_height], [640, 480]);
    assert.deepEqual([by('/img/alpha.png').original_width, by('/img/alpha.png').original_height], [200, 300]);
    assert.equal(by('/r/1').final_url, `${server.base}/img/photo.jpg`);
    assert.equal(by('/img/photo.jpg').final_url, `${server.base}/img/photo.jpg`);
    // the alpha image's transparent quarter is matted onto white, as img2dataset does
    const alpha = await sharp((by('/img/alpha.png').image as { bytes: Uint8Array }).bytes).raw().toBuffer({ resolveWithObject: true });
    const x = Math.round((256 - (200 * 256) / 300) / 2) + 4;
    const at = (128 * alpha.info.width + x) * alpha.info.channels;
    assert.ok(alpha.data[at]! > 245 && alpha.data[at + 1]! > 245 && alpha.data[at + 2]! > 245, `pixel ${[...alpha.data.subarray(at, at + 3)]}`);
    // the same image served three ways (plain, gzip, brotli) is the same image
    assert.equal(by('/gzip/photo.jpg').image_sha256, by('/img/photo.jpg').image_sha256);
    assert.equal(by('/br/photo.jpg').image_sha256, by('/img/photo.jpg').image_sha256);
  });

  it('names each reject by its input shard, row, URL and what happened', () => {
    const rejects = rejectsOf(one);
    const r = (p: string) => rejects.find((j) => String(j.url).endsWith(p))!;
    assert.match(String(r('/to-metadata').detail), /redirect 1 to 169\.254\.169\.254 is cloud metadata/);
    assert.match(String(r('/img/photo.jpg').detail), /metadata\.example\.test resolves to 169\.254\.169\.254/);
    assert.match(String(r('/page.jpg').detail), /HTML page/);
    assert.match(String(r('/bomb.png').detail), /10000x10000 = 100000000 pixels, over the decompression-bomb limit/);
    assert.match(String(r('/cut.jpg').detail), /truncated/);
    assert.match(String(r('/noai.jpg').detail), /X-Robots-Tag: noai/);
    assert.match(String(r('/loop/a').detail), /redirect loop/);
    assert.match(String(r('/broken.jpg').detail), /HTTP 500 .*after 2 attempts/);
    for (const j of rejects) {
      assert.match(String(j.file), /^data\/part-\d{5}-\d{5}\.parquet$/);
      assert.match(String(j.location), /^row \d+$/);
      assert.match(String(j.id), /^[0-9a-f]{32}$/);
    }
  });

  it('refuses private addresses by default, after DNS and at every redirect', async () => {
    const b = server.base;
    const urls = [
      `http://images.example.test:${server.port}/img/photo.jpg`, // a public-looking name that resolves to loopback
      `${b}/to-private.jpg`, // an allowed host redirecting to 10.1.2.3
      `${b}/to-mapped.jpg`, // ... to ::ffff:127.0.0.2, loopback in IPv4-mapped form
      `http://[::ffff:127.0.0.2]:${server.port}/img/photo.jpg`,
      `http://2130706434:${server.port}/img/photo.jpg`, // 127.0.0.2 written as one number
      `${b}/img/photo.jpg`,
    ];
    const d = tmpDir('mmcurate-download-private-');
    writeFileSync(path.join(d, 'urls.jsonl'), urls.map((url, i) => JSON.stringify({ caption: `c${i}`, url })).join('\n') + '\n');
    const inp = path.join(d, 'in');
    assert.equal((await runMain(['ingest', '--kind', 'caption', '--input', path.join(d, 'urls.jsonl'), '--out', inp, '--quiet'])).code, 0);
    const before = server.hits.get('/img/photo.jpg') ?? 0;
    const out = path.join(d, 'out');
    // 127.0.0.1 itself is let through (the test server lives there); every other private address is not
    const r = await runMain(['download', '--input', inp, '--out', out, '--allow-address', '127.0.0.1/32', '--resolve', 'images.example.test=127.0.0.2', '--retries', '0', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const rows = await rowsOf(out);
    assert.deepEqual(rows.map((x) => (x.image as { path: string }).path), [`${b}/img/photo.jpg`]);
    const rejects = rejectsOf(out);
    assert.deepEqual(rejects.map((j) => j.reason), Array(5).fill('private_address'));
    assert.match(String(rejects[0]!.detail), /images\.example\.test resolves to 127\.0\.0\.2 is loopback; --allow-private-addresses/);
    assert.match(String(rejects[1]!.detail), /redirect 1 to 10\.1\.2\.3 is private/);
    assert.match(String(rejects[2]!.detail), /redirect 1 to \[::ffff:7f00:2\] \(127\.0\.0\.2\) is loopback/);
    assert.match(String(rejects[3]!.detail), /\(127\.0\.0\.2\) is loopback/);
    assert.match(String(rejects[4]!.detail), /127\.0\.0\.2 is loopback/);
    // only the one allowed URL reached the server; the refused ones never connected
    assert.equal(server.hits.get('/img/photo.jpg')! - before, 1);
    // with nothing allowed, every URL is refused and the run says why (exit 1: a source came out empty)
    const none = await runMain(['download', '--input', inp, '--out', path.join(d, 'none'), '--resolve', 'images.example.test=127.0.0.2', '--retries', '0', '--quiet']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /private_address.*--allow-private-addresses/s);
  });

  it('--dns-server: names resolve through that server (cached), an unknown name is dns_failed, a silent server too', async () => {
    const dns = await dnsServer({ 'images.example.test': '127.0.0.1', 'evil.example.test': '169.254.169.254' }, ['down.example.test']);
    try {
      const p = server.port;
      const urls = [
        `http://images.example.test:${p}/img/photo.jpg`,
        `http://gone.example.test:${p}/img/photo.jpg`, // NXDOMAIN
        `http://images.example.test:${p}/img/chart.png`, // the same host again: answered from the cache
        `http://evil.example.test:${p}/img/photo.jpg`, // resolves to a metadata address: refused after DNS
        `http://down.example.test:${p}/img/photo.jpg`, // the server never answers for it
      ];
      const d = tmpDir('mmcurate-download-dns-');
      writeFileSync(path.join(d, 'urls.jsonl'), urls.map((url, i) => JSON.stringify({ caption: `c${i}`, url })).join('\n') + '\n');
      const inp = path.join(d, 'in');
      assert.equal((await runMain(['ingest', '--kind', 'caption', '--input', path.join(d, 'urls.jsonl'), '--out', inp, '--quiet'])).code, 0);
      const out = path.join(d, 'out');
      const r = await runMain(['download', '--input', inp, '--out', out, '--dns-server', `127.0.0.1:${dns.port}`, '--allow-private-addresses', '--retries', '0', '--concurrency', '1', '--timeout', '2', '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await rowsOf(out)).map((x) => (x.image as { path: string }).path), [urls[0], urls[2]]);
      const rejects = rejectsOf(out);
      assert.deepEqual(rejects.map((j) => [j.url, j.reason]), [[urls[1], 'dns_failed'], [urls[3], 'private_address'], [urls[4], 'dns_failed']]);
      assert.match(String(rejects[0]!.detail), /gone\.example\.test: no such host/);
      assert.match(String(rejects[1]!.detail), /evil\.example\.test resolves to 169\.254\.169\.254/);
      assert.match(String(rejects[2]!.detail), /down\.example\.test: DNS lookup failed for now/);
      assert.deepEqual(manifestOf(out).rejected_by_reason, { dns_failed: 2, private_address: 1 });
      // one A and one AAAA question per name, however many URLs name it
      assert.equal(dns.asked.filter((q) => q === 'images.example.test A').length, 1);
      assert.equal(dns.asked.filter((q) => q === 'images.example.test AAAA').length, 1);
    } finally {
      await dns.close();
    }
  });

  it('--tasks 3 writes the same rows and bytes as --tasks 1, and a lost shard is downloaded again', async () => {
    const three = path.join(dir, 'three');
    const r = await runMain(['download', '--input', ingested, '--out', three, '--tasks', '3', ...caseFlags()]);
    assert.equal(r.code, 0, r.stderr);
    const strip = (rows: Record<string, unknown>[]) => rows.map((x) => ({ ...x }));
    const a = strip(await rowsOf(one));
    const b = strip(await rowsOf(three));
    assert.deepEqual(b, a);
    assert.deepEqual(rejectsOf(three).map((j) => [j.url, j.reason]), rejectsOf(one).map((j) => [j.url, j.reason]));
    const m3 = manifestOf(three);
    assert.equal(m3.tasks.world, 3);
    assert.deepEqual(m3.rejected_by_reason, manifestOf(one).rejected_by_reason);

    // resume: rank 1's marker and shard are lost; only its rows are fetched again, to the same bytes
    const shard = m3.shards.find((s) => s.path.startsWith('data/part-00001-'))!;
    const shardBytes = readFileSync(path.join(three, shard.path));
    rmSync(path.join(three, shard.path));
    rmSync(path.join(three, '_tasks', 'download', '00001.done.json'));
    rmSync(path.join(three, 'manifest.json'));
    const hitsBefore = [...server.hits.values()].reduce((x, y) => x + y, 0);
    const again = await runMain(['download', '--input', ingested, '--out', three, '--tasks', '3', ...caseFlags()]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(readFileSync(path.join(three, shard.path)), shardBytes);
    assert.deepEqual(strip(await rowsOf(three)), a);
    const fetched = [...server.hits.values()].reduce((x, y) => x + y, 0) - hitsBefore;
    assert.ok(fetched > 0 && fetched < CASES.length, `the resumed run made ${fetched} requests; the whole input is ${CASES.length} URLs`);
  });

  it('refuses bad options with a usage error', async () => {
    const bad = async (args: string[], re: RegExp) => {
      const r = await runMain(['download', '--input', ingested, '--out', path.join(dir, 'bad'), ...args]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, re);
    };
    await bad(['--resize-mode', 'stretch'], /unsupported --resize-mode "stretch". Should be one of: no, keep_ratio/);
    await bad(['--encode-format', 'png', '--encode-quality', '95'], /compression level, 0-9/);
    await bad(['--allow-address', '10.0.0.0/40'], /not a prefix length/);
    await bad(['--resolve', 'a.test=not-an-ip'], /not an IP address/);
    await bad(['--dns-server', 'dns.example.test'], /--dns-server dns\.example\.test: give an IP address/);
  });
});
