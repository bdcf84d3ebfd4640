import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { tmpDir } from './helpers.js';
import { CONFIG_DEFAULTS, type CoresetConfig } from '../src/coreset/config.js';
import { runEngine } from '../src/coreset/engine.js';
import { bandPositions } from '../src/coreset/bands.js';
import { describeInput } from '../src/coreset/source.js';
import { fateOf, partResults } from '../src/coreset/select.js';
import { synthClustered, writeLaionEmbeddings, type Synth } from '../src/coreset/synth.js';
import { writeNpy, readNpy } from '../src/util/npy.js';
import { f32ToF16 } from '../src/util/float16.js';

const synth = (): Synth => synthClustered({ rows: 3000, dim: 64, clusters: 6, centreCos: 0.7, dupFraction: 0.3, minAngle: 0.5, maxAngle: 28, seed: 21 });

function config(over: Partial<CoresetConfig> = {}): CoresetConfig {
  return { ...CONFIG_DEFAULTS, k: 6, init: 'kmeans++', dedup: { rule: 'middle', threshold: 0.86 }, clipBand: { lo: 40, hi: 60 }, centroidBand: { lo: 15, hi: 35 }, target: 40, ...over };
}

async function laion(s: Synth, o: { parts?: number; metadata?: boolean } = {}): Promise<string> {
  const dir = tmpDir('mmcurate-coreset-');
  await writeLaionEmbeddings(dir, s, { parts: o.parts ?? 3 });
  if (o.metadata) {
    const files = readdirSync(path.join(dir, 'img_emb')).sort();
    for (const f of files) {
      const { header } = await readNpy(path.join(dir, 'img_emb', f));
      const num = /(\d+)\.npy$/.exec(f)![1];
      const key = Array.from({ length: header.rows }, (_, i) => `${num}${String(i).padStart(5, '0')}`);
      const buf = parquetWriteBuffer({ columnData: [{ name: 'key', data: key, type: 'STRING' }, { name: 'caption', data: key.map((k) => `caption ${k}`), type: 'STRING' }] });
      mkdirSync(path.join(dir, 'metadata'), { recursive: true });
      writeFileSync(path.join(dir, 'metadata', `metadata_${num}.parquet`), Buffer.from(buf));
    }
  }
  return dir;
}

/** Every row's fate, by global row. */
async function fates(out: string, input: string, cfg: CoresetConfig): Promise<{ fate: string[]; dupRow: number[]; r: Awaited<ReturnType<typeof runEngine>> }> {
  const r = await runEngine(await describeInput(input), cfg, { outDir: out, quiet: true });
  const fate: string[] = [];
  const dupRow: number[] = [];
  for (let p = 0; p < r.spec.source.parts.length; p++) {
    const pr = await partResults(r.spec, p);
    const base = r.spec.source.parts[p].base;
    for (let i = 0; i < pr.rows; i++) {
      fate.push(fateOf(r.cuts, pr.status[i], pr.score[i], pr.sim[i], base + i));
      dupRow.push(pr.dupRow[i]);
    }
  }
  return { fate, dupRow, r };
}

test('Bunny recipe end to end on the LAION layout: planted duplicates found, exact band sizes, per-step counts', async () => {
  const s = synth();
  const input = await laion(s, { metadata: true });
  const { fate, dupRow, r } = await fates(tmpDir(), input, config());
  const c = r.counts;
  assert.equal(c.read, s.rows);
  assert.equal(c.invalid, 0);
  // Dedup: each planted duplicate stands with its original (same keeper), few false merges.
  let planted = 0, found = 0, wrong = 0;
  const keeper = (i: number): number => (fate[i] === 'near_duplicate' ? dupRow[i] : i);
  for (let i = 0; i < s.rows; i++) {
    if (s.family[keeper(i)] !== s.family[i]) wrong++;
    if (s.family[i] === i) continue;
    planted++;
    if (keeper(i) === keeper(s.family[i])) found++;
  }
  assert.ok(found / planted >= 0.99, `recall ${found}/${planted}`);
  assert.ok(wrong / s.rows <= 0.01, `false merges ${wrong}`);
  // Bands: exact sizes from int(lo·n)..int(hi·n) of what the step before kept.
  const [a, b] = bandPositions(c.dedup, { lo: 40, hi: 60 });
  assert.equal(c.clipBand, b - a);
  const [e, f] = bandPositions(c.clipBand, { lo: 15, hi: 35 });
  assert.equal(c.centroidBand, f - e);
  assert.equal(c.sample, Math.min(40, c.centroidBand));
  const tally = (x: string): number => fate.filter((v) => v === x).length;
  assert.equal(tally('kept'), c.sample);
  assert.equal(tally('near_duplicate'), c.read - c.dedup);
  assert.equal(tally('clip_score_band'), c.dedup - c.clipBand);
  assert.equal(tally('centroid_band'), c.clipBand - c.centroidBand);
  assert.equal(tally('not_sampled'), c.centroidBand - c.sample);
});

