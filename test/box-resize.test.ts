/**
 * The box filter in WebAssembly (src/image/box.wat, src/image/box.ts) against a plain floating-point area resample
 * written here, on real JPEG decodes; and the embedded bytes against box.wat assembled again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { BoxJpeg, areaWeights } from '../src/image/box.js';
import { BOX_WASM } from '../src/image/box-wasm.js';
import { jpegTurbo } from '../src/image/turbo.js';

/** Area resample in float64: every output pixel the mean of the source area it covers. */
function areaReference(src: Buffer, sw: number, sh: number, ch: number, dw: number, dh: number): Float64Array {
  const out = new Float64Array(dw * dh * ch);
  const sx = sw / dw;
  const sy = sh / dh;
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        for (let yy = Math.floor(y * sy); yy < Math.min(sh, Math.ceil((y + 1) * sy - 1e-9)); yy++) {
          const wy = Math.min((y + 1) * sy, yy + 1) - Math.max(y * sy, yy);
          for (let xx = Math.floor(x * sx); xx < Math.min(sw, Math.ceil((x + 1) * sx - 1e-9)); xx++) {
            const wx = Math.min((x + 1) * sx, xx + 1) - Math.max(x * sx, xx);
            acc += wx * wy * src[(yy * sw + xx) * ch + c]!;
          }
        }
        out[(y * dw + x) * ch + c] = acc / (sx * sy);
      }
    }
  }
  return out;
}

describe('box resize (WebAssembly SIMD)', async () => {
  const turbo = await jpegTurbo();

  it('the embedded module is box.wat assembled', async () => {
    const { assembleBox } = (await import(new URL('../../scripts/build-wasm.mjs', import.meta.url).href)) as { assembleBox(): Promise<Buffer> };
    assert.equal((await assembleBox()).toString('base64'), BOX_WASM, 'src/image/box-wasm.ts is stale: run node scripts/build-wasm.mjs');
  });

  it('weights: each output sums to 2^14, covering exactly its share of the source', () => {
    for (const [src, dst] of [[640, 256], [480, 192], [300, 200], [1000, 7], [257, 256]]) {
      const w = areaWeights(src!, dst!);
      for (let d = 0; d < dst!; d++) {
        let sum = 0;
        for (let k = 0; k < w.count[d]!; k++) sum += w.w[d * w.max + k]!;
        assert.equal(sum, 1 << 14, `${src}->${dst} output ${d}`);
      }
    }
  });

  it('matches a floating-point area resample within one level, in every layout', { skip: !turbo && 'no TurboJPEG binary' }, async () => {
    const box = new BoxJpeg(turbo!);
    // a photo-like JPEG with detail at every scale
    const [w, h] = [643, 481];
    const px = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      px[i * 3] = (x * 255) / w;
      px[i * 3 + 1] = (y * 255) / h;
      px[i * 3 + 2] = ((x >> 3) + (y >> 3)) % 2 ? 220 : 30;
    }
    const jpeg = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
    const decoded = turbo!.decompressSync(jpeg, { format: turbo!.FORMAT_RGB });
    const [tw, th] = [256, 191];
    const ref = areaReference(decoded.data, w, h, 3, tw, th);
    for (const layout of ['fit', 'border', 'center_crop'] as const) {
      const r = box.run({ body: jpeg, width: w, height: h, tw, th, layout, size: layout === 'center_crop' ? 150 : 256, quality: 100 });
      assert.ok('bytes' in r, JSON.stringify(r));
      const { data, info } = await sharp(Buffer.from(r.bytes)).raw().toBuffer({ resolveWithObject: true });
      const [W, H] = layout === 'fit' ? [tw, th] : layout === 'border' ? [256, 256] : [150, 150];
      assert.deepEqual([info.width, info.height, r.width, r.height], [W, H, W, H]);
      // where the scaled image lies on the output, and which of its pixels is at (0, 0)
      const [ox, oy] = layout === 'border' ? [0, Math.floor((256 - th) / 2)] : [0, 0];
      const [sx, sy] = layout === 'center_crop' ? [Math.floor((tw - 150) / 2), Math.floor((th - 150) / 2)] : [0, 0];
      let sum = 0;
      let n = 0;
      for (let y = 0; y < Math.min(H, th); y++) {
        for (let x = 0; x < Math.min(W, tw); x++) {
          // luma: the output's 4:2:0 chroma blurs the checker's colour edges, which is the encoder, not the resize
          const o = ((y + oy) * W + x + ox) * 3;
          const q = ((y + sy) * tw + x + sx) * 3;
          sum += Math.abs(0.299 * (data[o]! - ref[q]!) + 0.587 * (data[o + 1]! - ref[q + 1]!) + 0.114 * (data[o + 2]! - ref[q + 2]!));
          n++;
        }
      }
      // the quality-100 JPEG of the output is all that separates the two
      assert.ok(sum / n < 1, `${layout}: mean difference ${(sum / n).toFixed(3)}`);
      if (layout === 'border') {
        assert.ok(data[0]! > 250 && data[(255 * 256 + 255) * 3]! > 250, 'the border is white');
      }
    }
  });

  it('a flat colour stays that colour', { skip: !turbo && 'no TurboJPEG binary' }, async () => {
    const jpeg = await sharp({ create: { width: 777, height: 333, channels: 3, background: { r: 200, g: 100, b: 50 } } }).jpeg({ quality: 100 }).toBuffer();
    const r = new BoxJpeg(turbo!).run({ body: jpeg, width: 777, height: 333, tw: 256, th: 110, layout: 'fit', size: 256, quality: 100 });
    assert.ok('bytes' in r);
    const { data } = await sharp(Buffer.from(r.bytes)).raw().toBuffer({ resolveWithObject: true });
    for (let i = 0; i < data.length; i += 3) assert.ok(Math.abs(data[i]! - 200) <= 2 && Math.abs(data[i + 1]! - 100) <= 2 && Math.abs(data[i + 2]! - 50) <= 2);
  });
});
