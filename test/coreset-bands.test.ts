import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers.js';
import { bandPositions, findBand, parseBand, sampleKey, type PairSource } from '../src/coreset/bands.js';
import { Rng } from '../src/vectors/index.js';

const ref = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'coreset', 'km_ref.json'), 'utf8')) as { band_positions: number[][] };

/** A population streamed in uneven batches, counting passes. */
function source(values: Float64Array, batch = 777): { src: PairSource; passes: () => number } {
  let passes = 0;
  const src: PairSource = async (visit) => {
    passes++;
    for (let s = 0; s < values.length; s += batch) {
      const n = Math.min(batch, values.length - s);
      const rows = Float64Array.from({ length: n }, (_, i) => s + i);
      visit(values.subarray(s, s + n), rows, n);
    }
  };
  return { src, passes: () => passes };
}

/** The band the slow way: sort (value desc, row asc), slice. */
function bruteForce(values: Float64Array, from: number, to: number): Set<number> {
  const idx = Array.from(values, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  return new Set(idx.slice(from, to));
}

test('band positions are int(lo·n) and int(hi·n), as Python computes them (bunny_faiss.py)', () => {
  for (const [n, l40, h60, l15, h35] of ref.band_positions) {
    assert.deepEqual(bandPositions(n, { lo: 40, hi: 60 }), [l40, h60], `n=${n}`);
    assert.deepEqual(bandPositions(n, { lo: 15, hi: 35 }), [l15, h35], `n=${n}`);
  }
});

test('exact bands in two passes match a full sort, to the row, with heavy ties and skewed values', async () => {
  const rng = new Rng(9);
  const cases: [string, Float64Array][] = [
    ['normal', Float64Array.from({ length: 20000 }, () => 0.3 + 0.03 * Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(6.283 * rng.float()))],
    ['ties', Float64Array.from({ length: 5000 }, () => Math.floor(rng.float() * 7) / 7)],
    ['one value', new Float64Array(1000).fill(0.25)],
    ['signed, tiny gaps', Float64Array.from({ length: 3000 }, (_, i) => (i % 2 ? -1 : 1) * (1 + i * 1e-12))],
    ['zeros of both signs', Float64Array.from({ length: 50 }, (_, i) => (i % 2 ? -0 : 0))],
  ];
  for (const [name, values] of cases) {
    for (const [lo, hi] of [[40, 60], [15, 35], [0, 100], [0, 0.1], [99.9, 100], [33.3, 33.4]]) {
      const { src, passes } = source(values);
      const cut = await findBand(src, (n) => bandPositions(n, { lo, hi }));
      assert.ok(passes() <= 2, 'at most two passes');
      const [from, to] = bandPositions(values.length, { lo, hi });
      assert.equal(cut.size, to - from, `${name} ${lo}-${hi} size`);
      const want = bruteForce(values, from, to);
      const got = new Set<number>();
      values.forEach((v, i) => cut.contains(v, i) && got.add(i));
      assert.deepEqual(got, want, `${name} ${lo}-${hi}`);
    }
  }
});

test('the seeded sample is an exact band of hash keys: target rows, same seed same rows', async () => {
  const n = 10000;
  const keys = (seed: number): Float64Array => Float64Array.from({ length: n }, (_, i) => sampleKey(seed, i));
  const pick = async (seed: number): Promise<number[]> => {
    const v = keys(seed);
    const cut = await findBand(source(v).src, () => [0, 123]);
    return Array.from(v, (x, i) => (cut.contains(x, i) ? i : -1)).filter((i) => i >= 0);
  };
  const a = await pick(1);
  assert.equal(a.length, 123);
  assert.deepEqual(await pick(1), a);
  assert.notDeepEqual(await pick(2), a);
  // Uniform: the sampled rows spread over the whole range.
  assert.ok(a.filter((i) => i < n / 2).length > 40 && a.filter((i) => i >= n / 2).length > 40);
});

test('bands outside [0, 100] or inverted are errors naming the flag', () => {
  assert.deepEqual(parseBand('40-60', '--clip-band'), { lo: 40, hi: 60 });
  assert.deepEqual(parseBand('15.5 - 35', '--centroid-band'), { lo: 15.5, hi: 35 });
  assert.equal(parseBand('none', '--clip-band'), undefined);
  assert.throws(() => parseBand('60-40', '--clip-band'), /--clip-band 60-40 is empty or inverted/);
  assert.throws(() => parseBand('40-140', '--clip-band'), /--clip-band 40-140 lies outside \[0, 100\]/);
  assert.throws(() => parseBand('40', '--centroid-band'), /--centroid-band must be LO-HI in percent/);
  assert.throws(() => parseBand('-5-10', '--centroid-band'), /--centroid-band must be LO-HI/);
});
