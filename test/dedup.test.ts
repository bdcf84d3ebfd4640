/**
 * mmcurate dedup against planted ground truth (src/dedup/planted.ts): exact copies found exactly, near copies
 * by their true Jaccard, the first row in the global order kept, rejects naming it; the same bytes for any
 * --tasks and after a resume; cross-input and image/url keys on a small caption dataset.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { openDataset, readBatches } from '../src/io/dataset.js';
import { plantedCorpus, type PlantedPair } from '../src/dedup/planted.js';
import { candidateProbability } from '../src/dedup/minhash.js';
import { DEMO, ROOT, readManifestOf, readRejectsOf, runMain, tmpDir } from './helpers.js';

let dir: string;
let corpus: { docs: string[]; pairs: PlantedPair[] };
/** Corpus document index -> its id and global row in the ingested dataset. */
const where = new Map<number, { id: string; row: number; file: string; shardRow: number }>();

async function ok(args: string[]): Promise<void> {
  const r = await runMain(args);
  assert.equal(r.code, 0, `mmcurate ${args.join(' ')}: ${r.stderr}`);
}

/** Every output file's bytes, by path relative to the dataset (shards and rejects). */
function outputBytes(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const sub of ['data', 'rejects']) {
    let names: string[] = [];
    try {
      names = readdirSync(path.join(d, sub));
    } catch {
      continue;
    }
    for (const f of names) out[`${sub}/${f}`] = createHash('sha256').update(readFileSync(path.join(d, sub, f))).digest('hex');
  }
  return out;
}

async function ids(d: string): Promise<string[]> {
  const out: string[] = [];
  for await (const b of readBatches(openDataset(d), { columns: ['id'] })) for (const r of b.rows) out.push(String(r.id));
  return out;
}

/** The later of a pair in the global order is the one dedup must drop; the earlier one is what it names. */
function order(p: PlantedPair): { early: number; late: number } {
  const a = where.get(p.original)!.row, b = where.get(p.copy)!.row;
  return a < b ? { early: p.original, late: p.copy } : { early: p.copy, late: p.original };
}

before(async () => {
  dir = tmpDir('mmcurate-dedup-');
  corpus = plantedCorpus({ originals: 300, exact: 24, nearPerTarget: 10, minWords: 100, maxWords: 200, seed: 3 });
  const lines = corpus.docs.map((t, i) => JSON.stringify({ text: t, doc: i }));
  writeFileSync(path.join(dir, 'web.jsonl'), lines.slice(0, 200).join('\n') + '\n');
  writeFileSync(path.join(dir, 'books.jsonl'), lines.slice(200).join('\n') + '\n');
  await ok(['ingest', '--kind', 'text', '--input', `web=${path.join(dir, 'web.jsonl')}`, `books=${path.join(dir, 'books.jsonl')}`, '--shard-rows', '70', '--out', path.join(dir, 'A'), '--quiet']);
  let row = 0;
  const ds = openDataset(path.join(dir, 'A'));
  for await (const b of readBatches(ds, { columns: ['id', 'metadata'] })) {
    b.rows.forEach((r, t) => where.set((JSON.parse(String(r.metadata)) as { doc: number }).doc, { id: String(r.id), row: row++, file: b.shard, shardRow: b.offset + t }));
  }
  assert.equal(where.size, corpus.docs.length);
  assert.ok(ds.manifest.shards.length >= 5, 'several shards, so parts and ranks are exercised');
});

