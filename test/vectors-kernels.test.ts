import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from './helpers.js';
import { readNpy } from '../src/util/npy.js';
import { f16ToF32 } from '../src/util/float16.js';
import { GroupedNearest, inverseNorms, trainSpherical, type Matrix } from '../src/vectors/index.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'coreset');

async function load(file: string): Promise<Matrix> {
  const { header, values } = await readNpy(path.join(FIX, file));
  return { data: values, rows: header.rows, dim: header.cols, invNorm: inverseNorms(values, header.rows, header.cols) };
}

/** Per row: best and its index inside each group, and the runner-up inside the winning group, by brute force. */
function bruteGroups(x: Float32Array, rows: number, d: number, cent: Float32Array, k: number, groups: number) {
  const size = Math.ceil(k / groups);
  const t = Math.ceil(k / size);
  const best = new Float32Array(rows * t).fill(-Infinity);
  const label = new Int32Array(rows * t);
  const runner = new Float32Array(rows).fill(-1e30);
  const dots = new Float32Array(k);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += x[r * d + j] * cent[c * d + j];
      dots[c] = s;
      const g = (c / size) | 0;
      if (s > best[r * t + g]) [best[r * t + g], label[r * t + g]] = [s, c - g * size];
    }
    let ja = 0;
    for (let g = 1; g < t; g++) if (best[r * t + g] > best[r * t + ja]) ja = g;
    for (let c = ja * size; c < Math.min(k, (ja + 1) * size); c++) if (c !== ja * size + label[r * t + ja] && dots[c] > runner[r]) runner[r] = dots[c];
  }
  return { best, label, runner, t };
}

test('GroupedNearest gives each group\'s best, its index and the runner-up in the winning group (padded groups, single-centroid groups, float16 input)', async () => {
  const x = await load('km_x.npy');
  const x16 = await load('km_x16.npy');
  const d = x.dim;
  const rows = 300;
  const k = 11;
  const cent = (x.data as Float32Array).slice(1000 * d, (1000 + k) * d);
  for (const [groups, input] of [[3, x], [4, x], [11, x], [1, x], [3, x16]] as const) {
    const xf = input.data instanceof Uint16Array ? f16ToF32(input.data.subarray(0, rows * d)) : (input.data as Float32Array).subarray(0, rows * d);
    const want = bruteGroups(xf, rows, d, cent, k, groups);
    const kernel = await GroupedNearest.create(cent, k, d, input.data instanceof Uint16Array ? 'float16' : 'float32', groups);
    try {
      assert.equal(kernel.groups, want.t);
      const got = await kernel.run(input.data, rows);
      for (let i = 0; i < rows * want.t; i++) {
        assert.ok(Math.abs(got.best[i] - want.best[i]) < 1e-5, `groups ${groups}: row ${(i / want.t) | 0} group ${i % want.t}: ${got.best[i]} vs ${want.best[i]}`);
        assert.equal(got.label[i], want.label[i], `groups ${groups}: label of row ${(i / want.t) | 0} group ${i % want.t}`);
      }
      for (let r = 0; r < rows; r++) {
        const tol = want.runner[r] < -1e29 ? 1e25 : 1e-5;
        assert.ok(Math.abs(got.runner[r] - want.runner[r]) < tol, `groups ${groups}: runner-up of row ${r}: ${got.runner[r]} vs ${want.runner[r]}`);
      }
    } finally {
      await kernel.release();
    }
  }
});

test('the bounds change the work, never the result: 1, 5 and 16 groups train the same centroids', async () => {
  const x = await load('km_x.npy');
  const init = (await readNpy(path.join(FIX, 'km_init.npy'))).values as Float32Array;
  const runs = [];
  for (const boundGroups of [1, 5, 16]) runs.push(await trainSpherical(x, { k: 16, niter: 10, initialCentroids: init, boundGroups }));
  for (const r of runs.slice(1)) {
    let worst = 0;
    for (let i = 0; i < r.centroids.length; i++) worst = Math.max(worst, Math.abs(r.centroids[i] - runs[0].centroids[i]));
    assert.ok(worst < 1e-6, `centroids differ by ${worst}`);
    assert.ok(Math.abs(r.finalObjective! - runs[0].finalObjective!) < 1e-3, `${r.finalObjective} vs ${runs[0].finalObjective}`);
  }
  assert.notDeepEqual(runs[0].searched, runs[2].searched, 'the group count changes how many points are searched');
});
