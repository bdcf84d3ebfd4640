/**
 * The whole path on a bucket, against the S3 emulator (s3rver) started here: ingest from s3:// Parquet,
 * coreset from a clip-retrieval embedding layout in s3://, mix writing --out s3://, audit reading it; each
 * byte-identical to the same run on local disk. Resume reads the markers from the bucket.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { main } from '../src/cli/main.js';
import { synthClustered, writeLaionEmbeddings } from '../src/coreset/synth.js';
import * as storage from '../src/storage/index.js';
import { tmpDir } from './helpers.js';
import { startServers, type Servers } from './storage-helpers.js';

let srv: Servers;
const L = tmpDir('mmc-bucket-');
const IN = path.join(L, 'in');

interface Shard {
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/** Runs the CLI in-process with stderr captured (progress and warnings must not leak credentials either). */
async function cli(argv: string[]): Promise<{ code: number; stderr: string }> {
  const chunks: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((c: string | Uint8Array) => (chunks.push(String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stderr: chunks.join('') };
  } finally {
    process.stderr.write = write;
  }
}

async function manifestOf(dir: string): Promise<{ shards: Shard[]; rejects: { path: string; rows: number }[]; rows: number; [k: string]: unknown }> {
  return JSON.parse(storage.isRemote(dir) ? await storage.readText(storage.join(dir, 'manifest.json')) : readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
}

/** Shards (path, rows, bytes, sha256 of the bytes actually stored) of a local folder or a bucket prefix. */
async function stored(dir: string): Promise<Shard[]> {
  const m = await manifestOf(dir);
  const out: Shard[] = [];
  for (const s of m.shards) {
    const bytes = await storage.readAll(storage.isRemote(dir) ? storage.join(dir, s.path) : path.join(dir, s.path));
    out.push({ path: s.path, rows: s.rows, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    assert.equal(out[out.length - 1]!.sha256, s.sha256, `${dir}/${s.path}: the stored bytes differ from the manifest's sha256`);
  }
  return out;
}

before(async () => {
  srv = await startServers();
  mkdirSync(path.join(IN, 'meta'), { recursive: true });
  for (const p of [0, 1]) {
    const key = Array.from({ length: 150 }, (_, i) => `k${p}_${i}`);
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'url', data: key.map((k, i) => (i % 37 === 5 ? null : `https://example.com/${k}.jpg`)), type: 'STRING' },
        { name: 'caption', data: key.map((k) => `a photo of ${k}`), type: 'STRING' },
        { name: 'similarity', data: key.map((_, i) => 0.25 + i * 1e-3), type: 'DOUBLE' },
        { name: 'width', data: key.map(() => 640), type: 'INT32' },
        { name: 'height', data: key.map(() => 480), type: 'INT32' },
      ],
      rowGroupSize: 64,
    });
    writeFileSync(path.join(IN, 'meta', `part-${p}.parquet`), Buffer.from(buf));
  }
  const s = synthClustered({ rows: 600, dim: 32, clusters: 4, centreCos: 0.7, dupFraction: 0.3, minAngle: 0.5, maxAngle: 12, seed: 3 });
  await writeLaionEmbeddings(path.join(IN, 'emb'), s, { parts: 2 });
  // the same files in the bucket
  for (const f of readdirSync(IN, { recursive: true }) as string[]) {
    if (statSync(path.join(IN, f)).isFile()) await storage.putFile(`s3://bucket/in/${f.split(path.sep).join('/')}`, path.join(IN, f));
  }
});

after(async () => {
  await srv.stop();
});

test('ingest from s3:// Parquet (a glob over the prefix) writes to s3:// the same shards as on local disk', async () => {
  // --workers 1: in-process tasks (the test machine is small); --s3-endpoint as a user would give it
  const local = await cli(['ingest', '--kind', 'caption', '--input', path.join(IN, 'meta', '*.parquet'), '--out', path.join(L, 'ingest'), '--workers', '1', '--quiet']);
  assert.equal(local.code, 0, local.stderr);
  delete process.env.AWS_ENDPOINT_URL; // the flag alone must find the emulator
  const remote = await cli(['ingest', '--s3-endpoint', srv.endpoint, '--kind', 'caption', '--input', 's3://bucket/in/meta/*.parquet', '--out', 's3://bucket/out/ingest', '--workers', '1', '--quiet']);
  assert.equal(remote.code, 0, remote.stderr);
  const a = await stored(path.join(L, 'ingest'));
  assert.ok(a.length >= 1 && a.reduce((n, s) => n + s.rows, 0) > 250);
  assert.deepEqual(await stored('s3://bucket/out/ingest'), a);
  const ma = await manifestOf(path.join(L, 'ingest'));
  const mb = await manifestOf('s3://bucket/out/ingest');
  assert.equal(mb.rows, ma.rows);
  assert.deepEqual(mb.rejects.map((r) => r.rows), ma.rejects.map((r) => r.rows));
  // markers, plans and the manifest live in the bucket; the lock is gone
  const keys = (await storage.list('s3://bucket/out/ingest')).map((e) => e.loc.slice('s3://bucket/out/ingest/'.length));
  assert.ok(keys.includes('_plan/stage.json') && keys.includes('_tasks/ingest/00000.done.json') && keys.includes('_tasks/manifest/00000.done.json'), keys.join(' '));
  assert.ok(!keys.includes('_lock.json'));
  assert.ok(!keys.some((k) => k.endsWith('.tmp')));
});

