// The streaming engine on real images and real ONNX sessions: order, batching across input batches,
// worker-thread and main-thread preprocessing, per-item failures; plus the interleaved scoring rule.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScoreEngine, type ScoreInput, type ScoreOutput } from '../src/score/engine.js';
import { loadModel, type ClipModel } from '../src/score/model.js';
import { preprocessImage } from '../src/score/preprocess.js';
import { dot, interleavedScores } from '../src/score/similarity.js';
import { shapeImage } from './score-shapes.js';

let model: ClipModel;
before(async () => {
  model = await loadModel(undefined, { device: 'cpu', log: () => {} });
});
after(async () => {
  await model.close();
});

async function* batches<K>(all: ScoreInput<K>[], sizes: number[]): AsyncGenerator<ScoreInput<K>[]> {
  let i = 0;
  for (let b = 0; i < all.length; b++) {
    const n = sizes[b % sizes.length];
    yield all.slice(i, i + n);
    i += n;
  }
}

async function collect<K>(engine: ScoreEngine, src: AsyncIterable<ScoreInput<K>[]>): Promise<ScoreOutput<K>[][]> {
  const out: ScoreOutput<K>[][] = [];
  for await (const b of engine.score(src)) out.push(b);
  return out;
}

async function makeItems(): Promise<ScoreInput<number>[]> {
  const colours = ['red', 'green', 'blue', 'yellow'];
  const shapes = ['circle', 'square', 'triangle', 'star'];
  const items: ScoreInput<number>[] = [];
  for (let k = 0; k < 23; k++) {
    const c = colours[k % 4];
    const s = shapes[(k >> 2) % 4];
    const bytes = await shapeImage(s, c, { size: 64 + 13 * k, format: (['png', 'jpeg', 'webp'] as const)[k % 3] });
    // Every fourth caption is deliberately wrong.
    items.push({ key: k, images: [bytes], texts: [k % 4 === 3 ? 'a photo of a cat' : `a ${c} ${s}`] });
  }
  items.push({ key: 100, images: [new Uint8Array(0)], texts: ['empty image'] });
  items.push({ key: 101, images: [new TextEncoder().encode('not an image')], texts: ['garbage'] });
  items.push({ key: 102, images: [], texts: ['a text document'] });
  items.push({ key: 103, images: [null, await shapeImage('star', 'red'), null, await shapeImage('square', 'blue')], texts: ['a red star', null, 'a blue square', null] });
  return items;
}

describe('ScoreEngine', () => {
  for (const workers of [0, 1]) {
    test(`scores a stream in order across uneven input batches (${workers ? 'worker thread' : 'main thread'})`, async () => {
      const items = await makeItems();
      const engine = new ScoreEngine(model, { batchSize: 4, workers, maxInFlight: 6, maxPendingBatches: 2 });
      try {
        const sizes = [5, 1, 7, 3];
        const out = await collect(engine, batches(items, sizes));
        // One output batch per input batch, same sizes, same order.
        const expectedSizes: number[] = [];
        for (let i = 0, b = 0; i < items.length; b++) {
          const n = Math.min(sizes[b % sizes.length], items.length - i);
          expectedSizes.push(n);
          i += n;
        }
        assert.deepEqual(out.map((b) => b.length), expectedSizes);
        const flat = out.flat();
        assert.deepEqual(flat.map((o) => o.key), items.map((i) => i.key));

        for (const o of flat.filter((o) => o.key < 100)) {
          const img = o.images[0];
          const txt = o.texts[0];
          assert.ok(img?.ok && txt?.ok);
          // Same embedding as running the model directly on this image.
          const r = await preprocessImage(items[o.key].images[0] as Uint8Array, model.preprocess);
          assert.ok(r.ok);
          const direct = await model.embedImages(r.pixels, 1);
          assert.ok(dot(img.embedding, direct.data) > 0.9999);
          const score = dot(img.embedding, txt.embedding);
          if (o.key % 4 === 3) assert.ok(score < 0.28, `mismatched caption ${o.key}: ${score}`);
          else assert.ok(score > 0.3, `matching caption ${o.key}: ${score}`);
        }
        const byKey = new Map(flat.map((o) => [o.key, o]));
        assert.deepEqual(byKey.get(100)?.images[0], { ok: false, reason: 'image_empty', detail: 'zero-byte image' });
        assert.equal((byKey.get(101)?.images[0] as { reason: string }).reason, 'image_decode_failed');
        assert.ok(byKey.get(101)?.texts[0]?.ok);
        assert.deepEqual(byKey.get(102)?.images, []);
        assert.ok(byKey.get(102)?.texts[0]?.ok);
        const doc = byKey.get(103)!;
        assert.deepEqual(doc.images.map((x) => x === null), [true, false, true, false]);
        assert.deepEqual(doc.texts.map((x) => x === null), [false, true, false, true]);
        assert.equal(engine.stats.imageFailures, 2);
        assert.equal(engine.stats.images, 23 + 2);
        assert.equal(engine.stats.texts, 27 + 1);
        assert.ok(engine.stats.visionBatches >= Math.ceil(25 / 4));
      } finally {
        await engine.close();
      }
    });
  }

  test('an error in the source reaches the caller', async () => {
    const engine = new ScoreEngine(model, { batchSize: 2, workers: 0 });
    async function* bad(): AsyncGenerator<ScoreInput<number>[]> {
      yield [{ key: 1, images: [], texts: ['a'] }];
      throw new Error('reader broke');
    }
    try {
      await assert.rejects(collect(engine, bad()), /reader broke/);
    } finally {
      await engine.close();
    }
  });

  test('a caller that stops early does not hang', async () => {
    const items = await makeItems();
    const engine = new ScoreEngine(model, { batchSize: 2, workers: 1 });
    try {
      for await (const b of engine.score(batches(items, [3]))) {
        assert.equal(b.length, 3);
        break;
      }
    } finally {
      await engine.close();
    }
  });
});