test('same seed, same rows; another seed, another sample; a re-run resumes from the work files', async () => {
  const s = synth();
  const input = await laion(s);
  const out = tmpDir();
  const a = await fates(out, input, config({ seed: 3 }));
  const trained = statSync(path.join(out, '_tasks', 'train', '00000.done.json')).mtimeMs;
  const again = await fates(out, input, config({ seed: 3 }));
  const b = await fates(tmpDir(), input, config({ seed: 3 }));
  const c = await fates(tmpDir(), input, config({ seed: 4 }));
  assert.deepEqual(again.fate, a.fate);
  assert.equal(statSync(path.join(out, '_tasks', 'train', '00000.done.json')).mtimeMs, trained, 'the re-run reused the saved centroids');
  assert.deepEqual(b.fate, a.fate);
  assert.notDeepEqual(c.fate, a.fate);
});

test('saved centroids are reused with --centroids and give the same result', async () => {
  const s = synth();
  const input = await laion(s);
  const out = tmpDir();
  const a = await fates(out, input, config());
  const saved = path.join(tmpDir(), 'centroids.npy');
  renameSync(path.join(out, '_work', 'coreset', 'centroids.npy'), saved);
  const b = await fates(tmpDir(), input, config({ centroids: saved }));
  assert.equal(b.r.kmeans.trained, false);
  assert.deepEqual(b.fate, a.fate);
});

test('NaN and zero-norm embeddings are rejected rows, not a crash', async () => {
  const s = synth();
  const input = await laion(s, { parts: 1 });
  const f = path.join(input, 'img_emb', 'img_emb_0000.npy');
  const { values } = await readNpy(f);
  const v = values as Uint16Array;
  const d = s.dim;
  v.fill(0, 5 * d, 6 * d); // zero vector
  v[7 * d + 3] = f32ToF16(Float32Array.of(NaN))[0];
  v[9 * d] = 0x7c00; // +Inf
  await writeNpy(f, v, s.rows, d);
  const { fate, r } = await fates(tmpDir(), input, config());
  assert.equal(r.counts.invalid, 3);
  assert.deepEqual([fate[5], fate[7], fate[9]], ['invalid_embedding', 'invalid_embedding', 'invalid_embedding']);
});

test('bad inputs are errors naming the file or the parameter', async () => {
  const s = synth();
  // Metadata rows that do not match the embeddings.
  const meta = await laion(s, { metadata: true });
  const mf = path.join(meta, 'metadata', 'metadata_0000.parquet');
  writeFileSync(mf, Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'key', data: ['a', 'b'], type: 'STRING' }] })));
  await assert.rejects(describeInput(meta), (e: Error) => e.message.includes(mf) && /has 2 rows but .* has 1000 embeddings/.test(e.message));
  // A part with another dimension.
  const dims = await laion(s);
  await writeNpy(path.join(dims, 'img_emb', 'img_emb_0001.npy'), new Uint16Array(10 * 16), 10, 16);
  await assert.rejects(describeInput(dims), /img_emb_0001\.npy has dimension 16 but .*img_emb_0000\.npy has 64/);
  // Text part with fewer rows than its image part.
  const rows = await laion(s);
  await writeNpy(path.join(rows, 'text_emb', 'text_emb_0002.npy'), new Uint16Array(10 * 64), 10, 64);
  await assert.rejects(describeInput(rows), /text_emb_0002\.npy has 10 rows but .*img_emb_0002\.npy has 1000/);
  // k larger than the number of vectors.
  const ok = await laion(s);
  await assert.rejects(runEngine(await describeInput(ok), config({ k: 5000 }), { outDir: tmpDir(), quiet: true }), /--k 5000 is larger than the number of vectors \(3000\)/);
});
