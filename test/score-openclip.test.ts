// The OpenCLIP / Immich model layout on real ONNX sessions: test/fixtures/openclip-test/ is the embedded TEST
// encoder re-exported by scripts/make_test_clip.py the way Immich's exporter writes open_clip models (input
// names image / text, int32 token ids, outputs `embedding`, batch fixed at 1), so both layouts must agree.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDataset, readBatches } from '../src/io/dataset.js';
import { loadModel, TEST_MODEL_DIR, type ClipModel } from '../src/score/model.js';
import { cleanText, openClipTextConfig } from '../src/score/openclip.js';
import { cropOffset, parseOpenClipPreprocessConfig, parsePreprocessorConfig } from '../src/score/preprocess-config.js';
import sharp from 'sharp';
import { preprocessImage } from '../src/score/preprocess.js';
import { dot } from '../src/score/similarity.js';
import { cli, ROOT, tmpDir } from './helpers.js';
import { COLOURS, SHAPES, shapeImage } from './score-shapes.js';

const OPENCLIP_DIR = join(ROOT, 'test', 'fixtures', 'openclip-test');
const tmp = tmpDir('mmcurate-score-openclip-');
const quiet = { device: 'cpu' as const, log: () => {} };
let hf: ClipModel;
let oc: ClipModel;
const ocLogs: string[] = [];

before(async () => {
  hf = await loadModel(undefined, quiet);
  oc = await loadModel(OPENCLIP_DIR, { device: 'cpu', log: (l) => ocLogs.push(l) });
});
after(async () => {
  await hf.close();
  await oc.close();
});

function rows(e: { data: Float32Array; dim: number; count: number }): Float32Array[] {
  return Array.from({ length: e.count }, (_, i) => e.data.subarray(i * e.dim, (i + 1) * e.dim));
}

