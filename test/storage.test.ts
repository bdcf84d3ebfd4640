/**
 * The storage layer against real servers started here on 127.0.0.1 (storage-helpers.ts): s3rver, an S3
 * emulator from npm, behind a proxy that injects 503 SlowDown and connection resets; and a static HTTP
 * server with Range support that also answers as the Hugging Face Hub (HF_ENDPOINT).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as storage from '../src/storage/index.js';
import { PART_BYTES } from '../src/storage/s3.js';
import { listSync, putIfAbsentSync, putSync, readTextSync, removeSync, sizeSync } from '../src/storage/sync.js';
import { startServers, type Servers } from './storage-helpers.js';

let srv: Servers;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmc-storage-'));
/** Larger than one multipart part, so putFile goes through CreateMultipartUpload … Complete. */
const big = randomBytes(PART_BYTES + 3 * 1024 * 1024 + 17);

before(async () => {
  const web = path.join(tmp, 'web');
  mkdirSync(path.join(web, 'owner', 'laion', 'data'), { recursive: true });
  writeFileSync(path.join(web, 'owner', 'laion', 'data', 'train-0.jsonl'), '{"text":"a"}\n{"text":"b"}\n');
  writeFileSync(path.join(web, 'owner', 'laion', 'data', 'train-1.jsonl'), '{"text":"c"}\n');
  writeFileSync(path.join(web, 'owner', 'laion', 'README.md'), '# card\n');
  writeFileSync(path.join(web, 'blob.bin'), big.subarray(0, 100_000));
  writeFileSync(path.join(tmp, 'big.bin'), big);
  srv = await startServers(web);
});

after(async () => {
  await srv.stop();
});

test('s3: put, size, ranged read, list and glob by prefix, delete', async () => {
  await storage.put('s3://bucket/t1/a.parquet', 'AAAA');
  await storage.put('s3://bucket/t1/b.parquet', new Uint8Array([1, 2, 3]));
  await storage.put('s3://bucket/t1/c.json', '{}');
  await storage.put('s3://bucket/t1/sub/d.parquet', 'D');
  assert.equal(await storage.size('s3://bucket/t1/a.parquet'), 4);
  assert.equal(await storage.size('s3://bucket/t1/none'), undefined);
  assert.equal(await storage.exists('s3://bucket/t1/none'), false);
  assert.equal(Buffer.from(await storage.read('s3://bucket/t1/a.parquet', 1, 3)).toString(), 'AA');
  // path.join collapses the double slash; the storage layer reads it back as the same URL
  assert.equal(await storage.readText(path.join('s3://bucket/t1', 'c.json')), '{}');
  assert.deepEqual((await storage.list('s3://bucket/t1')).map((e) => [e.loc, e.size]), [
    ['s3://bucket/t1/a.parquet', 4],
    ['s3://bucket/t1/b.parquet', 3],
    ['s3://bucket/t1/c.json', 2],
    ['s3://bucket/t1/sub/d.parquet', 1],
  ]);
  // `*` stays inside one segment, as a shell glob
  assert.deepEqual((await storage.glob('s3://bucket/t1/*.parquet')).map((e) => e.loc), ['s3://bucket/t1/a.parquet', 's3://bucket/t1/b.parquet']);
  await storage.remove('s3://bucket/t1/a.parquet');
  assert.equal(await storage.exists('s3://bucket/t1/a.parquet'), false);
});

test('s3: a file above one part goes up as a multipart upload and comes back byte for byte', async () => {
  await storage.putFile('s3://bucket/t2/big.bin', path.join(tmp, 'big.bin'));
  assert.equal(await storage.size('s3://bucket/t2/big.bin'), big.length);
  const back = await storage.readAll('s3://bucket/t2/big.bin');
  assert.ok(Buffer.from(back).equals(big));
  const mid = await storage.read('s3://bucket/t2/big.bin', PART_BYTES - 5, PART_BYTES + 5);
  assert.ok(Buffer.from(mid).equals(big.subarray(PART_BYTES - 5, PART_BYTES + 5)));
});

test('503 SlowDown is retried with backoff, for writes, reads and listings', async () => {
  await srv.fault({ clearLog: true });
  const before = storage.retryCounter.retries;
  await srv.fault({ slowDown: 3 });
  await storage.put('s3://bucket/t3/x.txt', 'after the storm');
  await srv.fault({ slowDown: 2 });
  assert.equal(await storage.readText('s3://bucket/t3/x.txt'), 'after the storm');
  await srv.fault({ slowDown: 2 });
  assert.equal((await storage.list('s3://bucket/t3')).length, 1);
  const log = await srv.fault({});
  assert.equal(log.filter((l) => l.startsWith('503')).length, 7);
  assert.equal(storage.retryCounter.retries - before, 7);
});