test('mix writes --out s3://, audit reads it, a second run resumes from the markers in the bucket; all identical to local', async () => {
  const args = (input: string, out: string) => ['mix', '--input', `caption=${input}`, '--ratio', 'caption=100', '--shard-rows', '100', '--out', out, '--quiet'];
  assert.equal((await cli(args(path.join(L, 'ingest'), path.join(L, 'mix')))).code, 0);
  let printed = '';
  const w = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => ((printed += String(c)), true)) as typeof process.stdout.write;
  let r: { code: number; stderr: string };
  try {
    r = await cli(args('s3://bucket/out/ingest', 's3://bucket/out/mix'));
  } finally {
    process.stdout.write = w;
  }
  assert.equal(r.code, 0, r.stderr);
  assert.match(printed, /manifest: s3:\/\/bucket\/out\/mix\/manifest\.json; check it with: mmcurate audit s3:\/\/bucket\/out\/mix/);
  const a = await stored(path.join(L, 'mix'));
  assert.ok(a.length >= 2);
  assert.deepEqual(await stored('s3://bucket/out/mix'), a);
  // the mix's intermediate files were removed from the bucket as from a local folder
  const keys = (await storage.list('s3://bucket/out/mix')).map((e) => e.loc.slice('s3://bucket/out/mix/'.length));
  assert.ok(!keys.some((k) => k.startsWith('_work/')), keys.join(' '));

  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => ((out += String(c)), true)) as typeof process.stdout.write;
  let code: number;
  try {
    code = await main(['audit', 's3://bucket/out/mix', '--json']);
  } finally {
    process.stdout.write = write;
  }
  const report = JSON.parse(out) as { ok: boolean; rows: number };
  assert.equal(code, 0, out);
  assert.equal(report.ok, true);

  const again = await cli([...args('s3://bucket/out/ingest', 's3://bucket/out/mix')].filter((x) => x !== '--quiet'));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /is complete \(\d+ task\(s\) done\); nothing to run/);
});

test('coreset reads a clip-retrieval embedding layout from s3:// (ranged .npy reads) and matches the local run', async () => {
  const args = (input: string, out: string) => ['coreset', '--input', input, '--recipe', 'bunny-laion-2m', '--k', '4', '--target', '200', '--out', out, '--quiet'];
  const l = await cli(args(path.join(IN, 'emb'), path.join(L, 'coreset')));
  assert.equal(l.code, 0, l.stderr);
  const r = await cli(args('s3://bucket/in/emb', 's3://bucket/out/coreset'));
  assert.equal(r.code, 0, r.stderr);
  const a = await stored(path.join(L, 'coreset'));
  assert.deepEqual(await stored('s3://bucket/out/coreset'), a);
  assert.equal((await manifestOf('s3://bucket/out/coreset')).rows, (await manifestOf(path.join(L, 'coreset'))).rows);
});