describe('an OpenCLIP export in Immich\'s layout', () => {
  test('is detected and says so, with the context length from config.json', () => {
    assert.equal(oc.isTestEncoder, true);
    assert.equal(oc.dim, 64);
    assert.equal(oc.tokenizer.contextLength, 77);
    assert.equal(ocLogs.length, 2);
    assert.match(ocLogs[0], /OpenCLIP layout, visual\/model\.onnx \+ textual\/model\.onnx/);
  });

  test('a graph with the batch fixed at 1 is named in one warning that says how to re-export it; once per model', async () => {
    assert.match(ocLogs[1]!, /^warning: model openclip-test: .*visual\/model\.onnx \(input image\) and .*textual\/model\.onnx \(input text\) fix the batch size at 1/);
    assert.match(ocLogs[1]!, /torch\.onnx\.export\(\.\.\.\) of visual\/model\.onnx with dynamic_axes=\{"image": \{0: "batch"\}, "embedding": \{0: "batch"\}\} and textual\/model\.onnx with dynamic_axes=\{"text": \{0: "batch"\}, "embedding": \{0: "batch"\}\}/);
    const again: string[] = [];
    const second = await loadModel(OPENCLIP_DIR, { device: 'cpu', log: (l) => again.push(l) });
    await second.close();
    assert.equal(again.length, 1, again.join('\n'));
    // the HF-layout TEST encoder has a dynamic batch: no warning
    const hfLogs: string[] = [];
    const dynamic = await loadModel(undefined, { device: 'cpu', log: (l) => hfLogs.push(l) });
    await dynamic.close();
    assert.equal(hfLogs.filter((l) => l.startsWith('warning')).length, 0);
  });

  test('gives the same image and text embeddings and scores as the HF-layout copy (batch fixed at 1 in the graph)', async () => {
    const captions: string[] = [];
    for (const c of COLOURS) for (const s of SHAPES) captions.push(`a photo of a ${c} ${s}`);
    const th = await hf.embedTexts(captions);
    const to = await oc.embedTexts(captions);
    assert.equal(to.count, captions.length);
    rows(th).forEach((a, i) => assert.ok(dot(a, rows(to)[i]) >= 0.9999, `text ${captions[i]}: ${dot(a, rows(to)[i])}`));

    const formats = ['png', 'jpeg', 'webp'] as const;
    const images: Uint8Array[] = [];
    // Opaque: with alpha the two layouts' transforms differ by design (open_clip resizes RGBA premultiplied;
    // test/score-preprocess.test.ts holds each to its own PIL reference).
    for (let k = 0; k < 7; k++) {
      images.push(await shapeImage(SHAPES[k % 4], COLOURS[k % 6], { size: [64, 150, 333][k % 3], format: formats[k % 3] }));
    }
    // Each model preprocesses with its own plan, as `mmcurate score` does.
    const batchFor = async (m: ClipModel): Promise<Float32Array> => {
      const per = 3 * m.preprocess.width * m.preprocess.height;
      const all = new Float32Array(images.length * per);
      for (let i = 0; i < images.length; i++) {
        const r = await preprocessImage(images[i], m.preprocess);
        assert.ok(r.ok);
        all.set(r.pixels, i * per);
      }
      return all;
    };
    const ih = await hf.embedImages(await batchFor(hf), images.length);
    const io = await oc.embedImages(await batchFor(oc), images.length);
    assert.deepEqual(Array.from(io.valid), Array(images.length).fill(1));
    rows(ih).forEach((a, i) => assert.ok(dot(a, rows(io)[i]) >= 0.9999, `image ${i}: ${dot(a, rows(io)[i])}`));
    for (let i = 0; i < images.length; i++) {
      for (let j = 0; j < captions.length; j++) {
        const a = dot(rows(ih)[i], rows(th)[j]);
        const b = dot(rows(io)[i], rows(to)[j]);
        assert.ok(Math.abs(a - b) < 1e-4, `image ${i} x ${captions[j]}: ${a} vs ${b}`);
      }
    }
  });

  test('the plan parsed from visual/preprocess_cfg.json is the HF plan of the same model', () => {
    const hfFile = join(TEST_MODEL_DIR, 'preprocessor_config.json');
    const ocFile = join(OPENCLIP_DIR, 'visual', 'preprocess_cfg.json');
    const a = parsePreprocessorConfig(JSON.parse(readFileSync(hfFile, 'utf8')), hfFile);
    const { cropRounding, convertRgb, ...b } = parseOpenClipPreprocessConfig(JSON.parse(readFileSync(ocFile, 'utf8')), ocFile);
    // the differences: torchvision's centre crop rounds an odd margin half to even, transformers floors it; and
    // open_clip converts to RGB after resize and crop, transformers first
    assert.equal(cropRounding, 'half-even');
    assert.equal(convertRgb, 'after-crop');
    assert.deepEqual(b, a);
    const same = (p: typeof hf.preprocess) => ({ ...p, cropRounding: undefined, convertRgb: undefined });
    assert.deepEqual(same(oc.preprocess), same(hf.preprocess));
  });

  test('an odd crop margin is rounded as torchvision does (half to even), one pixel off transformers\' floor when it matters', async () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 11].map((m) => cropOffset(m, 'half-even')), [0, 0, 1, 2, 2, 2, 3, 4, 6]);
    assert.deepEqual([0, 1, 2, 3, 7].map((m) => cropOffset(m)), [0, 0, 1, 1, 3]);
    // 227 x 224 (no resize): a margin of 3 columns puts transformers' crop at column 1 and torchvision's at 2
    const raw = Buffer.alloc(227 * 224 * 3);
    for (let y = 0; y < 224; y++) for (let x = 0; x < 227; x++) raw.set([x, (x * 7) & 255, y], (y * 227 + x) * 3);
    const png = await sharp(raw, { raw: { width: 227, height: 224, channels: 3 } }).png().toBuffer();
    const a = await preprocessImage(png, hf.preprocess);
    const b = await preprocessImage(png, oc.preprocess);
    assert.ok(a.ok && b.ok);
    const plane = 224 * 224;
    for (const [y, x] of [[0, 0], [100, 50], [223, 222]] as const) {
      for (let c = 0; c < 3; c++) assert.equal(b.pixels[c * plane + y * 224 + x], a.pixels[c * plane + y * 224 + x + 1], `(${c}, ${y}, ${x})`);
    }
  });
});

