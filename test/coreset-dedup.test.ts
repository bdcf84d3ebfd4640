import { test } from 'node:test';
import assert from 'node:assert/strict';
import { f32ToF16 } from '../src/util/float16.js';
import { inverseNorms } from '../src/vectors/index.js';
import { createDedupKernel, dedupCluster, type ClusterMembers, type DedupRule } from '../src/coreset/dedup.js';
import { synthClustered, type Synth } from '../src/coreset/synth.js';

/** All rows as one cluster (float16, as the stage holds them), with cosines to the mean direction. */
function asCluster(s: Synth, score?: Float64Array): ClusterMembers {
  const d = s.dim;
  const data = f32ToF16(s.data);
  const invNorm = inverseNorms(data, s.rows, d);
  const mean = new Float64Array(d);
  for (let r = 0; r < s.rows; r++) for (let j = 0; j < d; j++) mean[j] += s.data[r * d + j];
  const norm = Math.hypot(...mean);
  const centroidSim = new Float32Array(s.rows);
  for (let r = 0; r < s.rows; r++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += s.data[r * d + j] * mean[j];
    centroidSim[r] = dot / norm;
  }
  return { data, invNorm, rows: s.rows, dim: d, centroidSim, score };
}

/** Follow dupOf to the member that stands for each row. */
function keeperOf(dupOf: Int32Array): Int32Array {
  return dupOf.map((_, i) => {
    let k = i;
    while (dupOf[k] >= 0) k = dupOf[k];
    return k;
  });
}

/** Recall: planted duplicates dropped and standing with their original; false merges: rows standing with another family. */
function quality(s: Synth, dupOf: Int32Array): { recall: number; falseMerges: number; planted: number } {
  const keeper = keeperOf(dupOf);
  let planted = 0, found = 0, wrong = 0;
  for (let r = 0; r < s.rows; r++) {
    if (s.family[keeper[r]] !== s.family[r]) wrong++;
    if (s.family[r] === r) continue;
    planted++;
    if (keeper[r] === keeper[s.family[r]]) found++;
  }
  return { recall: found / planted, falseMerges: wrong / s.rows, planted };
}

const synth = (maxAngle: number): Synth => synthClustered({ rows: 1500, dim: 64, clusters: 1, centreCos: 0.5, dupFraction: 0.3, minAngle: 0.5, maxAngle, seed: 3 });

for (const rule of ['middle', 'far', 'near', 'max-score'] as DedupRule[]) {
  test(`Bunny rule "${rule}": planted duplicates up to 29° (cos 0.875 > 0.86) found, ≥ 99% recall, ≤ 1% false merges`, async () => {
    const s = synth(29);
    const score = Float64Array.from({ length: s.rows }, (_, i) => Math.sin(i));
    const kernel = await createDedupKernel(s.dim, 'float16', rule);
    try {
      const r = await dedupCluster(asCluster(s, score), kernel, { rule, threshold: 0.86, blockRows: 128 });
      const q = quality(s, r.dupOf);
      assert.ok(q.planted > 300, `planted ${q.planted}`);
      assert.ok(q.recall >= 0.99, `recall ${q.recall}`);
      assert.ok(q.falseMerges <= 0.01, `false merges ${q.falseMerges}`);
      // One member per family stays.
      assert.equal(r.kept, new Set(Array.from(s.family)).size);
    } finally {
      await kernel.release();
    }
  });
}

test('SemDeDup rule: duplicates up to 13.5° (cos ≥ 0.97 = 1 − ε, ε = 0.03) found; the survivor is the least similar to the centroid', async () => {
  const s = synth(13.5);
  const c = asCluster(s);
  const kernel = await createDedupKernel(s.dim, 'float16', 'semdedup');
  try {
    const r = await dedupCluster(c, kernel, { rule: 'semdedup', threshold: 1 - 0.03, blockRows: 100 });
    // SemDeDup is not transitive (a row is dropped for any earlier row over the threshold, even a
    // dropped one), so recall is per planted pair: at most one of the two survives.
    let planted = 0, found = 0, wrong = 0;
    for (let i = 0; i < s.rows; i++) {
      if (r.dupOf[i] >= 0 && s.family[r.dupOf[i]] !== s.family[i]) wrong++;
      if (s.family[i] === i) continue;
      planted++;
      if (r.dupOf[i] >= 0 || r.dupOf[s.family[i]] >= 0) found++;
    }
    assert.ok(found / planted >= 0.99, `recall ${found / planted}`);
    assert.ok(wrong / s.rows <= 0.01, `false merges ${wrong / s.rows}`);
    // A dropped row points at a row earlier in SemDeDup's order: less similar to the centroid.
    for (let i = 0; i < s.rows; i++) if (r.dupOf[i] >= 0) assert.ok(c.centroidSim[r.dupOf[i]] <= c.centroidSim[i]);
  } finally {
    await kernel.release();
  }
});

test('blocked products give the same result whatever the block size (no m x m matrix needed)', async () => {
  const s = synth(29);
  const kernel = await createDedupKernel(s.dim, 'float16', 'middle');
  try {
    const whole = await dedupCluster(asCluster(s), kernel, { rule: 'middle', threshold: 0.86, blockRows: 4096 });
    for (const blockRows of [37, 256]) {
      const b = await dedupCluster(asCluster(s), kernel, { rule: 'middle', threshold: 0.86, blockRows });
      assert.deepEqual(b.dupOf, whole.dupOf);
      assert.equal(b.pairs, whole.pairs);
    }
  } finally {
    await kernel.release();
  }
});

test('keep rules pick the middle, farthest, nearest or best-scored member of a component', async () => {
  // Five copies of one direction (one component), with given cosines to the centroid and scores.
  const d = 8;
  const data = new Float32Array(5 * d);
  for (let r = 0; r < 5; r++) {
    data[r * d] = 1;
    data[r * d + 1] = 0.001 * r;
  }
  const h = f32ToF16(data);
  const members: ClusterMembers = {
    data: h,
    invNorm: inverseNorms(h, 5, d),
    rows: 5,
    dim: d,
    centroidSim: Float32Array.of(0.9, 0.5, 0.7, 0.8, 0.6),
    score: Float64Array.of(0.1, 0.2, 0.5, 0.3, 0.4),
  };
  // Sorted by distance to the centroid: 0 (0.9), 3, 2, 4, 1 -> median (index 5 // 2 = 2) is member 2.
  const expect: Record<string, number> = { middle: 2, far: 1, near: 0, 'max-score': 2 };
  for (const [rule, keep] of Object.entries(expect)) {
    const kernel = await createDedupKernel(d, 'float16', rule as DedupRule);
    const r = await dedupCluster(members, kernel, { rule: rule as DedupRule, threshold: 0.86 });
    await kernel.release();
    assert.equal(r.kept, 1, rule);
    assert.equal(r.dupOf[keep], -1, `${rule} keeps ${keep}`);
    for (let i = 0; i < 5; i++) if (i !== keep) assert.equal(r.dupOf[i], keep, rule);
  }
});
