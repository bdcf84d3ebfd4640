import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { readHyparquet, tmpDir } from './helpers.js';
import { run } from '../src/coreset/command.js';
import { synthClustered, writeLaionEmbeddings, type Synth } from '../src/coreset/synth.js';
import { readNpy } from '../src/util/npy.js';
import { f32ToF16 } from '../src/util/float16.js';
import { ShardWriter } from '../src/write/shard-writer.js';
import { buildManifest, writeManifest } from '../src/write/manifest.js';
import { Accounting } from '../src/write/accounting.js';

const synth = (): Synth => synthClustered({ rows: 2400, dim: 64, clusters: 6, centreCos: 0.7, dupFraction: 0.3, minAngle: 0.5, maxAngle: 12, seed: 8 });

interface Manifest {
  rows: number;
  read: number;
  rejected: number;
  steps: { name: string; in: number; out: number }[];
  rejected_by_reason: Record<string, number>;
  shards: { path: string }[];
  rejects: { path: string }[];
  coreset: { k: number; dedup: unknown };
}

async function quietRun(args: string[]): Promise<number> {
  return run([...args, '--quiet']);
}

function readRejects(out: string, m: Manifest): Record<string, unknown>[] {
  return m.rejects.flatMap((r) => readFileSync(path.join(out, r.path), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
}

async function readShards(out: string, m: Manifest): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const s of m.shards) rows.push(...(await readHyparquet(path.join(out, s.path))));
  // hyparquet's generic reader gives the list<FLOAT16> column as numbers: back to float16 bytes to compare bits
  for (const r of rows) {
    const e = r.image_embedding;
    if (Array.isArray(e)) {
      const h = f32ToF16(Float32Array.from(e as number[]));
      r.image_embedding = new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    }
  }
  return rows;
}

test('coreset --recipe bunny-laion-2m on the LAION layout: per-step counts, kept rows keep metadata, every dropped row in rejects', async () => {
  const s = synth();
  const input = tmpDir('mmcurate-coreset-in-');
  await writeLaionEmbeddings(input, s, { parts: 2 });
  mkdirSync(path.join(input, 'metadata'));
  for (const [p, rows] of [[0, 1200], [1, 1200]]) {
    const key = Array.from({ length: rows }, (_, i) => `k${p}_${i}`);
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'url', data: key.map((k) => `https://example.com/${k}.jpg`), type: 'STRING' },
        { name: 'caption', data: key.map((k) => `a photo ${k}`), type: 'STRING' },
        { name: 'key', data: key, type: 'STRING' },
        { name: 'similarity', data: key.map((_, i) => 0.3 + i * 1e-5), type: 'DOUBLE' },
        { name: 'width', data: key.map(() => 640), type: 'INT32' },
        { name: 'height', data: key.map(() => 480), type: 'INT32' },
        { name: 'hash', data: key.map((_, i) => 9223372036854775807n - BigInt(i)), type: 'INT64' },
      ],
    });
    writeFileSync(path.join(input, 'metadata', `metadata_${String(p).padStart(4, '0')}.parquet`), Buffer.from(buf));
  }
  const out = path.join(tmpDir(), 'coreset');
  const code = await quietRun(['--input', input, '--recipe', 'bunny-laion-2m', '--k', '6', '--target', '25', '--out', out]);
  assert.equal(code, 0);
  const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.equal(m.read, 2400);
  assert.equal(m.rows, 25);
  assert.equal(m.rejected, 2375);
  assert.deepEqual(m.steps.map((x) => x.name), ['embeddings', 'dedup middle (cos > 0.86, k=6)', 'clip_score band 40-60%', 'centroid band 15-35%', 'sample 25']);
  for (let i = 1; i < m.steps.length; i++) assert.equal(m.steps[i].in, m.steps[i - 1].out);
  assert.equal(m.steps.at(-1)!.out, 25);
  assert.equal(m.coreset.k, 6);
  // Kept rows: caption records with url/caption from metadata, the other metadata columns in `metadata`.
  const rows = await readShards(out, m);
  assert.equal(rows.length, 25);
  for (const r of rows) {
    assert.match(String(r.url), /^https:\/\/example\.com\/k\d_\d+\.jpg$/);
    assert.equal(r.text, `a photo ${/k\d_\d+/.exec(String(r.url))![0]}`);
    const meta = JSON.parse(String(r.metadata)) as Record<string, unknown>;
    assert.ok(typeof meta.key === 'string' && typeof meta.similarity === 'number');
    // LAION's INT64 hash keeps every digit (JSON.parse would round it, so read the text)
    const i = Number(/k\d_(\d+)/.exec(String(r.url))![1]);
    assert.match(String(r.metadata), new RegExp(`"hash":${9223372036854775807n - BigInt(i)}[,}]`));
    assert.equal(meta.embedding_row, i);
    assert.match(String(meta.embedding_file), /^img_emb\/img_emb_000[01]\.npy$/);
    assert.equal(r.width, 640);
    assert.ok(Number.isInteger(r.cluster_id) && (r.cluster_id as number) >= 0 && (r.cluster_id as number) < 6);
    assert.ok(typeof r.centroid_sim === 'number' && typeof r.clip_score === 'number');
    assert.equal((r.image_embedding as Uint8Array).byteLength, 64 * 2);
    assert.match(String(r.id), /^[0-9a-f]{32}$/);
  }
  // Rejects: one per dropped row, with the step; duplicates name the id they duplicate.
  const rej = readRejects(out, m);
  assert.equal(rej.length, 2375);
  const byReason: Record<string, number> = {};
  for (const r of rej) byReason[String(r.reason)] = (byReason[String(r.reason)] ?? 0) + 1;
  assert.deepEqual(byReason, m.rejected_by_reason);
  assert.deepEqual(Object.keys(byReason).sort(), ['centroid_band', 'clip_score_band', 'near_duplicate', 'not_sampled']);
  const ids = new Set([...rows.map((r) => String(r.id)), ...rej.map((r) => String(r.id))]);
  assert.equal(ids.size, 2400);
  for (const r of rej.filter((x) => x.reason === 'near_duplicate')) {
    assert.ok(ids.has(String(r.duplicate_of)) && r.duplicate_of !== r.id);
    assert.match(String(r.location), /^row \d+ \(key k\d_\d+\)$/);
  }
  // Centroids saved for reuse; the work folder is gone.
  assert.equal((await readNpy(path.join(out, 'centroids.npy'))).header.rows, 6);
  assert.ok(!existsSync(path.join(out, '_work')));
  // Re-running the same command on the finished output is a no-op that gives the same manifest.
  assert.equal(await quietRun(['--input', input, '--recipe', 'bunny-laion-2m', '--k', '6', '--target', '25', '--out', out]), 0);
  const again = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(again.steps, m.steps);
});