describe('open_clip preprocess_cfg.json', () => {
  const f = 'preprocess_cfg.json';

  test('resize_mode squash (SigLIP) resizes to the exact size without a crop; bilinear maps to PIL BILINEAR', () => {
    const p = parseOpenClipPreprocessConfig(
      { size: [384, 384], mode: 'RGB', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bilinear', resize_mode: 'squash', fill_color: 0 },
      f,
    );
    assert.deepEqual(p.resize, { width: 384, height: 384 });
    assert.equal(p.crop, null);
    assert.equal(p.resample, 'linear');
    assert.deepEqual([p.width, p.height], [384, 384]);
    assert.deepEqual(p.mean, [0.5, 0.5, 0.5]);
  });

  test('shortest (open_clip\'s default) is shortest-edge resize then centre crop; an int size and OpenAI mean/std by default', () => {
    const p = parseOpenClipPreprocessConfig({ size: 336 }, f);
    assert.deepEqual(p.resize, { shortestEdge: 336 });
    assert.deepEqual(p.crop, { width: 336, height: 336 });
    assert.equal(p.resample, 'cubic');
    assert.deepEqual(p.mean, [0.48145466, 0.4578275, 0.40821073]);
    assert.equal(p.rescale, 1 / 255);
  });

  test('what the plan cannot do is refused with the key and the value', () => {
    assert.throws(() => parseOpenClipPreprocessConfig({ size: 224, resize_mode: 'longest' }, f), /preprocess_cfg.json: "resize_mode" "longest" is not supported/);
    assert.throws(() => parseOpenClipPreprocessConfig({ size: 224, interpolation: 'lanczos' }, f), /"interpolation" "lanczos" is not supported/);
    assert.throws(() => parseOpenClipPreprocessConfig({ size: [224, 256] }, f), /non-square size/);
    assert.throws(() => parseOpenClipPreprocessConfig({ size: 'big' }, f), /"size" must be/);
    assert.throws(() => parseOpenClipPreprocessConfig({ size: 224, std: [0, 1, 1] }, f), /"std" must be positive/);
  });
});

describe('open_clip text settings', () => {
  test('context length and cleaning come from config.json text_cfg', () => {
    assert.deepEqual(openClipTextConfig({ text_cfg: { context_length: 64, tokenizer_kwargs: { clean: 'canonicalize' } } }, 'c'), { contextLength: 64, clean: 'canonicalize' });
    assert.deepEqual(openClipTextConfig({ text_cfg: {} }, 'c'), { contextLength: 77, clean: 'whitespace' });
    assert.throws(() => openClipTextConfig({ vision_cfg: {} }, 'x/config.json'), /x\/config.json: expected an open_clip model config/);
  });

  test('canonicalize removes punctuation and lower-cases, as open_clip does for SigLIP', () => {
    assert.equal(cleanText('  A photo_of a  "RED" circle!\n', 'canonicalize'), 'a photo of a red circle');
    assert.equal(cleanText('  A  Red\tCircle. ', 'whitespace'), 'A Red Circle.');
    assert.equal(cleanText('A  Red Circle', 'lower'), 'a red circle');
  });

  test("every mode cleans as open_clip's basic_clean does: ftfy.fix_text, html.unescape twice (reference pairs from ftfy)", () => {
    // test/fixtures/caption-clean/make.py: HTML entities, mojibake, curly quotes, ligatures, full width, clean scripts
    const ref = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'caption-clean', 'reference.json'), 'utf8')) as { pairs: Record<string, string>[] };
    assert.ok(ref.pairs.length >= 60);
    for (const p of ref.pairs) {
      for (const mode of ['whitespace', 'lower', 'canonicalize'] as const) assert.equal(cleanText(p.input!, mode), p[mode], `${mode}: ${JSON.stringify(p.input)}`);
    }
  });

  test('the OpenCLIP layout tokenizes repaired captions; the HF layout keeps its tokenizer.json normalisation', () => {
    const pairs = [['a red circle &amp; a blue star', 'a red circle & a blue star'], ['a red caf\u00c3\u00a9 circle', 'a red caf\u00e9 circle']];
    for (const [raw, clean] of pairs) {
      assert.deepEqual(oc.tokenizer.encode(raw!).ids, oc.tokenizer.encode(clean!).ids, raw);
      // transformers' CLIPTokenizerFast does no ftfy or unescape: neither does the HF layout
      assert.notDeepEqual(hf.tokenizer.encode(raw!).ids, hf.tokenizer.encode(clean!).ids, raw);
    }
  });
});