describe('model batches are cut by position, not by timing', () => {
  // The model's GEMMs give slightly different bits for the same image in a different batch, so batch k must
  // hold exactly the decodable images k*B .. k*B+B-1 however the input arrives and whatever decodes first.
  test('every embedding equals the model run on fixed groups of B images / texts, bit for bit', async () => {
    const items = await makeItems();
    const B = 4;
    const images: Uint8Array[] = [];
    const texts: string[] = [];
    for (const it of items) {
      for (const t of it.texts) if (t) texts.push(t);
      for (const b of it.images) if (b && (await preprocessImage(b, model.preprocess)).ok) images.push(b);
    }
    const plane = 3 * model.preprocess.width * model.preprocess.height;
    const want = { images: [] as Float32Array[], texts: [] as Float32Array[] };
    for (let k = 0; k < images.length; k += B) {
      const group = images.slice(k, k + B);
      const pixels = new Float32Array(group.length * plane);
      for (let i = 0; i < group.length; i++) {
        const r = await preprocessImage(group[i], model.preprocess);
        assert.ok(r.ok);
        pixels.set(r.pixels, i * plane);
      }
      const e = await model.embedImages(pixels, group.length);
      for (let i = 0; i < group.length; i++) want.images.push(e.data.slice(i * e.dim, (i + 1) * e.dim));
    }
    for (let k = 0; k < texts.length; k += B) {
      const e = await model.embedTexts(texts.slice(k, k + B));
      for (let i = 0; i < e.count; i++) want.texts.push(e.data.slice(i * e.dim, (i + 1) * e.dim));
    }
    // Input batches of one row with at most one pending batch: the old engine ran short batches here.
    for (const [sizes, maxPendingBatches] of [[[1], 1], [[5, 1, 7, 3], 2], [[100], 4]] as const) {
      const engine = new ScoreEngine(model, { batchSize: B, workers: 1, maxInFlight: B, maxPendingBatches });
      try {
        const flat = (await collect(engine, batches(items, [...sizes]))).flat();
        const got = { images: [] as Float32Array[], texts: [] as Float32Array[] };
        for (const o of flat) {
          for (const t of o.texts) if (t?.ok) got.texts.push(t.embedding);
          for (const i of o.images) if (i?.ok) got.images.push(i.embedding);
        }
        assert.equal(got.images.length, want.images.length);
        assert.equal(got.texts.length, want.texts.length);
        got.images.forEach((e, i) => assert.deepEqual(e, want.images[i], `image ${i}, input batches ${sizes}`));
        got.texts.forEach((e, i) => assert.deepEqual(e, want.texts[i], `text ${i}, input batches ${sizes}`));
        assert.equal(engine.stats.visionBatches, Math.ceil(images.length / B));
      } finally {
        await engine.close();
      }
    }
  });
});

describe('interleaved documents', () => {
  const v = (...x: number[]) => {
    const a = Float32Array.from(x);
    const n = Math.hypot(...x);
    return a.map((y) => y / n);
  };
  test('each image takes its best neighbouring text; the document the mean', () => {
    const t0 = v(1, 0, 0);
    const t3 = v(0, 1, 0);
    const i1 = v(1, 1, 0);
    const i2 = v(0, 1, 0);
    const r = interleavedScores([null, i1, i2, null, v(0, 0, 1)], [t0, null, null, t3, null]);
    assert.equal(r.imageScores[0], null);
    assert.ok(Math.abs((r.imageScores[1] as number) - Math.SQRT1_2) < 1e-6); // t0 and t3 tie
    assert.ok(Math.abs((r.imageScores[2] as number) - 1) < 1e-6); // t3 after it
    assert.ok(Math.abs(r.imageScores[4] as number) < 1e-6); // only t3 before it
    assert.ok(Math.abs((r.docScore as number) - (Math.SQRT1_2 + 1 + 0) / 3) < 1e-6);
  });
  test('no text at all: no scores', () => {
    const r = interleavedScores([v(1, 0)], [null]);
    assert.deepEqual(r, { imageScores: [null], docScore: null });
  });
});
