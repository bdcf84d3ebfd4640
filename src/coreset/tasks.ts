/**
 * The parallel tasks of the coreset stage (run by src/run/executor.ts, one marker each):
 *
 * - assign (one per input part): row norms, clip score and validity in one native pass; nearest
 *   centroid; rows spilled to the bucket of their cluster. Invalid rows go straight to the results.
 * - dedup (one per bucket of clusters): the bucket's rows from every assign task, grouped by
 *   cluster in row order, deduplicated; one result row per input row, spilled by input part.
 * - write (one per input part): see write.ts.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { contiguous, eachItem, strided, type TaskContext, type TaskOutput } from '../run/contract.js';
import { f16Table, f32ToF16 } from '../util/float16.js';
import { NpyReader, readNpy, type NpyArray } from '../util/npy.js';
import { createDedupKernel, dedupCluster } from './dedup.js';
import { assignColumns, bucketClusters, bucketOf, carriesIds, packId, paths, readSampleLabels, rowColumns, STATUS, type CoresetTaskSpec } from './layout.js';
import { CHUNK_ROWS, NearestCentroid, RowStats } from '../vectors/index.js';
import { partOf, readPart } from './source.js';
import { readSpilled, SpillWriter, type Cols } from './spill.js';

/**
 * Rank r of `world` takes a contiguous run of parts (assign, write) or buckets r, r + world, … (dedup); each item keeps its own
 * file names, so what is written does not depend on the number of ranks.
 */
export async function runTask(spec: CoresetTaskSpec, ctx: TaskContext): Promise<TaskOutput> {
  const { writeTask } = await import('./write.js');
  const one = spec.step === 'assign' ? assignTask : spec.step === 'dedup' ? dedupTask : writeTask;
  const items = spec.step === 'dedup' ? strided(spec.buckets, ctx.rank, ctx.world) : contiguous(spec.source.parts.map((p) => p.rows), ctx.world)[ctx.rank]!;
  return eachItem(items, (item) => one(spec, { ...ctx, rank: item }));
}

/** A spill file and its index, relative to the stage folder (the marker's intermediate files). */
function spillFiles(outDir: string, file: string): string[] {
  const rel = path.relative(outDir, file);
  return [rel, `${rel}.idx.json`];
}

/** Raw inner product of float16 row i of x with centroid c. */
function dotF16(x: Uint16Array, i: number, cent: Float32Array, c: number, d: number): number {
  const t = f16Table();
  let s = 0;
  const o = i * d, co = c * d;
  for (let j = 0; j < d; j++) s += t[x[o + j]] * cent[co + j];
  return s;
}

function toF16(x: NpyArray): Uint16Array {
  return x instanceof Uint16Array ? x : f32ToF16(x);
}