test('credentials in an input URL reach the server but no manifest, plan, marker or message', async () => {
  mkdirSync(path.join(srv.webRoot, 'docs'), { recursive: true });
  writeFileSync(path.join(srv.webRoot, 'docs', 'web.jsonl'), '{"text":"one document"}\n{"text":""}\n{"text":"two"}\n');
  const port = new URL(srv.web).port;
  const out = path.join(L, 'secret-run');
  const r = await cli(['ingest', '--kind', 'text', '--input', `web=http://reader:pw-hunter2@127.0.0.1:${port}/docs/web.jsonl`, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await manifestOf(out)).rows, 2);
  // _plan/ keeps the inputs as given (a task elsewhere must read them: docs/storage.md); everything else is clean
  const files = (readdirSync(out, { recursive: true }) as string[]).filter((f) => !f.startsWith('_plan') && statSync(path.join(out, f)).isFile());
  assert.ok(files.includes('manifest.json') && files.some((f) => f.startsWith('_tasks')));
  for (const f of files) assert.ok(!readFileSync(path.join(out, f), 'latin1').includes('pw-hunter2'), `the password is in ${f}`);
  assert.ok(!r.stderr.includes('pw-hunter2'), r.stderr);
  const missing = await cli(['ingest', '--kind', 'text', '--input', `http://reader:pw-hunter2@127.0.0.1:${port}/docs/none.jsonl`, '--out', path.join(L, 'secret-2')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /none\.jsonl/);
  assert.ok(!missing.stderr.includes('pw-hunter2'), missing.stderr);
});

test('filter, dedup and export (webdataset) on s3:// match the same chain on local disk; report and status read the bucket', async () => {
  const run = async (src: string, at: (s: string) => string) => {
    const steps = [
      ['filter', '--input', src, '--caption-words', '4-', '--out', at('filter'), '--workers', '1'],
      // two inputs with the same captions: every row of the second is a duplicate of the first
      ['dedup', '--input', at('filter'), '--input', src, '--exact', 'caption', '--out', at('dedup')],
      ['export', at('dedup'), '--format', 'webdataset', '--samples-per-shard', '100', '--out', at('wds'), '--workers', '1'],
    ];
    for (const s of steps) {
      const r = await cli([...s, '--quiet']);
      assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
    }
  };
  await run(path.join(L, 'ingest'), (s) => path.join(L, 'chain', s));
  await run('s3://bucket/out/ingest', (s) => `s3://bucket/out/chain/${s}`);
  // manifests minus the paths that name where they ran
  const strip = (m: unknown): unknown => JSON.parse(JSON.stringify(m, (k, v) => (['input', 'inputs', 'command', 'created', 'argv', 'started', 'finished', 'seconds', 'git'].includes(k) ? undefined : v)));
  for (const s of ['filter', 'dedup', 'wds']) {
    const a = await manifestOf(path.join(L, 'chain', s));
    const b = await manifestOf(`s3://bucket/out/chain/${s}`);
    assert.deepEqual(strip(b), strip(a), s);
    if (s !== 'wds') assert.deepEqual(await stored(`s3://bucket/out/chain/${s}`), await stored(path.join(L, 'chain', s)));
  }
  const dd = await manifestOf(path.join(L, 'chain', 'dedup'));
  assert.ok(dd.rejects.reduce((n, r) => n + r.rows, 0) > 0, 'dedup dropped the second input');
  // the tars, byte for byte
  const tars = (readdirSync(path.join(L, 'chain', 'wds')) as string[]).filter((f) => f.endsWith('.tar')).sort();
  assert.ok(tars.length >= 2);
  for (const t of tars) assert.deepEqual(Buffer.from(await storage.readAll(`s3://bucket/out/chain/wds/${t}`)), readFileSync(path.join(L, 'chain', 'wds', t)), t);
  // download reads the bucket and writes to it: every URL here resolves to loopback, refused without a network
  for (const [src, out] of [[path.join(L, 'ingest'), path.join(L, 'dl')], ['s3://bucket/out/ingest', 's3://bucket/out/dl']] as const) {
    const r = await cli(['download', '--input', src, '--out', out, '--resolve', 'example.com=127.0.0.1', '--allow-empty', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
  }
  const dl = await manifestOf('s3://bucket/out/dl');
  assert.equal(dl.rejects.reduce((n, r) => n + r.rows, 0), 292);
  assert.deepEqual(strip(dl), strip(await manifestOf(path.join(L, 'dl'))));
  const keys = (await storage.list('s3://bucket/out/chain')).map((e) => e.loc);
  assert.ok(!keys.some((k) => k.includes('/_work/')), keys.join(' '));

  let printed = '';
  const w = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => ((printed += String(c)), true)) as typeof process.stdout.write;
  let st: { code: number; stderr: string };
  try {
    st = await cli(['status', 's3://bucket/out/chain/dedup']);
  } finally {
    process.stdout.write = w;
  }
  assert.equal(st.code, 0, st.stderr);
  assert.match(printed, /write/);
  const html = path.join(L, 'chain-report.html');
  const rep = await cli(['report', 's3://bucket/out/chain/dedup', '--out', html]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(readFileSync(html, 'utf8'), /dedup/);
  // the bucket prefix of the whole run: its three stage folders, found by listing
  printed = '';
  process.stdout.write = ((c: string | Uint8Array) => ((printed += String(c)), true)) as typeof process.stdout.write;
  try {
    st = await cli(['report', 's3://bucket/out/chain', '--json', '--quiet']);
    assert.equal(st.code, 0, st.stderr);
    const j = JSON.parse(printed) as { datasets: { name: string; rows: number }[] };
    assert.deepEqual(j.datasets.map((d) => d.name), ['filter', 'dedup', 'wds']);
    printed = '';
    st = await cli(['status', 's3://bucket/out/chain']);
  } finally {
    process.stdout.write = w;
  }
  assert.equal(st.code, 0, st.stderr);
  for (const s of ['filter', 'dedup', 'wds']) assert.match(printed, new RegExp(`^${s} `, 'm'));
});
