// Preprocessing parity with each layout's Python transform on PIL (transformers' CLIPImageProcessor for the HF
// layout, open_clip's image_transform for the OpenCLIP one; references made by scripts/make_preprocess_reference.py),
// and each kind of bad image.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { crc32, gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { loadModel, type ClipModel } from '../src/score/model.js';
import { parseOpenClipPreprocessConfig, parsePreprocessorConfig, type PreprocessConfig, resizedSize } from '../src/score/preprocess-config.js';
import { preprocessImage } from '../src/score/preprocess.js';
import { dot } from '../src/score/similarity.js';
import { bigJpeg } from './preprocess-big-jpeg.js';

const DIR = new URL('../../test/fixtures/preprocess/', import.meta.url);
const ref = JSON.parse(readFileSync(new URL('reference.json', DIR), 'utf8')) as {
  size: number;
  mean: number[];
  std: number[];
  images: {
    file: string;
    ref: string;
    /** Present where open_clip's order gives other pixels than transformers'. */
    openclip_ref?: string;
    /** Made by the test (preprocess-big-jpeg.ts), not committed: these are the bytes' sha256. */
    generated?: boolean;
    sha256?: string;
    width: number;
    height: number;
    mean: number;
    l2: number;
    first: number[];
  }[];
};
const OPENCLIP_CFG = new URL('../openclip-test/visual/preprocess_cfg.json', DIR).pathname;

/** A fixture's bytes; the large JPEGs are made from their formula and must be the bytes the reference was made from. */
async function bytesOf(e: (typeof ref.images)[number]): Promise<Buffer> {
  if (!e.generated) return readFileSync(new URL(e.file, DIR));
  const m = /^big_(\d+)x(\d+)\.jpg$/.exec(e.file)!;
  const bytes = await bigJpeg(Number(m[1]), Number(m[2]));
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.equal(sha, e.sha256, `${e.file}: sharp made other bytes than the reference's; rerun scripts/make_preprocess_reference.py`);
  return bytes;
}

/** Largest difference in 0-255 levels between two normalised tensors. */
function maxLevelDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let c = 0; c < 3; c++) {
    for (let i = c * N; i < (c + 1) * N; i++) m = Math.max(m, Math.abs(a[i] - b[i]) * ref.std[c] * 255);
  }
  return m;
}
const N = ref.size * ref.size;

/** The reference crop (uint8 PNG) normalised the way transformers does: float32(v / 255), then (x - mean) / std. */
async function referenceTensor(file: string): Promise<Float32Array> {
  const { data, info } = await sharp(new URL(file, DIR).pathname).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  const out = new Float32Array(3 * N);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(ref.mean[c]);
    const std = Math.fround(ref.std[c]);
    for (let i = 0; i < N; i++) out[c * N + i] = Math.fround(Math.fround(Math.fround(data[i * 3 + c] / 255) - mean) / std);
  }
  return out;
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

let model: ClipModel;
before(async () => {
  model = await loadModel(undefined, { device: 'cpu', log: () => {} });
});
after(async () => {
  await model.close();
});