async function assignTask(spec: CoresetTaskSpec, ctx: TaskContext): Promise<TaskOutput> {
  const p = ctx.rank;
  const { source, cfg, k, buckets } = spec;
  const d = source.dim;
  const kopts = { device: cfg.device, threads: cfg.threads };
  const { values } = await readNpy(paths.centroids(spec.work));
  const paired = source.layout === 'laion' && source.scores;
  const centroids = values as Float32Array;
  // One native pass per chunk: nearest centroid plus the row norms and image·text dot product.
  const nearest = await NearestCentroid.create(centroids, k, d, 'float16', { ...kopts, stats: paired ? 'xt' : 'x' });
  // Training rows whose cluster the k-means bounds proved skip the search (their cosine is one dot).
  const part = source.parts[p];
  const known = readSampleLabels(spec.work, part.base, part.base + part.rows);
  const bare = known.size > 0 ? await NearestCentroid.create(centroids, k, d, 'float16', kopts) : undefined;
  const stats = known.size > 0 ? await RowStats.create(d, 'float16', paired, kopts) : undefined;
  mkdirSync(path.dirname(paths.assign(spec.work, p)), { recursive: true });
  mkdirSync(path.dirname(paths.invalid(spec.work, p)), { recursive: true });
  const spill = await SpillWriter.create(paths.assign(spec.work, p), assignColumns(spec));
  const bad = await SpillWriter.create(paths.invalid(spec.work, p), rowColumns(spec), 4 << 20);
  const needScore = !!cfg.clipBand || cfg.dedup?.rule === 'max-score';
  const withIds = carriesIds(spec);

  const n = CHUNK_ROWS;
  const row = new Float64Array(n), score = new Float64Array(n), sim = new Float32Array(n), inv = new Float32Array(n);
  const keys = new Int32Array(n), badKeys = new Int32Array(n);
  const status = new Int32Array(n), dupRow = new Float64Array(n).fill(-1), id = new Int32Array(n * 4);
  const label = new Int32Array(n), best = new Float32Array(n), todo = new Int32Array(n), buf = new Uint16Array(n * d);
  let read = 0, invalid = 0, skipped = 0;
  try {
    for await (const chunk of readPart(source, p, CHUNK_ROWS)) {
      const m = chunk.rows;
      const emb = toF16(chunk.emb);
      const text = paired && chunk.text ? toF16(chunk.text) : undefined;
      let u = 0;
      if (known.size > 0) for (let i = 0; i < m; i++) if (!known.has(chunk.base + i)) todo[u++] = i;
      let st: { ssx?: Float32Array; sst?: Float32Array; dot?: Float32Array };
      if (!bare || u > m - m / 8) {
        const r = await nearest.run(emb, m, text);
        label.set(r.label);
        st = r;
      } else {
        st = await stats!.run(emb, m, text);
        for (let t = 0; t < u; t++) buf.set(emb.subarray(todo[t] * d, (todo[t] + 1) * d), t * d);
        const l2 = new Int32Array(u), b2 = new Float32Array(u);
        if (u > 0) await bare.search(buf, u, l2, b2);
        for (let t = 0; t < u; t++) label[todo[t]] = l2[t];
        for (let i = 0; i < m; i++) {
          const c = known.get(chunk.base + i);
          if (c === undefined) continue;
          label[i] = c;
          skipped++;
        }
      }
      // The cosine to the centroid is one exact dot for every row, however its label was found: which
      // training rows k-means proved depends on timings (kmeans.ts weighs tightening by measured cost),
      // so a search's float32 product here would make the output differ from run to run.
      for (let i = 0; i < m; i++) best[i] = label[i] >= 0 && label[i] < k ? dotF16(emb, i, centroids, label[i], d) : 0;
      for (let i = 0; i < m; i++) {
        row[i] = chunk.base + i;
        const ss = st.ssx![i];
        const ok = ss > 0 && Number.isFinite(ss);
        inv[i] = ok ? 1 / Math.sqrt(ss) : 0;
        score[i] = paired ? st.dot![i] * inv[i] / Math.sqrt(st.sst![i]) : chunk.score ? chunk.score[i] : NaN;
        sim[i] = best[i] * inv[i];
        if (withIds) packId(chunk.ids![i], id, i * 4);
        status[i] = !ok ? STATUS.invalid_embedding : needScore && !Number.isFinite(score[i]) ? STATUS.missing_clip_score : STATUS.candidate;
        keys[i] = status[i] === STATUS.candidate ? bucketOf(label[i], k, buckets) : -1;
        badKeys[i] = status[i] === STATUS.candidate ? -1 : p;
        if (status[i] !== STATUS.candidate) invalid++;
      }
      const cols: Cols = { row, score, sim, inv, cluster: label, emb, id, dupRow, status, dupId: id };
      await spill.add(keys, cols, m);
      await bad.add(badKeys, { ...cols, sim: new Float32Array(m).fill(NaN), cluster: new Int32Array(m).fill(-1), dupId: new Int32Array(m * 4) }, m);
      read += m;
      ctx.report(m, m);
    }
  } finally {
    await nearest.release();
    await bare?.release();
    await stats?.release();
  }
  await spill.close();
  await bad.close();
  const files = [...spillFiles(ctx.outDir, paths.assign(spec.work, p)), ...spillFiles(ctx.outDir, paths.invalid(spec.work, p))];
  return { shards: [], stats: {}, files, extra: { read, invalid, skipped } };
}