describe('dedup --exact text', () => {
  let out: string;
  before(async () => {
    out = path.join(dir, 'exact1');
    await ok(['dedup', '--input', path.join(dir, 'A'), '--exact', 'text', '--buckets', '3', '--tasks', '1', '--out', out, '--quiet']);
  });

  test('drops exactly the planted copies (after normalisation), keeping the earlier row and naming it', async () => {
    const same = corpus.pairs.filter((p) => p.kind === 'exact' || corpus.docs[p.copy] === corpus.docs[p.original]);
    assert.ok(same.length >= 24);
    const rejects = readRejectsOf(out);
    const expected = new Map(same.map((p) => [where.get(order(p).late)!.id, order(p).early]));
    assert.deepEqual(new Set(rejects.map((r) => r.id)), new Set(expected.keys()));
    for (const r of rejects) {
      const early = where.get(expected.get(String(r.id))!)!;
      assert.equal(r.reason, 'duplicate');
      assert.equal(r.duplicate_of, early.id);
      assert.deepEqual(r.duplicate_of_location, { input: path.join(dir, 'A'), file: early.file, row: early.shardRow });
    }
    const m = readManifestOf(out);
    assert.equal(m.read, corpus.docs.length);
    assert.equal(m.rows + m.rejected, m.read);
    assert.equal(m.rejected, same.length);
    for (const s of Object.values(m.sources)) assert.equal(s.read, s.kept + s.rejected);
    assert.equal((m.dedup as { duplicates: number }).duplicates, same.length);
    const kept = new Set(await ids(out));
    assert.equal(kept.size, m.rows);
    for (const p of same) assert.ok(kept.has(where.get(order(p).early)!.id));
  });

  test('--tasks 3 writes the same bytes as --tasks 1', async () => {
    const out3 = path.join(dir, 'exact3');
    await ok(['dedup', '--input', path.join(dir, 'A'), '--exact', 'text', '--buckets', '3', '--tasks', '3', '--out', out3, '--quiet']);
    assert.deepEqual(outputBytes(out3), outputBytes(out));
    assert.deepEqual(readManifestOf(out3).shards, readManifestOf(out).shards);
  });

  test('a second input: its copies of the first input\'s rows are dropped, naming the first input', async () => {
    const b = path.join(dir, 'b.jsonl');
    const picks = [3, 10, 250];
    writeFileSync(b, picks.map((i) => JSON.stringify({ text: corpus.docs[i]!.toUpperCase() })).concat([JSON.stringify({ text: 'a document of its own' })]).join('\n') + '\n');
    await ok(['ingest', '--kind', 'text', '--input', `extra=${b}`, '--out', path.join(dir, 'B'), '--quiet']);
    const both = path.join(dir, 'exact-ab');
    await ok(['dedup', '--input', path.join(dir, 'B'), path.join(dir, 'A'), '--exact', 'text', '--out', both, '--quiet']);
    // B comes first now: A's rows are the later copies
    const fromA = readRejectsOf(both).filter((r) => r.input === path.join(dir, 'A'));
    for (const i of picks) {
      const r = fromA.find((x) => x.id === where.get(i)!.id);
      assert.ok(r, `document ${i} of A is dropped as a copy of B's`);
      assert.equal((r.duplicate_of_location as { input: string }).input, path.join(dir, 'B'));
    }
    const m = readManifestOf(both);
    assert.equal(m.sources.extra!.rejected, 0);
    assert.equal(m.read, corpus.docs.length + 4);
  });
});

