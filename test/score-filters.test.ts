// Score filters (LAION's absolute threshold, DataComp's exact top fraction) and the float16 packing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { passesMinScore, TopFractionFilter, topFractionCut } from '../src/score/filters.js';
import { f16BitsToF32 as fromHalf, packFloat16, f32ToF16Bits as toHalf, unpackFloat16 } from '../src/util/float16.js';

describe('--min-clip-score', () => {
  test('keeps scores at or above the threshold; missing or NaN never pass', () => {
    assert.deepEqual([0.27, 0.28, 0.3, null, NaN].map((s) => passesMinScore(s, 0.28)), [false, true, true, false, false]);
  });
});

describe('--keep-top', () => {
  function apply(scores: number[], f: number): boolean[] {
    const filter = new TopFractionFilter(topFractionCut(scores, f));
    return scores.map((s) => filter.keep(s));
  }

  test('keeps exactly ceil(F * n) of the scores, the highest ones', () => {
    const scores = Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 0.5);
    const kept = apply(scores, 0.3);
    assert.equal(kept.filter(Boolean).length, 300);
    const minKept = Math.min(...scores.filter((_, i) => kept[i]));
    const maxDropped = Math.max(...scores.filter((_, i) => !kept[i]));
    assert.ok(minKept > maxDropped);
  });

  test('0.3 of 10 is 3, not 4 (floating point)', () => {
    assert.equal(topFractionCut([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.3).keep, 3);
  });

  test('ties at the threshold: exactly the budget, first come first kept', () => {
    assert.deepEqual(apply([0.2, 0.3, 0.3, 0.3, 0.1], 0.4), [false, true, true, false, false]);
    assert.deepEqual(topFractionCut([0.2, 0.3, 0.3, 0.3, 0.1], 0.4), { threshold: 0.3, tiesKept: 2, keep: 2, total: 5 });
  });

  test('NaN scores are neither counted nor kept; fraction 1 keeps every scored row', () => {
    assert.deepEqual(apply([0.1, NaN, 0.2], 1), [true, false, true]);
    assert.throws(() => topFractionCut([1], 0), /--keep-top must be in \(0, 1\]/);
  });
});

describe('float16', () => {
  test('round trip of representative values, round-to-nearest-even', () => {
    for (const x of [0, -0, 1, -1, 0.5, 0.1, 0.333, 65504, 6.1e-5, 5.96e-8, -2.5e-7]) {
      const y = fromHalf(toHalf(x));
      assert.ok(Math.abs(y - x) <= Math.abs(x) * 1e-3 + 6e-8, `${x} -> ${y}`);
    }
    assert.equal(toHalf(1), 0x3c00);
    assert.equal(toHalf(1 + 2 ** -11), 0x3c00); // halfway, rounds to even
    assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(fromHalf(toHalf(1e6)), Infinity);
    assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
  });

  test('packFloat16 writes little-endian halves of a row', () => {
    const bytes = packFloat16(Float32Array.from([9, 1, -2, 9]), 1, 2);
    assert.deepEqual(Array.from(bytes), [0x00, 0x3c, 0x00, 0xc0]);
    assert.deepEqual(Array.from(unpackFloat16(bytes)), [1, -2]);
  });
});