async function dedupTask(spec: CoresetTaskSpec, ctx: TaskContext): Promise<TaskOutput> {
  const b = ctx.rank;
  const { source, cfg, k, buckets } = spec;
  const d = source.dim;
  const files = source.parts.map((_, p) => paths.assign(spec.work, p));
  const { rows: n, cols } = await readSpilled(files, b);
  const row = cols.row as Float64Array, cluster = cols.cluster as Int32Array, sim = cols.sim as Float32Array;
  const score = cols.score as Float64Array, inv = cols.inv as Float32Array;
  const emb = (cols.emb as Uint16Array | undefined) ?? (cfg.dedup ? await readSourceRows(spec, row) : undefined);
  const ids = cols.id as Int32Array | undefined;

  // Stable counting sort by cluster: spill order is part order, then row order, so members end up
  // in ascending global row within each cluster (the order the keep rules break ties by).
  const [c0, c1] = bucketClusters(b, k, buckets);
  const start = new Int32Array(c1 - c0 + 1);
  for (let i = 0; i < n; i++) start[cluster[i] - c0 + 1]++;
  for (let c = 0; c < c1 - c0; c++) start[c + 1] += start[c];
  const order = new Int32Array(n);
  const fill = start.slice(0, c1 - c0);
  for (let i = 0; i < n; i++) order[fill[cluster[i] - c0]++] = i;

  const dupRow = new Float64Array(n).fill(-1);
  const status = new Int32Array(n); // candidate
  const dupId = ids ? new Int32Array(n * 4) : undefined;
  let pairs = 0, dropped = 0, largest = 0, clusters = 0;
  if (cfg.dedup && emb) {
    const kernel = await createDedupKernel(d, 'float16', cfg.dedup.rule, { device: cfg.device, threads: cfg.threads });
    try {
      let buf = new Uint16Array(0);
      for (let c = 0; c < c1 - c0; c++) {
        const m = start[c + 1] - start[c];
        if (m === 0) continue;
        clusters++;
        largest = Math.max(largest, m);
        const members = order.subarray(start[c], start[c + 1]);
        if (m === 1) continue;
        if (buf.length < m * d) buf = new Uint16Array(m * d);
        const mInv = new Float32Array(m), mSim = new Float32Array(m), mScore = new Float64Array(m);
        for (let t = 0; t < m; t++) {
          const i = members[t];
          buf.set(emb.subarray(i * d, (i + 1) * d), t * d);
          mInv[t] = inv[i];
          mSim[t] = sim[i];
          mScore[t] = score[i];
        }
        const r = await dedupCluster({ data: buf, invNorm: mInv, rows: m, dim: d, centroidSim: mSim, score: mScore }, kernel, cfg.dedup);
        pairs += r.pairs;
        for (let t = 0; t < m; t++) {
          if (r.dupOf[t] < 0) continue;
          const i = members[t];
          const j = members[r.dupOf[t]];
          status[i] = STATUS.near_duplicate;
          dupRow[i] = row[j];
          if (dupId && ids) dupId.set(ids.subarray(j * 4, j * 4 + 4), i * 4);
          dropped++;
        }
        ctx.report(m, m);
      }
    } finally {
      await kernel.release();
    }
  }
  // Route each result to the part its row came from (parts are contiguous global row ranges).
  const partKey = new Int32Array(n);
  const bases = source.parts.map((pt) => pt.base);
  for (let i = 0, p = 0; i < n; i++) {
    const r = row[i];
    if (!(r >= bases[p] && r < bases[p] + source.parts[p].rows)) {
      p = 0;
      while (p + 1 < bases.length && bases[p + 1] <= r) p++;
    }
    partKey[i] = p;
  }
  mkdirSync(path.dirname(paths.rows(spec.work, b)), { recursive: true });
  const out = await SpillWriter.create(paths.rows(spec.work, b), rowColumns(spec), 16 << 20);
  await out.add(partKey, { row, dupRow, score, sim, cluster, status, dupId: dupId ?? new Int32Array(0) }, n);
  await out.close();
  return { shards: [], stats: {}, files: spillFiles(ctx.outDir, paths.rows(spec.work, b)), extra: { rows: n, clusters, largest, pairs, dropped } };
}

/**
 * The float16 embeddings of the given global rows (ascending within each part, as the spill keeps
 * them), read straight from the .npy parts; runs of consecutive rows are one read.
 */
async function readSourceRows(spec: CoresetTaskSpec, rows: Float64Array): Promise<Uint16Array> {
  const { source } = spec;
  const d = source.dim;
  const out = new Uint16Array(rows.length * d);
  const f32 = source.dtype === 'float32' ? new Float32Array(CHUNK_ROWS * d) : undefined;
  let i = 0;
  while (i < rows.length) {
    const p = partOf(source, rows[i]);
    const part = source.parts[p];
    const reader = await NpyReader.open(part.img!);
    try {
      while (i < rows.length && rows[i] >= part.base && rows[i] < part.base + part.rows) {
        let j = i + 1;
        while (j < rows.length && j - i < CHUNK_ROWS && rows[j] === rows[j - 1] + 1 && rows[j] < part.base + part.rows) j++;
        const start = rows[i] - part.base;
        if (f32) f32ToF16((await reader.readRows(start, j - i, f32)) as Float32Array, out.subarray(i * d, j * d));
        else await reader.readRows(start, j - i, out.subarray(i * d, j * d));
        i = j;
      }
    } finally {
      await reader.close();
    }
  }
  return out;
}