describe('preprocessing matches the PIL reference', () => {
  test('the test normalisation reproduces numpy (full float32 tensor and per-image statistics)', async () => {
    const full = new Float32Array(gunzipSync(readFileSync(new URL('jpeg_rgb.f32.gz', DIR))).buffer.slice(0));
    const mine = await referenceTensor('ref/jpeg_rgb.png');
    assert.ok(meanAbsDiff(full, mine) < 1e-6);
    for (const e of ref.images) {
      const t = await referenceTensor(e.ref);
      let sum = 0;
      let ss = 0;
      for (const v of t) {
        sum += v;
        ss += v * v;
      }
      assert.ok(Math.abs(sum / t.length - e.mean) < 1e-5, `${e.file} mean`);
      assert.ok(Math.abs(Math.sqrt(ss) - e.l2) < 1e-2, `${e.file} l2`);
      e.first.forEach((v, i) => assert.ok(Math.abs(t[i] - v) < 1e-5, `${e.file} value ${i}`));
    }
  });

  // Both layouts, both decoders (the JPEG fast path @napi-rs/image, and sharp for all) against PIL.
  const layouts: [string, () => PreprocessConfig][] = [
    ['HF', () => model.preprocess],
    ['OpenCLIP', () => parseOpenClipPreprocessConfig(JSON.parse(readFileSync(OPENCLIP_CFG, 'utf8')), OPENCLIP_CFG)],
  ];
  for (const [layout, cfgOf] of layouts) {
    for (const [e, decoder] of ref.images.flatMap((x) => [[x, 'auto'], [x, 'sharp']] as const)) {
      test(`${layout} ${e.file} (${decoder}): mean |diff| <= 0.02 and embedding cosine >= 0.999`, async () => {
        const r = await preprocessImage(await bytesOf(e), cfgOf(), { decoder });
        assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.detail}`);
        assert.equal(r.width, e.width);
        assert.equal(r.height, e.height);
        const want = await referenceTensor(layout === 'OpenCLIP' ? (e.openclip_ref ?? e.ref) : e.ref);
        const mad = meanAbsDiff(r.pixels, want);
        assert.ok(mad <= 0.02, `${e.file}: mean absolute difference ${mad}, at most ${maxLevelDiff(r.pixels, want).toFixed(1)} levels`);
        const both = new Float32Array(6 * N);
        both.set(r.pixels, 0);
        both.set(want, 3 * N);
        const emb = await model.embedImages(both, 2);
        const cos = dot(emb.data.subarray(0, emb.dim), emb.data.subarray(emb.dim));
        assert.ok(cos >= 0.999, `${e.file}: embedding cosine ${cos}`);
      });
    }
  }
});

describe('the JPEG fast path (@napi-rs/image) against sharp', () => {
  test('every EXIF orientation, grey and progressive JPEGs: same size, same pixels within 0.02, both paths', async () => {
    const card = new URL('large_800x600.jpg', DIR).pathname;
    const cases: [string, Buffer][] = [];
    for (let o = 1; o <= 8; o++) cases.push([`orientation ${o}`, await sharp(card).resize(600, 400).withMetadata({ orientation: o }).jpeg({ quality: 90 }).toBuffer()]);
    cases.push(['grey', await sharp(card).greyscale().jpeg().toBuffer()]);
    cases.push(['progressive 4:4:4', await sharp(card).jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer()]);
    for (const [name, bytes] of cases) {
      const a = await preprocessImage(bytes, model.preprocess, { decoder: 'auto' });
      const b = await preprocessImage(bytes, model.preprocess, { decoder: 'sharp' });
      assert.ok(a.ok && b.ok, name);
      assert.deepEqual([a.width, a.height], [b.width, b.height], name);
      const mad = meanAbsDiff(a.pixels, b.pixels);
      assert.ok(mad <= 0.02, `${name}: mean absolute difference ${mad}`);
    }
  });
});

describe('preprocessing falls back to sharp', () => {
  test('an arithmetic-coded JPEG, which the fast decoder refuses, comes out as sharp makes it', async () => {
    const bytes = readFileSync(new URL('../jpeg/arithmetic.jpg', DIR));
    const a = await preprocessImage(bytes, model.preprocess, { decoder: 'auto' });
    const b = await preprocessImage(bytes, model.preprocess, { decoder: 'sharp' });
    assert.ok(a.ok && b.ok);
    assert.deepEqual(a.pixels, b.pixels);
  });
});

describe('preprocessor_config.json', () => {
  test('CLIP: shortest edge then crop; the long side is truncated like transformers', () => {
    const cfg = parsePreprocessorConfig({ size: 224, crop_size: 224, do_center_crop: true, resample: 3 }, 'p.json');
    assert.deepEqual(resizedSize(cfg, 333, 97), { width: 768, height: 224 });
    assert.deepEqual(resizedSize(cfg, 97, 333), { width: 224, height: 768 });
    assert.equal(cfg.height, 224);
  });

  test('SigLIP: exact 384 square, mean/std 0.5, no crop', () => {
    const cfg = parsePreprocessorConfig(
      { image_processor_type: 'SiglipImageProcessor', size: { height: 384, width: 384 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], resample: 3 },
      'p.json',
    );
    assert.equal(cfg.crop, null);
    assert.deepEqual(resizedSize(cfg, 640, 480), { width: 384, height: 384 });
    assert.deepEqual([cfg.width, cfg.height, cfg.mean[0], cfg.std[0]], [384, 384, 0.5, 0.5]);
  });

  test('ViT-L/14-336: shortest edge 336, crop 336', async () => {
    const cfg = parsePreprocessorConfig({ size: { shortest_edge: 336 }, crop_size: { height: 336, width: 336 }, do_center_crop: true }, 'p.json');
    const png = await sharp({ create: { width: 500, height: 400, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const r = await preprocessImage(png, cfg);
    assert.ok(r.ok);
    assert.equal(r.pixels.length, 3 * 336 * 336);
  });

  test('unsupported values name the file and the field', () => {
    assert.throws(() => parsePreprocessorConfig({ resample: 4 }, 'm/preprocessor_config.json'), /m\/preprocessor_config.json: "resample" 4 is not supported/);
    assert.throws(() => parsePreprocessorConfig({ size: { shortest_edge: 224 }, do_center_crop: false }, 'p.json'), /fixed size/);
  });
});

describe('bad images are failures with a reason, never exceptions', () => {
  test('zero bytes -> image_empty', async () => {
    const r = await preprocessImage(new Uint8Array(0), model.preprocess);
    assert.deepEqual(r.ok ? null : r.reason, 'image_empty');
  });

  test('garbage -> image_decode_failed', async () => {
    const r = await preprocessImage(new TextEncoder().encode('<html>not an image</html>'), model.preprocess);
    assert.equal(r.ok ? null : r.reason, 'image_decode_failed');
  });

  test('truncated JPEG -> image_decode_failed', async () => {
    const jpeg = readFileSync(new URL('jpeg_rgb.jpg', DIR));
    const r = await preprocessImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), model.preprocess);
    assert.equal(r.ok ? null : r.reason, 'image_decode_failed');
  });

  test('a header claiming 100000 x 100000 pixels -> image_too_large, without decoding', async () => {
    const png = Buffer.from(await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).png().toBuffer());
    png.writeUInt32BE(100000, 16); // IHDR width
    png.writeUInt32BE(100000, 20); // IHDR height
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    const r = await preprocessImage(png, model.preprocess);
    assert.equal(r.ok ? null : r.reason, 'image_too_large');
  });

  test('the pixel limit comes from the config', async () => {
    const cfg = { ...model.preprocess, maxPixels: 1000 };
    const r = await preprocessImage(readFileSync(new URL('tiny_50x40.png', DIR)), cfg);
    assert.equal(r.ok ? null : r.reason, 'image_too_large');
  });

  test('animated WebP: the first frame is used', async () => {
    const frame = (c: string) => sharp({ create: { width: 64, height: 64, channels: 3, background: c } }).raw().toBuffer();
    const frames = Buffer.concat([await frame('#ff0000'), await frame('#0000ff')]);
    const webp = await sharp(frames, { raw: { width: 64, height: 128, channels: 3, pageHeight: 64 } as any })
      .webp({ lossless: true, loop: 0, delay: [100, 100] })
      .toBuffer();
    assert.equal((await sharp(webp).metadata()).pages, 2);
    const r = await preprocessImage(webp, model.preprocess);
    assert.ok(r.ok);
    assert.equal(r.height, 64);
    // Red: R channel high, B channel low after normalisation.
    assert.ok(r.pixels[0] > 1.5 && r.pixels[2 * N] < -1);
  });
});
