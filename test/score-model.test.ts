// The model loader on real ONNX sessions: the embedded TEST encoder, its fp16 variant, the layout checks,
// and that the test encoder's colour/shape construction ranks matching captions first.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadModel, normalizeRows, TEST_MODEL_DIR, type ClipModel } from '../src/score/model.js';
import { preprocessImage } from '../src/score/preprocess.js';
import { dot } from '../src/score/similarity.js';
import { shapeImage, COLOURS, SHAPES } from './score-shapes.js';

const FIXTURES = new URL('../../test/fixtures/score/', import.meta.url).pathname;
let model: ClipModel;
const logs: string[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'mmcurate-score-model-'));

before(async () => {
  model = await loadModel(undefined, { device: 'auto', log: (l) => logs.push(l) });
});
after(async () => {
  await model.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function embedImage(m: ClipModel, bytes: Uint8Array): Promise<Float32Array> {
  const r = await preprocessImage(bytes, m.preprocess);
  assert.ok(r.ok, r.ok ? '' : r.detail);
  const e = await m.embedImages(r.pixels, 1);
  assert.equal(e.valid[0], 1);
  return e.data.slice(0, e.dim);
}

describe('the embedded TEST encoder', () => {
  test('loads by default, says TEST encoder and the provider in one log line', () => {
    assert.equal(model.isTestEncoder, true);
    assert.equal(model.dim, 64);
    assert.equal(model.provider, 'cpu'); // no CUDA provider installed on the CI machine
    assert.equal(logs.length, 1);
    assert.match(logs[0], /TEST encoder/);
    assert.match(logs[0], /running on CPU/);
  });

  test('matching captions outscore mismatched ones (colour and shape words), across formats and backgrounds', async () => {
    const captions: string[] = [];
    for (const c of COLOURS) for (const s of SHAPES) captions.push(`a photo of a ${c} ${s}`);
    const text = await model.embedTexts(captions);
    const formats = ['png', 'jpeg', 'webp'] as const;
    let k = 0;
    for (const c of COLOURS) {
      for (const s of SHAPES) {
        const format = formats[k % 3];
        const size = [64, 150, 400][k % 3];
        const transparent = k % 2 === 1 && format !== 'jpeg';
        k++;
        const img = await embedImage(model, await shapeImage(s, c, { size, format, transparent }));
        const scores = captions.map((_, i) => dot(img, text.data.subarray(i * text.dim, (i + 1) * text.dim)));
        const want = captions.indexOf(`a photo of a ${c} ${s}`);
        const best = scores.indexOf(Math.max(...scores));
        assert.equal(captions[best], captions[want], `${c} ${s} (${format}, ${size}px${transparent ? ', transparent' : ''})`);
        assert.ok(scores[want] > 0.3, `match ${scores[want]}`);
        scores.forEach((v, i) => {
          if (i !== want) assert.ok(v < 0.28, `${c} ${s} vs ${captions[i]}: ${v}`);
        });
      }
    }
  });

  test('the fp16 variant (float16 inputs and outputs) gives the same embeddings', async () => {
    const m16 = await loadModel(undefined, { device: 'cpu', variant: 'fp16', log: () => {} });
    try {
      const png = await shapeImage('star', 'purple', { size: 200, format: 'png' });
      const a = await embedImage(model, png);
      const b = await embedImage(m16, png);
      assert.ok(dot(a, b) > 0.999);
      const t = await m16.embedTexts(['a purple star']);
      const u = await model.embedTexts(['a purple star']);
      assert.ok(dot(t.data, u.data) > 0.999);
    } finally {
      await m16.close();
    }
  });
});

describe('model directories that are wrong are refused before any work', () => {
  function modelCopy(name: string): string {
    const dir = join(tmp, name);
    cpSync(TEST_MODEL_DIR, dir, { recursive: true });
    return dir;
  }

  test('a missing file names the file and shows the expected layout', async () => {
    const dir = modelCopy('missing');
    rmSync(join(dir, 'onnx', 'text_model.onnx'));
    await assert.rejects(loadModel(dir, { device: 'cpu', log: () => {} }), (err: Error) => {
      assert.match(err.message, /onnx\/text_model.onnx: missing/);
      assert.match(err.message, /onnx\/vision_model.onnx +input pixel_values/);
      return true;
    });
  });

  test('an unexpected input name names the file and what was expected', async () => {
    const dir = modelCopy('wrong-io');
    cpSync(join(dir, 'onnx', 'vision_model.onnx'), join(dir, 'onnx', 'text_model.onnx'));
    await assert.rejects(loadModel(dir, { device: 'cpu', log: () => {} }), /text_model.onnx: unexpected inputs\/outputs: inputs \[pixel_values\].*expected input input_ids/);
  });

  test('image and text embedding sizes that differ', async () => {
    const dir = modelCopy('dims');
    cpSync(join(FIXTURES, 'text_model_dim32.onnx'), join(dir, 'onnx', 'text_model.onnx'));
    await assert.rejects(loadModel(dir, { device: 'cpu', log: () => {} }), /image embeddings have 64 dimensions .* text embeddings have 32/);
  });

  test('--device cuda without the CUDA provider says how to install it', async () => {
    await assert.rejects(loadModel(undefined, { device: 'cuda', log: () => {} }), /CUDA/);
  });
});

test('NaN and zero-norm embeddings are flagged, not normalised', () => {
  const data = new Float32Array([3, 4, NaN, 1, 0, 0]);
  const e = normalizeRows(data, 3, 2);
  assert.deepEqual(Array.from(e.valid), [1, 0, 0]);
  assert.deepEqual(Array.from(e.data), [0.6000000238418579, 0.800000011920929, 0, 0, 0, 0]);
});