test('LAION layout without metadata parts: every kept row and every reject names its embedding file and row, the join key back to the source', async () => {
  const s = synth();
  const input = tmpDir('mmcurate-coreset-nometa-');
  await writeLaionEmbeddings(input, s, { parts: 2 });
  const out = path.join(tmpDir(), 'coreset');
  assert.equal(await quietRun(['--input', input, '--recipe', 'bunny-laion-2m', '--k', '6', '--target', '25', '--out', out]), 0);
  const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
  const rows = await readShards(out, m);
  assert.equal(rows.length, 25);
  const parts = [await readNpy(path.join(input, 'img_emb', 'img_emb_0000.npy')), await readNpy(path.join(input, 'img_emb', 'img_emb_0001.npy'))];
  for (const r of rows) {
    const meta = JSON.parse(String(r.metadata)) as { embedding_file: string; embedding_row: number };
    const p = Number(/img_emb_(\d{4})\.npy$/.exec(meta.embedding_file)![1]);
    const d = parts[p]!.header.cols;
    // the row's embedding is the source's row, bit for bit
    const want = parts[p]!.values.subarray(meta.embedding_row * d, (meta.embedding_row + 1) * d) as Uint16Array;
    assert.deepEqual(new Uint16Array((r.image_embedding as Uint8Array).slice().buffer), want);
  }
  const rej = readRejects(out, m);
  assert.equal(rej.length, m.rejected);
  for (const r of rej) assert.ok(typeof r.embedding_file === 'string' && Number.isInteger(r.embedding_row), JSON.stringify(r));
  const keys = new Set([...rows.map((r) => { const x = JSON.parse(String(r.metadata)); return `${x.embedding_file}#${x.embedding_row}`; }), ...rej.map((r) => `${r.embedding_file}#${r.embedding_row}`)]);
  assert.equal(keys.size, m.read, 'every input row accounted for exactly once by its join key');
});

