/**
 * Semantic deduplication inside one k-means cluster, by cosine similarity computed in blocks (a
 * cluster of m members costs m²/2 products but never more than one block x block matrix at once):
 *
 * - Bunny (BAAI-DCAI/Dataset-Pruning): an edge joins members whose cosine is > threshold (0.86);
 *   each connected component keeps one member — the one at the median distance to the centroid
 *   ("middle"), the farthest ("far"), the nearest ("near") or the best clip_score ("max-score").
 * - SemDeDup (arXiv 2303.09540): members ordered by cosine to the centroid, least similar first; a
 *   member is dropped when an earlier one has cosine >= 1 - ε with it (the repository's greedy max
 *   over the upper triangle, so the member least similar to the centroid survives).
 */
import type { NpyArray } from '../util/npy.js';
import { PairKernel, type KernelOptions, type EmbDtype } from '../vectors/index.js';

export const DEDUP_RULES = ['middle', 'far', 'near', 'max-score', 'semdedup'] as const;
export type DedupRule = (typeof DEDUP_RULES)[number];

/** Members of one cluster, in a fixed order (ascending global row), stored as read. */
export interface ClusterMembers {
  data: NpyArray;
  invNorm: Float32Array;
  rows: number;
  dim: number;
  /** Cosine of each member to its centroid. */
  centroidSim: Float32Array;
  /** clip_score of each member, needed by the max-score rule. */
  score?: Float64Array;
}

export interface DedupOptions {
  rule: DedupRule;
  /** Bunny rules: cosine > threshold is an edge. semdedup: cosine >= threshold (pass 1 - ε). */
  threshold: number;
  /** Rows per block of the pairwise product (512 keeps sgemm fast and the block at 1 MiB). */
  blockRows?: number;
}

export interface DedupResult {
  /** -1 for a kept member, else the index of the member it duplicates (the one kept in its place). */
  dupOf: Int32Array;
  kept: number;
  /** Pairs over the threshold (each unordered pair once). */
  pairs: number;
}

/** The pair kernel a rule needs (inclusive comparison for SemDeDup's >= 1 - ε). */
export function createDedupKernel(dim: number, input: EmbDtype, rule: DedupRule, opts: KernelOptions = {}): Promise<PairKernel> {
  return PairKernel.create(dim, input, rule === 'semdedup', opts);
}

/**
 * Visit every unordered pair (i < j) of members whose cosine passes the kernel's threshold, block by
 * block over the upper triangle.
 */
export async function forEachPair(c: ClusterMembers, kernel: PairKernel, threshold: number, blockRows: number, visit: (i: number, j: number, sim: number) => void): Promise<number> {
  const d = c.dim;
  let pairs = 0;
  for (let a0 = 0; a0 < c.rows; a0 += blockRows) {
    const an = Math.min(blockRows, c.rows - a0);
    const a = c.data.subarray(a0 * d, (a0 + an) * d);
    const ai = c.invNorm.subarray(a0, a0 + an);
    for (let b0 = a0; b0 < c.rows; b0 += blockRows) {
      const bn = Math.min(blockRows, c.rows - b0);
      const e = await kernel.edges(a, an, ai, c.data.subarray(b0 * d, (b0 + bn) * d), bn, c.invNorm.subarray(b0, b0 + bn), threshold);
      const diagonal = a0 === b0;
      for (let t = 0; t < e.i.length; t++) {
        const i = a0 + e.i[t];
        const j = b0 + e.j[t];
        if (diagonal && j <= i) continue;
        pairs++;
        visit(i, j, e.sim[t]);
      }
    }
  }
  return pairs;
}

/** Deduplicate one cluster; `kernel` must come from createDedupKernel for the same rule. */
export async function dedupCluster(c: ClusterMembers, kernel: PairKernel, opts: DedupOptions): Promise<DedupResult> {
  const m = c.rows;
  const dupOf = new Int32Array(m).fill(-1);
  if (m < 2) return { dupOf, kept: m, pairs: 0 };
  const block = opts.blockRows ?? 512;
  if (opts.rule === 'semdedup') return semdedup(c, kernel, opts.threshold, block, dupOf);
  if (opts.rule === 'max-score' && !c.score) throw new Error('the max-score rule needs clip scores');

  const parent = new Int32Array(m);
  for (let i = 0; i < m; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  const pairs = await forEachPair(c, kernel, opts.threshold, block, (i, j) => {
    const ri = find(i);
    const rj = find(j);
    if (ri !== rj) parent[Math.max(ri, rj)] = Math.min(ri, rj);
  });
  if (pairs === 0) return { dupOf, kept: m, pairs };

  // Members of each component, in member order (counting sort by root).
  const root = new Int32Array(m);
  const size = new Int32Array(m);
  for (let i = 0; i < m; i++) size[(root[i] = find(i))]++;
  const start = new Int32Array(m + 1);
  for (let i = 0; i < m; i++) start[i + 1] = start[i] + size[i];
  const fill = start.slice(0, m);
  const members = new Int32Array(m);
  for (let i = 0; i < m; i++) members[fill[root[i]]++] = i;

  let kept = 0;
  for (let r = 0; r < m; r++) {
    const n = size[r];
    if (n === 0) continue;
    kept++;
    if (n === 1) continue;
    const comp = members.subarray(start[r], start[r] + n);
    const keep = chooseKeeper(comp, c, opts.rule);
    for (const i of comp) if (i !== keep) dupOf[i] = keep;
  }
  return { dupOf, kept, pairs };
}

/** The member of a component that stays, by rule. Ties go to the earlier member (stable). */
function chooseKeeper(comp: Int32Array, c: ClusterMembers, rule: DedupRule): number {
  const sim = c.centroidSim;
  if (rule === 'middle') {
    // bunny_faiss / Dataset-Pruning: sort by distance to the centroid (1 - cos), take index len // 2.
    const order = Array.from(comp).sort((a, b) => sim[b] - sim[a] || a - b);
    return order[order.length >> 1];
  }
  let best = comp[0];
  for (const i of comp) {
    if (rule === 'far' ? sim[i] < sim[best] : rule === 'near' ? sim[i] > sim[best] : c.score![i] > c.score![best]) best = i;
  }
  return best;
}

async function semdedup(c: ClusterMembers, kernel: PairKernel, threshold: number, block: number, dupOf: Int32Array): Promise<DedupResult> {
  const m = c.rows;
  const sim = c.centroidSim;
  // Position in SemDeDup's order: least similar to the centroid first ("keep hard"), ties by member.
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => sim[a] - sim[b] || a - b);
  const pos = new Int32Array(m);
  for (let p = 0; p < m; p++) pos[order[p]] = p;
  const bestSim = new Float32Array(m).fill(-Infinity);
  const pairs = await forEachPair(c, kernel, threshold, block, (i, j, s) => {
    const [early, late] = pos[i] < pos[j] ? [i, j] : [j, i];
    if (s > bestSim[late]) {
      bestSim[late] = s;
      dupOf[late] = early;
    }
  });
  let kept = 0;
  for (let i = 0; i < m; i++) if (dupOf[i] < 0) kept++;
  return { dupOf, kept, pairs };
}