describe('dedup --near text', () => {
  const removed = (out: string): Map<string, Record<string, unknown>> => new Map(readRejectsOf(out).map((r) => [String(r.id), r]));
  const near = () => corpus.pairs.filter((p) => p.kind === 'near');

  test('20x5 bands: recall >= 0.99 at Jaccard >= 0.8, nothing removed below 0.5, no unrelated document removed', async () => {
    const out = path.join(dir, 'near-20x5');
    await ok(['dedup', '--input', path.join(dir, 'A'), '--near', 'text', '--bands', '20', '--rows', '5', '--out', out, '--quiet']);
    const r = removed(out);
    const high = near().filter((p) => p.jaccard >= 0.8);
    const found = high.filter((p) => r.has(where.get(order(p).late)!.id));
    assert.ok(high.length >= 35);
    assert.ok(found.length / high.length >= 0.99, `recall ${found.length}/${high.length}`);
    const low = near().filter((p) => p.jaccard < 0.5);
    assert.equal(low.filter((p) => r.has(where.get(order(p).late)!.id)).length, 0, 'false removals below Jaccard 0.5');
    // every removal is a planted copy (exact or near, J >= 0.8): unrelated documents share no band
    const planted = new Map(corpus.pairs.map((p) => [where.get(order(p).late)!.id, p]));
    for (const [id, rej] of r) {
      const p = planted.get(id);
      assert.ok(p && p.jaccard >= 0.8, `${id} removed but it is no planted copy at Jaccard >= 0.8`);
      assert.equal(rej.reason, 'near_duplicate');
      assert.equal(rej.duplicate_of, where.get(order(p).early)!.id);
      assert.equal(typeof rej.component, 'number');
    }
  });

  let out1: string;
  let out3: string;
  test('FineWeb 14x8 (default): every removal verified, recall follows the S-curve, --tasks 3 same bytes', async () => {
    out1 = path.join(dir, 'near1');
    await ok(['dedup', '--input', path.join(dir, 'A'), '--near', 'text', '--buckets', '4', '--tasks', '1', '--out', out1, '--quiet']);
    const r = removed(out1);
    const planted = new Map(corpus.pairs.map((p) => [where.get(order(p).late)!.id, p]));
    for (const id of r.keys()) assert.ok((planted.get(id)?.jaccard ?? 0) >= 0.8, `${id} removed below the threshold`);
    const at = (lo: number, hi: number) => near().filter((p) => p.jaccard >= lo && p.jaccard < hi);
    const top = at(0.9, 1.01);
    assert.equal(top.filter((p) => r.has(where.get(order(p).late)!.id)).length, top.length, 'every pair at Jaccard >= 0.9 found (S-curve: 0.9996)');
    const mid = at(0.8, 0.9);
    const expect = mid.reduce((a, p) => a + candidateProbability(p.jaccard, 14, 8), 0);
    const got = mid.filter((p) => r.has(where.get(order(p).late)!.id)).length;
    assert.ok(got >= expect - 3 * Math.sqrt(expect * 0.1) - 1, `Jaccard 0.8-0.9: found ${got} of ${mid.length}, S-curve expects ${expect.toFixed(1)}`);
    const m = readManifestOf(out1);
    assert.equal(m.rows + m.rejected, m.read);
    const d = m.dedup as { bands: number; rows: number; components: number; duplicates: number };
    assert.deepEqual([d.bands, d.rows, d.duplicates], [14, 8, m.rejected]);

    out3 = path.join(dir, 'near3');
    await ok(['dedup', '--input', path.join(dir, 'A'), '--near', 'text', '--buckets', '4', '--tasks', '3', '--out', out3, '--quiet']);
    assert.deepEqual(outputBytes(out3), outputBytes(out1));
  });

  test('resume: a lost shard and a deleted marker are rebuilt with the same bytes', async () => {
    // the --tasks 3 run above: its _work is gone, so the lost shard makes sign, bands and components run again
    const out = out3;
    const args = ['dedup', '--input', path.join(dir, 'A'), '--near', 'text', '--buckets', '4', '--tasks', '3', '--out', out, '--quiet'];
    const before = outputBytes(out);
    const shard = readManifestOf(out).shards.at(-1)!.path;
    rmSync(path.join(out, shard));
    rmSync(path.join(out, '_tasks', 'write', '00000.done.json'));
    rmSync(path.join(out, 'manifest.json'));
    await ok(args);
    assert.deepEqual(outputBytes(out), before);
    assert.equal(readManifestOf(out).rejected, readManifestOf(out1).rejected);
  });
});