/** A small `mmcurate score`-style dataset: caption records with image_embedding and clip_score. */
function scoredDataset(s: Synth): string {
  const dir = tmpDir('mmcurate-coreset-ds-');
  const acct = new Accounting();
  const shards = [];
  for (let rank = 0; rank < 2; rank++) {
    const w = new ShardWriter({ outDir: dir, layout: 'caption', rank, columns: ['clip_score', 'image_embedding'], kvMetadata: { embedding_dim: s.dim, model: 'synthetic' }, maxRowGroupRows: 500 });
    for (let i = rank * 1200; i < (rank + 1) * 1200; i++) {
      const h = f32ToF16(s.data.subarray(i * s.dim, (i + 1) * s.dim));
      w.write({
        id: i.toString(16).padStart(32, '0'),
        kind: 'caption',
        source: i % 2 ? 'cc3m' : 'coco',
        image: { bytes: null, path: `img${i}.jpg` },
        text: `caption ${i}`,
        url: null,
        image_format: null,
        width: null,
        height: null,
        metadata: JSON.stringify({ n: i }),
        clip_score: 0.2 + (i % 97) / 1000,
        image_embedding: new Uint8Array(h.buffer, h.byteOffset, h.byteLength),
      });
      acct.kept(i % 2 ? 'cc3m' : 'coco');
    }
    shards.push({ rank, shards: w.close(), stats: acct.sources });
  }
  writeManifest(dir, buildManifest({ stage: 'score', layout: 'caption', command: ['test'], results: shards.map((x) => ({ rank: x.rank, shards: x.shards, stats: x.rank ? x.stats : {} })), columns: ['clip_score', 'image_embedding'] }));
  return dir;
}

test('coreset --recipe semdedup on a scored dataset: SemDeDup drops duplicates, rows keep every column plus cluster_id', async () => {
  const s = synth();
  const input = scoredDataset(s);
  const out = path.join(tmpDir(), 'dedup');
  assert.equal(await quietRun(['--input', input, '--recipe', 'semdedup', '--k', '6', '--out', out]), 0);
  const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(m.steps.map((x) => x.name), ['embeddings', 'dedup semdedup (cos >= 0.97, k=6)']);
  const rows = await readShards(out, m);
  const rej = readRejects(out, m);
  assert.equal(rows.length + rej.length, 2400);
  assert.ok(rej.every((r) => r.reason === 'near_duplicate'));
  // Planted duplicates (≤ 12°, cos ≥ 0.978) are gone: at most one row of each planted pair survives.
  const kept = new Set(rows.map((r) => parseInt(String(r.id), 16)));
  let pairs = 0, both = 0;
  for (let i = 0; i < s.rows; i++) {
    if (s.family[i] === i) continue;
    pairs++;
    if (kept.has(i) && kept.has(s.family[i])) both++;
  }
  assert.ok(both / pairs <= 0.01, `${both} of ${pairs} planted pairs both kept`);
  for (const r of rej) assert.match(String(r.duplicate_of), /^[0-9a-f]{32}$/);
  for (const r of rows.slice(0, 20)) {
    assert.deepEqual(Object.keys(r).sort(), ['centroid_sim', 'clip_score', 'cluster_id', 'height', 'id', 'image', 'image_embedding', 'image_format', 'kind', 'metadata', 'source', 'text', 'url', 'width']);
    assert.equal(r.text, `caption ${parseInt(String(r.id), 16)}`);
  }
  // Rejects are accounted per source, as every stage does.
  assert.deepEqual(readdirSync(path.join(out, 'data')).length > 0, true);
});

test('bad flags and recipes are usage errors naming the flag', async () => {
  const s = synth();
  const input = tmpDir('mmcurate-coreset-in-');
  await writeLaionEmbeddings(input, s, { parts: 1 });
  const out = path.join(tmpDir(), 'x');
  const cases: [string[], RegExp][] = [
    [['--recipe', 'bunny-laion-2m', '--k', '6', '--clip-band', '60-40'], /--clip-band 60-40 is empty or inverted/],
    [['--recipe', 'bunny-laion-2m', '--k', '6', '--centroid-band', '10-101'], /--centroid-band 10-101 lies outside \[0, 100\]/],
    [['--recipe', 'bunny-laion-2m', '--k', '6', '--dedup-rule', 'median'], /--dedup-rule must be one of middle, far, near, max-score, semdedup or none/],
    [['--recipe', 'mm1-pretrain', '--k', '6'], /has no "coreset" section/],
    [['--dedup-rule', 'middle'], /no k — give --k N/],
    [['--recipe', 'bunny-laion-2m', '--k', '6', '--target', '0'], /--target must be a positive integer or none/],
    [['--recipe', 'bunny-laion-2m', '--k', '6', '--dedup-rule', 'none', '--dedup-threshold', '0.9'], /--dedup-threshold was given but deduplication is off/],
    [['--recipe', 'bunny-laion-2m'], /--k 100000 is larger than the number of vectors \(2400\)/],
  ];
  for (const [args, re] of cases) await assert.rejects(quietRun(['--input', input, '--out', out, ...args]), re, args.join(' '));
});

