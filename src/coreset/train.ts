/**
 * The global training step: draw a seeded sample of rows across all parts (one streaming pass, only
 * the sample kept, as float16), train spherical k-means on it, and save the centroids as .npy — or
 * load centroids given with --centroids (Bunny published theirs) after checking their shape.
 */
import { UsageError } from '../errors.js';
import { f16ToF32, f32ToF16 } from '../util/float16.js';
import { readNpy, writeNpy } from '../util/npy.js';
import type { CoresetConfig } from './config.js';
import { CHUNK_ROWS, normaliseRows, Rng, RowStats, sampleSorted, trainSpherical, type KMeansResult } from '../vectors/index.js';
import path from 'node:path';
import { writeSampleLabels } from './layout.js';
import { readPart, type SourceSpec } from './source.js';

export interface TrainOutcome {
  centroids: Float32Array;
  k: number;
  /** null when the centroids were loaded. */
  result: KMeansResult | null;
  sampleRows: number;
  seconds: { sample: number; train: number };
}

/** Size of the training sample: explicit, or faiss's max_points_per_centroid x k, at most all rows. */
export function trainSampleSize(cfg: CoresetConfig, total: number): number {
  return Math.min(total, cfg.trainSample ?? cfg.maxPointsPerCentroid * cfg.k);
}

/** Read the sampled rows (as float16 bits plus inverse norms); invalid rows are left out. */
export async function drawSample(spec: SourceSpec, size: number, seed: number, opts: { threads?: number } = {}): Promise<{ data: Uint16Array; invNorm: Float32Array; rows: number; global: Float64Array }> {
  const d = spec.dim;
  const want = sampleSorted(spec.total, size, new Rng(seed, 2));
  const data = new Uint16Array(want.length * d);
  const invNorm = new Float32Array(want.length);
  const global = new Float64Array(want.length);
  const stats = await RowStats.create(d, 'float16', false, { threads: opts.threads });
  let w = 0; // next wanted index
  let got = 0;
  try {
    for (let p = 0; p < spec.parts.length && w < want.length; p++) {
      const part = spec.parts[p];
      if (want[w] >= part.base + part.rows) continue;
      for await (const chunk of readPart(spec, p, CHUNK_ROWS)) {
        const end = chunk.base + chunk.rows;
        if (want[w] >= end) continue;
        const emb = chunk.emb instanceof Uint16Array ? chunk.emb : f32ToF16(chunk.emb);
        const { ssx } = await stats.run(emb, chunk.rows);
        for (; w < want.length && want[w] < end; w++) {
          const r = want[w] - chunk.base;
          const s = ssx[r];
          if (!(s > 0 && Number.isFinite(s))) continue;
          data.set(emb.subarray(r * d, (r + 1) * d), got * d);
          global[got] = want[w];
          invNorm[got++] = 1 / Math.sqrt(s);
        }
      }
    }
  } finally {
    await stats.release();
  }
  return { data: data.subarray(0, got * d), invNorm: invNorm.subarray(0, got), rows: got, global: global.subarray(0, got) };
}

/** Load centroids (k x dim, float16 or float32), normalised. */
export async function loadCentroids(file: string, dim: number): Promise<{ centroids: Float32Array; k: number }> {
  const { header, values } = await readNpy(file);
  if (header.cols !== dim) throw new UsageError(`--centroids ${file} has dimension ${header.cols} but the embeddings have ${dim}`);
  const c = values instanceof Float32Array ? Float32Array.from(values) : f16ToF32(values);
  normaliseRows(c, header.rows, dim);
  return { centroids: c, k: header.rows };
}

export async function trainOrLoad(spec: SourceSpec, cfg: CoresetConfig, saveTo: string, log: (s: string) => void): Promise<TrainOutcome> {
  if (cfg.centroids) {
    const { centroids, k } = await loadCentroids(cfg.centroids, spec.dim);
    writeSampleLabels(path.dirname(saveTo), new Float64Array(0), new Int32Array(0)); // none proven: every row is searched
    await writeNpy(saveTo, centroids, k, spec.dim);
    return { centroids, k, result: null, sampleRows: 0, seconds: { sample: 0, train: 0 } };
  }
  if (spec.total === 0) throw new UsageError('the input holds no scored rows with an image embedding: there is nothing to cluster (run `mmcurate score` on a dataset with images first)');
  if (cfg.k > spec.total) throw new UsageError(`--k ${cfg.k} is larger than the number of vectors (${spec.total}); use --k ${spec.total} or fewer`);
  const t0 = performance.now();
  const size = trainSampleSize(cfg, spec.total);
  const sample = await drawSample(spec, size, cfg.seed, { threads: cfg.threads });
  if (cfg.k > sample.rows) throw new UsageError(`--k ${cfg.k} is larger than the number of valid vectors in the training sample (${sample.rows})`);
  const t1 = performance.now();
  log(`coreset: training k-means, k=${cfg.k}, ${sample.rows} sample vectors, ${cfg.niter} iterations`);
  const result = await trainSpherical(
    { data: sample.data, rows: sample.rows, dim: spec.dim, invNorm: sample.invNorm },
    { k: cfg.k, niter: cfg.niter, seed: cfg.seed, init: cfg.init, maxPointsPerCentroid: Number.MAX_SAFE_INTEGER, device: cfg.device, threads: cfg.threads },
  );
  const t2 = performance.now();
  // The proven labels first, then the centroids: a centroids file means the step finished (see engine.ts).
  writeSampleLabels(path.dirname(saveTo), sample.global, result.finalLabel ?? new Int32Array(0));
  await writeNpy(saveTo, result.centroids, cfg.k, spec.dim);
  return { centroids: result.centroids, k: cfg.k, result, sampleRows: sample.rows, seconds: { sample: (t1 - t0) / 1000, train: (t2 - t1) / 1000 } };
}
