/**
 * The global selection step, after deduplication: the clip_score band over all survivors, the
 * centroid band over what the first band kept, then the seeded sample — each an exact rank cut
 * (bands.ts) found from the row results, two passes each. Then any row's fate is a pure function
 * of its (status, score, sim, row) and the cuts, which is what the write tasks apply part by part.
 */
import { readFileSync } from 'node:fs';
import { RunError } from '../errors.js';
import { writeJsonAtomic } from '../write/atomic.js';
import { BandCut, bandPositions, findBand, sampleKey, type PairSource } from './bands.js';
import { paths, rowFiles, STATUS, type CoresetTaskSpec } from './layout.js';
import { readSpilled } from './spill.js';

export interface Cuts {
  clip?: BandCut;
  centroid?: BandCut;
  sample?: BandCut;
  seed: number;
}

export interface StepCounts {
  read: number;
  invalid: number;
  dedup: number;
  clipBand: number;
  centroidBand: number;
  sample: number;
}

interface PartRows {
  n: number;
  row: Float64Array;
  score: Float64Array;
  sim: Float32Array;
  status: Int32Array;
}

/** Row results of one part (all buckets), in bucket order; callers sort if they need row order. */
export async function readPartRows(spec: CoresetTaskSpec, p: number): Promise<{ rows: number; cols: Record<string, Float64Array | Float32Array | Int32Array | Uint16Array> }> {
  return readSpilled(rowFiles(spec), p);
}

/** Iterates the row results of every part; held in memory when small, re-read otherwise. */
class RowResults {
  private cache: PartRows[] | undefined;
  constructor(private readonly spec: CoresetTaskSpec) {}

  async forEach(visit: (r: PartRows) => void): Promise<void> {
    if (this.cache) return this.cache.forEach(visit);
    const keep = this.spec.source.total * 24 <= 256 << 20;
    const all: PartRows[] = [];
    for (let p = 0; p < this.spec.source.parts.length; p++) {
      const { rows, cols } = await readPartRows(this.spec, p);
      const r = { n: rows, row: cols.row as Float64Array, score: cols.score as Float64Array, sim: cols.sim as Float32Array, status: cols.status as Int32Array };
      visit(r);
      if (keep) all.push(r);
    }
    if (keep) this.cache = all;
  }
}

/** Values of the rows that pass `filter`, in batches, as a two-pass population for findBand. */
function population(rr: RowResults, filter: (r: PartRows, i: number) => boolean, value: (r: PartRows, i: number) => number): PairSource {
  return async (visit) => {
    await rr.forEach((r) => {
      const v = new Float64Array(r.n);
      const rows = new Float64Array(r.n);
      let m = 0;
      for (let i = 0; i < r.n; i++) {
        if (!filter(r, i)) continue;
        v[m] = value(r, i);
        rows[m++] = r.row[i];
      }
      visit(v, rows, m);
    });
  };
}

export async function computeCuts(spec: CoresetTaskSpec): Promise<{ cuts: Cuts; counts: StepCounts }> {
  const { cfg } = spec;
  const rr = new RowResults(spec);
  const cuts: Cuts = { seed: cfg.seed };
  const inClip = (r: PartRows, i: number): boolean => r.status[i] === STATUS.candidate && (!cuts.clip || cuts.clip.contains(r.score[i], r.row[i]));
  const inCentroid = (r: PartRows, i: number): boolean => inClip(r, i) && (!cuts.centroid || cuts.centroid.contains(r.sim[i], r.row[i]));
  if (cfg.clipBand) {
    const b = cfg.clipBand;
    cuts.clip = await findBand(population(rr, (r, i) => r.status[i] === STATUS.candidate, (r, i) => r.score[i]), (n) => bandPositions(n, b));
  }
  if (cfg.centroidBand) {
    const b = cfg.centroidBand;
    cuts.centroid = await findBand(population(rr, inClip, (r, i) => r.sim[i]), (n) => bandPositions(n, b));
  }
  if (cfg.target !== undefined) {
    const target = cfg.target;
    cuts.sample = await findBand(population(rr, inCentroid, (r, i) => sampleKey(cfg.seed, r.row[i])), (n) => [0, Math.min(target, n)]);
  }
  const counts: StepCounts = { read: 0, invalid: 0, dedup: 0, clipBand: 0, centroidBand: 0, sample: 0 };
  await rr.forEach((r) => {
    counts.read += r.n;
    for (let i = 0; i < r.n; i++) {
      const s = r.status[i];
      if (s === STATUS.invalid_embedding || s === STATUS.missing_clip_score) counts.invalid++;
      if (s !== STATUS.candidate) continue;
      counts.dedup++;
      if (!inClip(r, i)) continue;
      counts.clipBand++;
      if (!inCentroid(r, i)) continue;
      counts.centroidBand++;
      if (!cuts.sample || cuts.sample.contains(sampleKey(cfg.seed, r.row[i]), r.row[i])) counts.sample++;
    }
  });
  return { cuts, counts };
}