describe('OpenCLIP directories that are wrong are refused before any work', () => {
  function copy(name: string): string {
    const dir = join(tmp, name);
    cpSync(OPENCLIP_DIR, dir, { recursive: true });
    return dir;
  }

  test('a missing visual/model.onnx names the file and shows both layouts', async () => {
    const dir = copy('missing');
    rmSync(join(dir, 'visual', 'model.onnx'));
    await assert.rejects(loadModel(dir, quiet), (err: Error) => {
      assert.match(err.message, /visual\/model\.onnx: missing/);
      assert.match(err.message, /onnx\/vision_model\.onnx +input pixel_values/);
      assert.match(err.message, /visual\/model\.onnx +input image/);
      return true;
    });
  });

  test('a wrong input name names the file, what it has and what was expected, and shows both layouts', async () => {
    const dir = copy('wrong-io');
    cpSync(join(dir, 'visual', 'model.onnx'), join(dir, 'textual', 'model.onnx'));
    await assert.rejects(loadModel(dir, quiet), (err: Error) => {
      assert.match(err.message, /textual\/model\.onnx: unexpected inputs\/outputs: inputs \[image\].*expected input text/);
      assert.match(err.message, /onnx\/text_model\.onnx +input input_ids/);
      assert.match(err.message, /textual\/model\.onnx +input text/);
      return true;
    });
  });

  test('a context length in config.json that the text tower does not take', async () => {
    const dir = copy('ctx');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    cfg.text_cfg.context_length = 64;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    await assert.rejects(loadModel(dir, quiet), /textual\/model\.onnx: input text has a fixed length of 77 tokens but .*config\.json says text_cfg.context_length 64/);
  });
});

test('mmcurate score --model test/fixtures/openclip-test through the CLI scores like the embedded HF-layout encoder', async () => {
  const raw = join(tmp, 'raw');
  mkdirSync(raw, { recursive: true });
  const lines: string[] = [];
  for (let k = 0; k < 8; k++) {
    const c = COLOURS[k % 6];
    const s = SHAPES[k % 4];
    writeFileSync(join(raw, `${k}.png`), await shapeImage(s, c, { size: 100 + 30 * k }));
    // Odd rows are mismatched on purpose, so the filter has something to drop.
    const caption = k % 2 === 0 ? `a ${c} ${s}` : `a ${COLOURS[(k + 3) % 6]} ${SHAPES[(k + 1) % 4]}`;
    lines.push(JSON.stringify({ image: `${k}.png`, caption }));
  }
  writeFileSync(join(raw, 'captions.jsonl'), lines.join('\n') + '\n');
  const captions = join(tmp, 'captions');
  const ing = cli(['ingest', '--kind', 'caption', '--input', `shapes=${join(raw, 'captions.jsonl')}`, '--out', captions]);
  assert.equal(ing.code, 0, ing.stderr);

  const run = (out: string, model: string[]) => {
    const r = cli(['score', '--input', captions, ...model, '--device', 'cpu', '--batch', '3', '--workers', '1', '--min-clip-score', '0.28', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  const ocRun = run(join(tmp, 'scored-openclip'), ['--model', 'test/fixtures/openclip-test']);
  assert.match(ocRun.stderr, /OpenCLIP layout/);
  run(join(tmp, 'scored-hf'), []);

  const scores = async (dir: string): Promise<Map<string, number>> => {
    const m = new Map<string, number>();
    for await (const b of readBatches(openDataset(dir))) for (const r of b.rows) m.set(String(r.id), Number(r.clip_score));
    return m;
  };
  const a = await scores(join(tmp, 'scored-hf'));
  const b = await scores(join(tmp, 'scored-openclip'));
  assert.equal(a.size, 4);
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [id, s] of a) assert.ok(Math.abs(s - b.get(id)!) < 1e-4, `${id}: ${s} vs ${b.get(id)}`);
  const manifest = JSON.parse(readFileSync(join(tmp, 'scored-openclip', 'manifest.json'), 'utf8'));
  assert.equal(manifest.rows, 4);
});