test('a connection reset mid-object resumes from the last byte received', async () => {
  await storage.putFile('s3://bucket/t4/big.bin', path.join(tmp, 'big.bin'));
  await srv.fault({ clearLog: true, resetGetAfter: 1_000_000 });
  const chunks: Buffer[] = [];
  for await (const c of storage.stream('s3://bucket/t4/big.bin')) chunks.push(c as Buffer);
  assert.ok(Buffer.concat(chunks).equals(big));
  const log = await srv.fault({});
  assert.ok(log.some((l) => /^reset .*big\.bin.* after 1000000 bytes/.test(l)), log.join('\n'));
  // a ranged read cut half-way is resumed too
  await srv.fault({ resetGetAfter: 300_000 });
  const part = await storage.read('s3://bucket/t4/big.bin', 1000, 2_001_000);
  assert.ok(Buffer.from(part).equals(big.subarray(1000, 2_001_000)));
});

test('a conditional put is honoured where the store honours it; the emulator does not (documented)', async () => {
  assert.equal(await storage.putIfAbsent(path.join(tmp, 'lock', 'l.json'), 'a'), true);
  assert.equal(await storage.putIfAbsent(path.join(tmp, 'lock', 'l.json'), 'b'), false);
  assert.equal(await storage.putIfAbsent('s3://bucket/t5/l.json', 'a'), true);
});

test('sync calls (markers, plans, locks) reach the bucket from the waiting thread', () => {
  putSync('s3://bucket/t6/_tasks/x/00000.done.json', '{"rank":0}');
  assert.equal(readTextSync('s3:/bucket/t6/_tasks/x/00000.done.json'), '{"rank":0}');
  assert.equal(sizeSync('s3://bucket/t6/_tasks/x/00000.done.json'), 10);
  assert.equal(readTextSync('s3://bucket/t6/none'), undefined);
  assert.deepEqual(listSync('s3://bucket/t6').map((e) => e.loc), ['s3://bucket/t6/_tasks/x/00000.done.json']);
  assert.equal(putIfAbsentSync(path.join(tmp, 'sync-lock'), 'x'), true);
  removeSync('s3://bucket/t6/_tasks/x/00000.done.json');
  assert.equal(sizeSync('s3://bucket/t6/_tasks/x/00000.done.json'), undefined);
});

test('https: size and ranged reads against a local server', async () => {
  const url = `${srv.web}/blob.bin`;
  assert.equal(await storage.size(url), 100_000);
  const r = await storage.read(url, 50_000, 50_100);
  assert.ok(Buffer.from(r).equals(big.subarray(50_000, 50_100)));
  const all = await storage.readAll(url);
  assert.ok(Buffer.from(all).equals(big.subarray(0, 100_000)));
  await assert.rejects(storage.list(srv.web), /cannot be listed/);
  await assert.rejects(storage.put(url, 'x'), /read-only/);
});

test('hf://datasets: listing through the tree API, reads through resolve URLs, HF_TOKEN sent as a bearer token', async () => {
  process.env.HF_TOKEN = 'hf_secretvalue1234';
  try {
    await srv.fault({ clearLog: true });
    const files = await storage.glob('hf://datasets/owner/laion/data/train-*.jsonl');
    assert.deepEqual(files.map((f) => [f.loc, f.size]), [
      ['hf://datasets/owner/laion/data/train-0.jsonl', 26],
      ['hf://datasets/owner/laion/data/train-1.jsonl', 13],
    ]);
    assert.equal(await storage.readText('hf://datasets/owner/laion/data/train-1.jsonl'), '{"text":"c"}\n');
    const log = await srv.fault({});
    assert.ok(log.some((l) => l.startsWith('GET /api/datasets/owner/laion/tree/main/data auth')), log.join('\n'));
    assert.ok(log.some((l) => l.startsWith('GET /datasets/owner/laion/resolve/main/data/train-1.jsonl auth')), log.join('\n'));
    // an error names the file, never the token
    const err = await storage.readText('hf://datasets/owner/laion/data/none.jsonl').catch((e: Error) => e);
    assert.ok(err instanceof Error && /none\.jsonl/.test(err.message));
    assert.doesNotMatch(String(err.message), /hf_secretvalue1234/);
  } finally {
    delete process.env.HF_TOKEN;
  }
});

test('credentials never appear in messages: URLs, headers, signed queries, secret values', () => {
  process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  try {
    const msg = storage.redact(
      'GET https://alice:pa55word@example.com/x?X-Amz-Signature=abcdef&X-Amz-Credential=AKIA/2024&keep=1 ' +
        'authorization: AWS4-HMAC-SHA256 Credential=AKIA, Signature=deadbeef; Bearer hf_abcdefgh; secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    );
    for (const s of ['pa55word', 'abcdef', 'AKIA/2024', 'deadbeef', 'hf_abcdefgh', 'wJalrXUtnFEMI']) assert.ok(!msg.includes(s), `${s} left in: ${msg}`);
    assert.match(msg, /keep=1/);
    assert.match(msg, /example\.com\/x/);
  } finally {
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  }
});
