/**
 * `npm run bench -- download`: mmcurate download against a Python peer doing img2dataset's work (aiohttp,
 * PIL resize to 256 with border, JPEG 95; bench/peers/download_peer.py), both fetching the same URLs from
 * one local server, interleaved A/B/A/B. The server (in this process) serves a few hundred distinct
 * real-sized JPEGs (~50 KB, 400x300 to 1024x768) under BENCH_DOWNLOAD_URLS URLs (default 20,000), with
 * 50-500 ms of latency per request and a share of failures (404, 500, an HTML page, a truncated JPEG).
 * Each client runs under /usr/bin/time: wall seconds, CPU seconds (user + system) and peak RSS.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { BIN, ROOT, table } from './util.js';

const URLS = Number(process.env.BENCH_DOWNLOAD_URLS ?? 20_000);
const DISTINCT = Number(process.env.BENCH_DOWNLOAD_DISTINCT ?? 300);
const CONCURRENCY = 256;
/** Pairs, interleaved mmcurate / peer. */
const REPEAT = Math.max(1, Number(process.env.BENCH_DOWNLOAD_REPEAT ?? 3));
const SIZES: [number, number][] = [[400, 300], [500, 375], [640, 480], [720, 540], [800, 600], [1024, 768], [480, 640], [600, 800]];

/** Photo-like content: smooth colour fields plus seeded noise, so a JPEG of it weighs what a photo does. */
export async function photo(i: number): Promise<Buffer> {
  const [w, h] = SIZES[i % SIZES.length]!;
  const px = Buffer.alloc(w * h * 3);
  let s = (i + 1) * 2654435761;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const [a, b, c] = [rnd(), rnd(), rnd()];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      const n = rnd() >> 3;
      px[o] = (a + (x * 255) / w + n) & 0xff;
      px[o + 1] = (b + (y * 255) / h + n) & 0xff;
      px[o + 2] = (c + ((x + y) * 128) / (w + h) + n) & 0xff;
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).blur(1.2).jpeg({ quality: 86 }).toBuffer();
}

const h32 = (s: string) => createHash('md5').update(s).digest().readUInt32LE(0);

interface Server {
  port: number;
  close(): Promise<void>;
  requests: number;
}

export async function serve(images: Buffer[]): Promise<Server> {
  const html = Buffer.from('<!DOCTYPE html><html><body>an image was here</body></html>');
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    const key = (req.url ?? '').slice(3); // /i/KEY
    const h = h32(key);
    const delay = 50 + (h % 451);
    setTimeout(() => {
      const kind = (h >>> 12) % 100;
      if (kind < 4) return void res.writeHead(404).end();
      if (kind < 6) return void res.writeHead(500).end();
      if (kind < 7) return void res.writeHead(200, { 'content-type': 'image/jpeg' }).end(html);
      const img = images[(h >>> 20) % images.length]!;
      const body = kind < 8 ? img.subarray(0, img.length >> 1) : img;
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(body.length) }).end(body);
    }, delay);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

interface Run {
  tool: string;
  seconds: number;
  cpu: number;
  rssBytes: number;
  faults: number;
  kept: number;
  read: number;
}

/** A child under /usr/bin/time, asynchronously: the server in this process must keep answering. */
function timed(cmd: string[], env: Record<string, string> = {}): Promise<{ seconds: number; cpu: number; rssBytes: number; faults: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', 'TIME %e %U %S %M %R', ...cmd], { cwd: ROOT, env: { ...process.env, CI: 'true', ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+) (\d+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`${cmd.join(' ')} failed (${code}): ${err.slice(-2000)}`));
      resolve({ seconds: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssBytes: Number(m[4]) * 1024, faults: Number(m[5]), stdout: out });
    });
  });
}

export async function benchDownload(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmcurate-bench-download-'));
  try {
    const images: Buffer[] = [];
    for (let i = 0; i < DISTINCT; i++) images.push(await photo(i));
    const meanKb = images.reduce((a, b) => a + b.length, 0) / images.length / 1024;
    const server = await serve(images);
    const lines: string[] = [];
    for (let i = 0; i < URLS; i++) lines.push(JSON.stringify({ url: `http://127.0.0.1:${server.port}/i/${i}`, caption: `picture ${i}` }));
    writeFileSync(path.join(dir, 'urls.jsonl'), lines.join('\n') + '\n');
    const inDir = path.join(dir, 'in');
    await timed([process.execPath, BIN, 'ingest', '--kind', 'caption', '--input', path.join(dir, 'urls.jsonl'), '--out', inDir, '--quiet']);

    const runs: Run[] = [];
    const mm = async (rep: number) => {
      const out = path.join(dir, `mm-${rep}`);
      const t = await timed([process.execPath, BIN, 'download', '--input', inDir, '--out', out, '--concurrency', String(CONCURRENCY), '--per-host', String(CONCURRENCY), '--allow-private-addresses', '--retries', '0', '--image-size', '256', '--resize-mode', 'border', '--quiet']);
      const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { rows: number; read: number };
      runs.push({ tool: 'mmcurate download', seconds: t.seconds, cpu: t.cpu, rssBytes: t.rssBytes, faults: t.faults, kept: m.rows, read: m.read });
      rmSync(out, { recursive: true, force: true });
    };
    const py = async (rep: number) => {
      const out = path.join(dir, `py-${rep}.tar`);
      const t = await timed(['python3', path.join(ROOT, 'bench', 'peers', 'download_peer.py'), '--input', path.join(dir, 'urls.jsonl'), '--out', out, '--concurrency', String(CONCURRENCY)]);
      const r = JSON.parse(t.stdout.trim().split('\n').pop()!) as { read: number; kept: number; client: string };
      runs.push({ tool: `python peer (${r.client} + PIL)`, seconds: t.seconds, cpu: t.cpu, rssBytes: t.rssBytes, faults: t.faults, kept: r.kept, read: r.read });
      rmSync(out, { force: true });
    };
    for (let rep = 0; rep < REPEAT; rep++) {
      await mm(rep);
      await py(rep);
    }
    await server.close();
    const rows = runs.map((r) => [r.tool, r.read, r.kept, r.seconds, r.kept / r.seconds, r.cpu, (1000 * r.cpu) / r.kept, r.kept / r.cpu, (r.rssBytes / 2 ** 20).toFixed(0), Math.round(r.faults / r.read)]);
    const load = os.loadavg()[0]!.toFixed(1);
    return `### Download (${URLS.toLocaleString('en-US')} URLs, ${DISTINCT} distinct JPEGs of ${meanKb.toFixed(0)} KB on average, 50-500 ms latency, ~8% failures; concurrency ${CONCURRENCY}, resize 256 border, JPEG 95)\n\n${table(['client', 'URLs', 'kept', 'seconds', 'images/s', 'CPU s', 'CPU ms/image', 'images/CPU s', 'peak RSS MiB', 'page faults/URL'], rows)}\n\nInterleaved A/B/A/B on ${os.cpus().length} cores; 1-minute load average at the end: ${load} (other work on the machine counts against both).\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
