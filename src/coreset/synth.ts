/**
 * Synthetic clustered embeddings with planted near-duplicates, for the coreset's tests and
 * benchmarks: cluster members are a centre plus Gaussian noise; a planted duplicate is a member
 * rotated by a known angle toward a random orthogonal direction, so its cosine to the original is
 * exactly cos(angle) — the ground truth deduplication must recover.
 */
import { Rng } from '../vectors/index.js';

export interface SynthOptions {
  rows: number;
  dim: number;
  clusters: number;
  /** Expected cosine of a member to its centre (0.5: members are far apart from each other). */
  centreCos?: number;
  /** Fraction of rows that are planted duplicates of an earlier original. */
  dupFraction?: number;
  /** Planted rotation angles are uniform in [minAngle, maxAngle] degrees. */
  minAngle?: number;
  maxAngle?: number;
  seed?: number;
}

export interface Synth {
  /** rows x dim, L2-normalised, float32. */
  data: Float32Array;
  rows: number;
  dim: number;
  /** True cluster of each row. */
  cluster: Int32Array;
  /** Family: the original a row duplicates, or the row itself. */
  family: Int32Array;
  /** Rotation angle (degrees) of a planted duplicate, 0 for originals. */
  angle: Float64Array;
}

function gaussian(rng: Rng): number {
  const u = 1 - rng.float();
  const v = rng.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function normalise(v: Float64Array): void {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < v.length; j++) v[j] *= inv;
}

export function synthClustered(o: SynthOptions): Synth {
  const { rows: n, dim: d, clusters: c } = o;
  const rng = new Rng(o.seed ?? 7, 9);
  const cc = o.centreCos ?? 0.5;
  const sigma = Math.sqrt((1 / (cc * cc) - 1) / d);
  const centres: Float64Array[] = [];
  for (let i = 0; i < c; i++) {
    const v = Float64Array.from({ length: d }, () => gaussian(rng));
    normalise(v);
    centres.push(v);
  }
  const data = new Float32Array(n * d);
  const cluster = new Int32Array(n);
  const family = new Int32Array(n);
  const angle = new Float64Array(n);
  const dupFraction = o.dupFraction ?? 0.2;
  const lo = o.minAngle ?? 1;
  const hi = o.maxAngle ?? 25;
  const v = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    if (r > 0 && rng.float() < dupFraction) {
      // Rotate an earlier original by a known angle: u = cos θ·x + sin θ·w, w ⟂ x, |w| = 1.
      let src = rng.below(r);
      src = family[src];
      const theta = ((lo + (hi - lo) * rng.float()) * Math.PI) / 180;
      const x = data.subarray(src * d, src * d + d);
      const w = Float64Array.from({ length: d }, () => gaussian(rng));
      let dot = 0;
      for (let j = 0; j < d; j++) dot += w[j] * x[j];
      for (let j = 0; j < d; j++) w[j] -= dot * x[j];
      normalise(w);
      for (let j = 0; j < d; j++) v[j] = Math.cos(theta) * x[j] + Math.sin(theta) * w[j];
      normalise(v);
      cluster[r] = cluster[src];
      family[r] = src;
      angle[r] = (theta * 180) / Math.PI;
    } else {
      const k = rng.below(c);
      for (let j = 0; j < d; j++) v[j] = centres[k][j] + sigma * gaussian(rng);
      normalise(v);
      cluster[r] = k;
      family[r] = r;
    }
    for (let j = 0; j < d; j++) data[r * d + j] = v[j];
  }
  return { data, rows: n, dim: d, cluster, family, angle };
}

/**
 * Write a synthetic set in the clip-retrieval layout: img_emb/img_emb_{i}.npy and
 * text_emb/text_emb_{i}.npy (text = image + noise, so clip scores vary), split into parts.
 */
export async function writeLaionEmbeddings(dir: string, s: Synth, o: { parts?: number; dtype?: 'float16' | 'float32'; textNoise?: number; seed?: number } = {}): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  const { writeNpy } = await import('../util/npy.js');
  const { f32ToF16 } = await import('../util/float16.js');
  await mkdir(`${dir}/img_emb`, { recursive: true });
  await mkdir(`${dir}/text_emb`, { recursive: true });
  const parts = o.parts ?? 1;
  const d = s.dim;
  const rng = new Rng(o.seed ?? 5, 3);
  const noise = o.textNoise ?? 1;
  const per = Math.ceil(s.rows / parts);
  for (let p = 0; p < parts; p++) {
    const a = p * per;
    const b = Math.min(s.rows, a + per);
    const img = s.data.slice(a * d, b * d);
    const txt = new Float32Array(img.length);
    const v = new Float64Array(d);
    for (let r = 0; r < b - a; r++) {
      const amp = noise * rng.float() * 2; // a spread of clip scores
      for (let j = 0; j < d; j++) v[j] = img[r * d + j] + (amp / Math.sqrt(d)) * gaussian(rng);
      normalise(v);
      for (let j = 0; j < d; j++) txt[r * d + j] = v[j];
    }
    const name = String(p).padStart(4, '0');
    const enc = (x: Float32Array): Float32Array | Uint16Array => (o.dtype === 'float32' ? x : f32ToF16(x));
    await writeNpy(`${dir}/img_emb/img_emb_${name}.npy`, enc(img), b - a, d);
    await writeNpy(`${dir}/text_emb/text_emb_${name}.npy`, enc(txt), b - a, d);
  }
}
