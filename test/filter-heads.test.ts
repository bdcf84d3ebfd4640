/**
 * Score heads end to end: `score --head NAME=model.onnx` with heads the test builds as ONNX graphs (an MLP
 * shaped like LAION's NSFW detector, a linear layer like its aesthetic predictor), checked against the
 * embeddings score wrote, then `filter --where "nsfw < 0.5"` over the column.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { buildModel } from '../src/vectors/onnx-graph.js';
import { mainStderr, quietMain } from './contract-helpers.js';
import { DEMO, readHyparquet, readManifestOf, tmpDir } from './helpers.js';

/** The embedded TEST encoder's embedding width (models/test-clip: projection_dim). */
const DIM = 64;

let dir: string;
let captions: string;

/** relu([x0, -x0]) · [40, -40] - 4 → sigmoid: an MLP that computes sigmoid(40 · x0 - 4); x0 is the TEST encoder's "red" feature. */
function mlpHead(dim: number): Uint8Array {
  const w1 = new Float32Array(dim * 2);
  w1[0] = 1; // hidden unit 0 = x0
  w1[1] = -1; // hidden unit 1 = -x0 (row-major [dim, 2])
  return buildModel({
    name: 'nsfw',
    inputs: [{ name: 'embedding', type: 'float', shape: ['n', dim] }],
    outputs: [{ name: 'p', type: 'float', shape: ['n', 1] }],
    initializers: [
      { name: 'w1', type: 'float', dims: [dim, 2], values: w1 },
      { name: 'b1', type: 'float', dims: [2], values: new Float32Array(2) },
      { name: 'w2', type: 'float', dims: [2, 1], values: Float32Array.from([40, -40]) },
      { name: 'b2', type: 'float', dims: [1], values: Float32Array.from([-4]) },
    ],
    nodes: [
      { op: 'Gemm', inputs: ['embedding', 'w1', 'b1'], outputs: ['h'] },
      { op: 'Relu', inputs: ['h'], outputs: ['hr'] },
      { op: 'Gemm', inputs: ['hr', 'w2', 'b2'], outputs: ['z'] },
      { op: 'Sigmoid', inputs: ['z'], outputs: ['p'] },
    ],
  });
}

/** 10 · x1 + 5: a linear layer, as LAION's aesthetic predictor. */
function linearHead(dim: number): Uint8Array {
  const w = new Float32Array(dim);
  w[1] = 10;
  return buildModel({
    name: 'aesthetic',
    inputs: [{ name: 'x', type: 'float', shape: ['n', dim] }],
    outputs: [{ name: 'y', type: 'float', shape: ['n', 1] }],
    initializers: [
      { name: 'w', type: 'float', dims: [dim, 1], values: w },
      { name: 'b', type: 'float', dims: [1], values: Float32Array.from([5]) },
    ],
    nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'] }],
  });
}

before(async () => {
  dir = tmpDir('mmcurate-heads-');
  writeFileSync(path.join(dir, 'nsfw.onnx'), mlpHead(DIM));
  writeFileSync(path.join(dir, 'aesthetic.onnx'), linearHead(DIM));
  writeFileSync(path.join(dir, 'wide.onnx'), linearHead(768));
  // the first 8 demo captions (the model's load, not the rows, is most of the time)
  const lines = readFileSync(path.join(DEMO, 'captions.jsonl'), 'utf8').trim().split('\n').slice(0, 8).map((l) => {
    const o = JSON.parse(l) as { image: string };
    return JSON.stringify({ ...o, image: path.join(DEMO, o.image) });
  });
  writeFileSync(path.join(dir, 'captions.jsonl'), lines.join('\n') + '\n');
  captions = path.join(dir, 'captions');
  assert.equal(await quietMain(['ingest', '--kind', 'caption', '--input', `demo=${path.join(dir, 'captions.jsonl')}`, '--allow-paths-outside', '--out', captions, '--quiet', '--workers', '1']), 0);
});

test('score --head writes each head\'s score per row; filter --where reads it by name', async () => {
  const scored = path.join(dir, 'scored');
  const heads = ['--head', `nsfw=${path.join(dir, 'nsfw.onnx')}`, `aesthetic=${path.join(dir, 'aesthetic.onnx')}`];
  assert.equal(await quietMain(['score', '--input', captions, '--out', scored, ...heads, '--device', 'cpu', '--workers', '1', '--quiet']), 0);
  const m = readManifestOf(scored);
  assert.ok(m.columns.includes('head_scores'));
  assert.deepEqual((m.heads as { name: string }[]).map((h) => h.name), ['nsfw', 'aesthetic']);
  const rows = [];
  for (const s of m.shards) rows.push(...(await readHyparquet(path.join(scored, s.path))));
  assert.equal(rows.length, m.rows);
  let above = 0;
  for (const r of rows) {
    // independent check: the heads' functions of the float16 image embedding score wrote (hyparquet's
    // generic reader gives the list<FLOAT16> column as numbers)
    const e = Float32Array.from(r.image_embedding as number[]);
    const h = JSON.parse(String(r.head_scores)) as { nsfw: number; aesthetic: number };
    assert.ok(Math.abs(h.nsfw - 1 / (1 + Math.exp(-(40 * e[0]! - 4)))) < 2e-3, `nsfw ${h.nsfw} vs embedding ${e[0]}`);
    assert.ok(Math.abs(h.aesthetic - (10 * e[1]! + 5)) < 2e-2, `aesthetic ${h.aesthetic} vs embedding ${e[1]}`);
    if (h.nsfw >= 0.5) above++;
  }
  assert.deepEqual([rows.length, above], [8, 2], 'the two red shapes score above 0.5');
  const safe = path.join(dir, 'safe');
  assert.equal(await quietMain(['filter', '--input', scored, '--out', safe, '--where', 'safe=nsfw < 0.5', 'pretty=head_scores.aesthetic > 0', '--quiet', '--workers', '1']), 0);
  const f = readManifestOf(safe);
  assert.equal(f.rejected_by_reason['filtered:safe'], 2);
  assert.equal(f.read, rows.length);
});

test('a head whose input width is not the encoder\'s is refused, naming both', async () => {
  const r = await mainStderr(['score', '--input', captions, '--out', path.join(dir, 'never'), '--head', `wide=${path.join(dir, 'wide.onnx')}`, '--device', 'cpu', '--workers', '1', '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--head wide: wide\.onnx takes 768-dimensional embeddings \(input x \[n, 768\]\) but the encoder gives 64-dimensional ones/);
  const missing = await mainStderr(['score', '--input', captions, '--out', path.join(dir, 'never'), '--head', 'x=/nonexistent.onnx']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--head x=\/nonexistent\.onnx: no such file/);
});