/** The manifest's shard checksums, checked against the files on disk. */
function shardSums(out: string): string[] {
  const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { shards: { path: string; sha256: string }[] };
  for (const s of m.shards) assert.equal(createHash('sha256').update(readFileSync(path.join(out, s.path))).digest('hex'), s.sha256, s.path);
  return m.shards.map((s) => `${s.path} ${s.sha256}`);
}

/** A finished Bunny-style run over the two-part scored dataset, its arguments and its shard checksums. */
async function finishedRun(): Promise<{ out: string; args: string[]; want: string[]; marker: (stage: string, rank: number) => string }> {
  const input = scoredDataset(synth());
  const out = path.join(tmpDir(), 'coreset');
  const args = ['--input', input, '--recipe', 'bunny-laion-2m', '--k', '6', '--clip-band', '10-90', '--centroid-band', '0-90', '--target', '300', '--seed', '7', '--shard-rows', '50', '--out', out];
  assert.equal(await quietRun(args), 0);
  const want = shardSums(out);
  assert.ok(want.some((s) => s.startsWith('data/part-00000-')) && want.some((s) => s.startsWith('data/part-00001-')), 'both parts keep rows');
  assert.ok(!existsSync(path.join(out, '_work')));
  const marker = (stage: string, rank: number): string => path.join(out, '_tasks', stage, `${String(rank).padStart(5, '0')}.done.json`);
  return { out, args, want, marker };
}

const mtime = (f: string): number => statSync(f).mtimeMs;

test('a re-run after a lost coreset-write marker or shard rebuilds the row results and writes the same shards', async () => {
  const { out, args, want, marker } = await finishedRun();
  // A complete output: a re-run is a no-op (nothing rewritten).
  const before = mtime(marker('write', 0));
  assert.equal(await quietRun(args), 0);
  assert.equal(mtime(marker('write', 0)), before);
  assert.deepEqual(shardSums(out), want);

  // A lost write marker: `_work` is gone, so the row results are rebuilt; only that part is written again.
  rmSync(marker('write', 1));
  assert.equal(await quietRun(args), 0, 'lost write marker');
  assert.deepEqual(shardSums(out), want);
  assert.equal(mtime(marker('write', 0)), before, 'the other part was not written again');
  assert.ok(!existsSync(path.join(out, '_work')));

  // A lost shard: its task runs again.
  rmSync(path.join(out, want[0].split(' ')[0]));
  assert.equal(await quietRun(args), 0, 'lost shard');
  assert.deepEqual(shardSums(out), want);

  // The same shards as an uninterrupted run elsewhere.
  const fresh = path.join(tmpDir(), 'coreset');
  assert.equal(await quietRun(args.map((a) => (a === out ? fresh : a))), 0);
  assert.deepEqual(shardSums(fresh), want);
});

test('a re-run after a lost manifest or cuts.json resumes and gives the same shards; other settings are still refused', async () => {
  const { out, args, want, marker } = await finishedRun();
  // The manifest alone: rebuilt from the markers and the saved cuts; no other task runs again.
  const assigned = mtime(marker('assign', 0));
  const written = mtime(marker('write', 0));
  const manifest = readFileSync(path.join(out, 'manifest.json'), 'utf8');
  rmSync(path.join(out, 'manifest.json'));
  assert.equal(await quietRun(args), 0, 'lost manifest');
  assert.deepEqual(shardSums(out), want);
  assert.equal(mtime(marker('assign', 0)), assigned);
  assert.equal(mtime(marker('write', 0)), written);
  assert.equal(readFileSync(path.join(out, 'manifest.json'), 'utf8'), manifest, 'the same manifest, byte for byte');

  // The cuts and a write marker at once: everything they need is rebuilt.
  rmSync(path.join(out, '_tasks', 'coreset', 'cuts.json'));
  rmSync(marker('write', 0));
  assert.equal(await quietRun(args), 0, 'lost cuts.json and a write marker');
  assert.deepEqual(shardSums(out), want);

  // A torn marker is named and its task redone.
  writeFileSync(marker('write', 1), '{"rank": 1, "sha');
  assert.equal(await quietRun(args), 0, 'torn marker');
  assert.deepEqual(shardSums(out), want);

  // Other settings are refused, naming the difference, and nothing is forgotten doing so.
  await assert.rejects(quietRun(args.map((a) => (a === '7' ? '8' : a))), /holds the output of a different coreset run \(step train: spec\.cfg\.seed: 7 -> 8/);
  assert.ok(existsSync(marker('assign', 0)));
  // How it runs is not what it computes: other threads resume the same run.
  assert.equal(await quietRun([...args, '--threads', '1']), 0);
  assert.deepEqual(shardSums(out), want);
});
