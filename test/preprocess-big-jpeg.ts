// Large JPEGs made from a formula, so the tests can check preprocessing at camera sizes (where libjpeg could
// shrink on load) without committing megabytes: the same sharp build makes the same bytes, and
// scripts/make_preprocess_reference.py records their sha256 next to PIL's reference crop.
//
//   node dist/test/preprocess-big-jpeg.js DIR   writes DIR/big_1600x1200.jpg and DIR/big_4000x3000.jpg
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const BIG_SIZES = [
  [1600, 1200],
  [4000, 3000],
] as const;

export function bigJpegName(w: number, h: number): string {
  return `big_${w}x${h}.jpg`;
}

/**
 * Gradients, a fine stripe field, thin diagonal lines and discs: detail at every scale, which is what a DCT-domain
 * shrink blurs differently from a full-size decode plus a bicubic filter. Integer arithmetic only, so every
 * platform makes the same pixels.
 */
export async function bigJpeg(w: number, h: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  const cell = Math.max(8, Math.floor(w / 40));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      let r = Math.floor((x * 255) / w);
      let g = Math.floor((y * 255) / h);
      let b = ((x + y) * 3) & 255;
      // stripes 1-3 px wide in the left third: aliasing and ringing show there first
      if (x < w / 3 && y > h / 4 && y < (3 * h) / 4) {
        const v = (((x >> 1) + (y % 3)) & 1) * 255;
        r = g = v;
      }
      // thin dark diagonals
      if ((x + 2 * y) % 97 < 2) r = g = b = 20;
      // discs on a grid
      const cx = (Math.floor(x / cell) * cell) + (cell >> 1);
      const cy = (Math.floor(y / cell) * cell) + (cell >> 1);
      const dx = x - cx;
      const dy = y - cy;
      if (x > (2 * w) / 3 && dx * dx + dy * dy < (cell * cell) / 9) {
        r = 230;
        g = 40 + ((Math.floor(x / cell) * 37) & 127);
        b = 60;
      }
      px[o] = r;
      px[o + 1] = g;
      px[o + 2] = b;
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

// Run by hand with a folder; `node --test dist/test/` also runs this file, without one: nothing to do then.
const dir = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url) && dir && !dir.startsWith('-')) {
  for (const [w, h] of BIG_SIZES) writeFileSync(join(dir, bigJpegName(w, h)), await bigJpeg(w, h));
}