describe('dedup on captions: image, image+caption and url keys', () => {
  let caps: string;
  before(async () => {
    const d = path.join(dir, 'caps');
    mkdirSync(path.join(d, 'images'), { recursive: true });
    const imgs = readdirSync(path.join(DEMO, 'images')).slice(0, 3);
    for (const f of imgs) copyFileSync(path.join(DEMO, 'images', f), path.join(d, 'images', f));
    // a copy of the first image under another name: the same bytes
    copyFileSync(path.join(DEMO, 'images', imgs[0]!), path.join(d, 'images', 'copy.bin.' + imgs[0]!.split('.').pop()));
    const rows = [
      { image: `images/${imgs[0]}`, caption: 'A red circle', url: 'https://Example.com/a.jpg#top' },
      { image: `images/${imgs[1]}`, caption: 'a green star', url: 'https://example.com/b.jpg' },
      { image: `images/copy.bin.${imgs[0]!.split('.').pop()}`, caption: 'a  red circle', url: 'https://example.com/c.jpg' },
      { image: `images/${imgs[0]}`, caption: 'another caption', url: 'https://example.com/a.jpg' },
      { image: `images/${imgs[2]}`, caption: 'a green star', url: 'https://example.com/d.jpg' },
    ];
    writeFileSync(path.join(d, 'caps.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    caps = path.join(dir, 'CAPS');
    await ok(['ingest', '--kind', 'caption', '--input', path.join(d, 'caps.jsonl'), '--out', caps, '--quiet']);
    assert.equal(readManifestOf(caps).rows, 5);
  });
  const dropped = async (key: string): Promise<number[]> => {
    const out = path.join(dir, `caps-${key.replace('+', '-')}`);
    await ok(['dedup', '--input', caps, '--exact', key, '--out', out, '--quiet']);
    return readRejectsOf(out).map((r) => Number(/row (\d+)/.exec(r.location)![1])).sort();
  };
  test('image: the same bytes under any name; image+caption: same bytes and caption; caption; url without fragment or host case', async () => {
    assert.deepEqual(await dropped('image'), [2, 3]);
    assert.deepEqual(await dropped('image+caption'), [2]);
    assert.deepEqual(await dropped('caption'), [2, 4]);
    assert.deepEqual(await dropped('url'), [3]);
  });
});

describe('dedup on interleaved documents', () => {
  test('--near interleaved compares the documents\' joined texts: an edited copy and an identical one are dropped', async () => {
    const base = corpus.docs.slice(0, 3).map((t) => t.split(' '));
    const edited = base[0]!.slice();
    edited[40] = 'zzzword';
    const doc = (w: string[], img: string) => ({ texts: [w.slice(0, 60).join(' '), null, w.slice(60).join(' ')], images: [null, img, null] });
    const docs = [doc(base[0]!, 'https://example.com/0.jpg'), doc(base[1]!, 'https://example.com/1.jpg'), doc(edited, 'https://example.com/2.jpg'), doc(base[2]!, 'https://example.com/3.jpg'), doc(base[1]!, 'https://example.com/4.jpg')];
    const file = path.join(dir, 'inter.jsonl');
    writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const inter = path.join(dir, 'INTER');
    await ok(['ingest', '--kind', 'interleaved', '--input', file, '--out', inter, '--quiet']);
    const out = path.join(dir, 'inter-near');
    await ok(['dedup', '--input', inter, '--near', 'interleaved', '--out', out, '--quiet']);
    const rej = readRejectsOf(out).map((r) => [r.location, (r.duplicate_of_location as { row: number }).row]);
    assert.deepEqual(rej.sort(), [['row 2', 0], ['row 4', 1]]);
  });
});

describe('dedup usage', () => {
  test('refuses both modes, a key the layout lacks, and mixed layouts, with exit 2', async () => {
    const a = path.join(dir, 'A');
    for (const args of [
      ['--input', a, '--exact', 'text', '--near', 'text'],
      ['--input', a, '--exact', 'image'],
      ['--input', a, '--near', 'caption'],
      ['--input', a, '--exact', 'text', '--bands', '3'],
      ['--input', a, '--near', 'text', '--threshold', '1.5'],
    ]) {
      const r = await runMain(['dedup', ...args, '--out', path.join(dir, 'never'), '--quiet']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  test('pipelines/text-dedup.json is valid: ingest, then exact, then near on the exact output', async () => {
    const { loadPipeline, stageArgv } = await import('../src/pipeline/load.js');
    const { check } = await import('../src/dedup/command.js');
    const file = path.join(ROOT, 'pipelines', 'text-dedup.json');
    const p = loadPipeline(file);
    assert.deepEqual(p.stages.map((s) => s.stage), ['ingest', 'dedup', 'dedup']);
    const exact = stageArgv(p, 1, file, '/out');
    const near = stageArgv(p, 2, file, '/out');
    check(exact);
    check(near);
    assert.ok(exact.includes('--input=/out/text') && exact.includes('--exact=text'));
    assert.ok(near.includes('--input=/out/exact') && near.includes('--near=text'));
  });
});