export type Fate = 'kept' | 'near_duplicate' | 'invalid_embedding' | 'missing_clip_score' | 'clip_score_band' | 'centroid_band' | 'not_sampled';

/** What happens to one row, given its results and the cuts. */
export function fateOf(cuts: Cuts, status: number, score: number, sim: number, row: number): Fate {
  if (status === STATUS.near_duplicate) return 'near_duplicate';
  if (status === STATUS.invalid_embedding) return 'invalid_embedding';
  if (status === STATUS.missing_clip_score) return 'missing_clip_score';
  if (cuts.clip && !cuts.clip.contains(score, row)) return 'clip_score_band';
  if (cuts.centroid && !cuts.centroid.contains(sim, row)) return 'centroid_band';
  if (cuts.sample && !cuts.sample.contains(sampleKey(cuts.seed, row), row)) return 'not_sampled';
  return 'kept';
}

/** Saved with the task markers of OUT (not under `_work`): write tasks re-run after a clean-up need them. */
export function saveCuts(outDir: string, cuts: Cuts, counts: StepCounts): void {
  writeJsonAtomic(paths.cuts(outDir), { cuts: { clip: cuts.clip?.toJSON(), centroid: cuts.centroid?.toJSON(), sample: cuts.sample?.toJSON(), seed: cuts.seed }, counts });
}

export function loadCuts(outDir: string): { cuts: Cuts; counts: StepCounts } {
  type J = Parameters<typeof BandCut.fromJSON>[0];
  const j = JSON.parse(readFileSync(paths.cuts(outDir), 'utf8')) as { cuts: { clip?: J; centroid?: J; sample?: J; seed: number }; counts: StepCounts };
  const f = (x?: J): BandCut | undefined => (x ? BandCut.fromJSON(x) : undefined);
  return { cuts: { clip: f(j.cuts.clip), centroid: f(j.cuts.centroid), sample: f(j.cuts.sample), seed: j.cuts.seed }, counts: j.counts };
}

/** One part's row results in row order (position i = the part's row i). */
export interface PartResults {
  rows: number;
  dupRow: Float64Array;
  score: Float64Array;
  sim: Float32Array;
  cluster: Int32Array;
  status: Int32Array;
  /** Dataset layout: id of the row each near-duplicate duplicates (4 words per row). */
  dupId?: Int32Array;
}

export async function partResults(spec: CoresetTaskSpec, p: number): Promise<PartResults> {
  const part = spec.source.parts[p];
  const { rows, cols } = await readPartRows(spec, p);
  if (rows !== part.rows) throw new RunError(`coreset: ${rows} results for ${part.rows} rows of ${part.name}; the work folder ${spec.work} is incomplete — delete it and run again`);
  const n = part.rows;
  const out: PartResults = {
    rows: n,
    dupRow: new Float64Array(n),
    score: new Float64Array(n),
    sim: new Float32Array(n),
    cluster: new Int32Array(n),
    status: new Int32Array(n).fill(-1),
    dupId: cols.dupId ? new Int32Array(n * 4) : undefined,
  };
  const row = cols.row as Float64Array;
  for (let i = 0; i < rows; i++) {
    const at = row[i] - part.base;
    out.dupRow[at] = cols.dupRow[i];
    out.score[at] = cols.score[i];
    out.sim[at] = cols.sim[i];
    out.cluster[at] = cols.cluster[i];
    out.status[at] = cols.status[i];
    if (out.dupId) out.dupId.set((cols.dupId as Int32Array).subarray(i * 4, i * 4 + 4), at * 4);
  }
  if (out.status.includes(-1)) throw new RunError(`coreset: some rows of ${part.name} have no result; the work folder ${spec.work} is inconsistent — delete it and run again`);
  return out;
}
