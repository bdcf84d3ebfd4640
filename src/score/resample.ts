/**
 * Pillow's `Image.resize` for 8-bit images, bit for bit: the same filters, support scaling, coefficient
 * rounding to 22-bit fixed point, horizontal pass then vertical pass with rounding to uint8 in between.
 *
 * NOTE: libvips (sharp) enlarges with an interpolator on a different pixel grid, so its upscales differ from
 * PIL's by several grey levels; its reductions agree to well under one level. `preprocess.ts` therefore uses
 * this for any resize that enlarges an axis and sharp for pure reductions, where speed matters most.
 */
import type { Resample } from './preprocess-config.js';

interface Filter {
  support: number;
  fn(x: number): number;
}

const FILTERS: Record<Exclude<Resample, 'nearest'>, Filter> = {
  linear: { support: 1, fn: (x) => (x < 0 ? -x : x) < 1 ? 1 - (x < 0 ? -x : x) : 0 },
  cubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos3: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

const PRECISION_BITS = 32 - 8 - 2;

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output position
  k: Int32Array; // fixed-point weights, ksize per output position (8-bit images)
  w: Float64Array; // the normalised weights before that (32-bit images)
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc. */
function coefficients(inSize: number, outSize: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const k = new Int32Array(outSize * ksize);
  const norm = new Float64Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = filter.fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      norm[xx * ksize + x] = v;
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, k, w: norm };
}

function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** Resize interleaved 8-bit pixels exactly as Pillow does for an image of the same mode. */
export function pilResize(src: Pixels, width: number, height: number, resample: Resample): Pixels {
  if (width === src.width && height === src.height) return src;
  if (resample === 'nearest') return nearest(src, width, height);
  const filter = FILTERS[resample];
  const ch = src.channels;
  const horiz = coefficients(src.width, width, filter);
  const vert = coefficients(src.height, height, filter);
  let cur = src;
  if (width !== src.width) {
    // Only the source rows the vertical pass will read.
    const first = vert.bounds[0];
    const last = vert.bounds[(height - 1) * 2] + vert.bounds[(height - 1) * 2 + 1];
    const rows = height !== src.height ? last - first : src.height;
    const y0 = height !== src.height ? first : 0;
    if (height !== src.height) for (let i = 0; i < height; i++) vert.bounds[i * 2] -= first;
    const out = new Uint8Array(width * rows * ch);
    const { ksize, bounds, k } = horiz;
    const half = 1 << (PRECISION_BITS - 1);
    for (let y = 0; y < rows; y++) {
      const rowIn = (y + y0) * src.width * ch;
      const rowOut = y * width * ch;
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2];
        const n = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        if (ch === 4) {
          // RGBA (open_clip's premultiplied resize): one pass over the taps for the four channels
          let s0 = half;
          let s1 = half;
          let s2 = half;
          let s3 = half;
          let p = rowIn + xmin * 4;
          for (let x = 0; x < n; x++, p += 4) {
            const kx = k[kb + x];
            s0 += src.data[p] * kx;
            s1 += src.data[p + 1] * kx;
            s2 += src.data[p + 2] * kx;
            s3 += src.data[p + 3] * kx;
          }
          const o = rowOut + xx * 4;
          out[o] = clip8(s0);
          out[o + 1] = clip8(s1);
          out[o + 2] = clip8(s2);
          out[o + 3] = clip8(s3);
          continue;
        }
        for (let c = 0; c < ch; c++) {
          let s = half;
          let p = rowIn + xmin * ch + c;
          for (let x = 0; x < n; x++, p += ch) s += src.data[p] * k[kb + x];
          out[rowOut + xx * ch + c] = clip8(s);
        }
      }
    }
    cur = { data: out, width, height: rows, channels: ch };
  }
  if (height !== src.height) {
    const out = new Uint8Array(width * height * ch);
    const { ksize, bounds, k } = vert;
    const half = 1 << (PRECISION_BITS - 1);
    const stride = width * ch;
    for (let yy = 0; yy < height; yy++) {
      const ymin = bounds[yy * 2];
      const n = bounds[yy * 2 + 1];
      const kb = yy * ksize;
      const rowOut = yy * stride;
      for (let i = 0; i < stride; i++) {
        let s = half;
        let p = ymin * stride + i;
        for (let y = 0; y < n; y++, p += stride) s += cur.data[p] * k[kb + y];
        out[rowOut + i] = clip8(s);
      }
    }
    cur = { data: out, width, height, channels: ch };
  }
  return cur;
}

/**
 * Pillow's NEAREST resize (ImagingScaleAffine): the source position starts at half a step and grows by the step
 * in doubles, truncated, exactly as Pillow accumulates it.
 */
function nearest(src: Pixels, width: number, height: number): Pixels {
  const ch = src.channels;
  const out = new Uint8Array(width * height * ch);
  const xin = positions(src.width, width);
  const yin = positions(src.height, height);
  for (let y = 0; y < height; y++) {
    const row = yin[y]! * src.width;
    for (let x = 0; x < width; x++) {
      const s = (row + xin[x]!) * ch;
      const d = (y * width + x) * ch;
      for (let c = 0; c < ch; c++) out[d + c] = src.data[s + c]!;
    }
  }
  return { data: out, width, height, channels: ch };
}

function positions(inSize: number, outSize: number): Int32Array {
  const step = inSize / outSize;
  const pos = new Int32Array(outSize);
  let v = step * 0.5;
  for (let i = 0; i < outSize; i++, v += step) pos[i] = Math.min(inSize - 1, Math.trunc(v));
  return pos;
}

/** One channel of 32-bit integers, as Pillow keeps mode "I" (a 16-bit grey PNG). */
export interface IntPixels {
  data: Int32Array;
  width: number;
  height: number;
}

/**
 * Pillow's resize of a mode "I" image: the same filter weights in doubles (no fixed point), each pass rounded half
 * away from zero to an integer, no clipping (convert("RGB") clips afterwards).
 */
export function pilResizeInt(src: IntPixels, width: number, height: number, resample: Resample): IntPixels {
  if (width === src.width && height === src.height) return src;
  if (resample === 'nearest') {
    const xin = positions(src.width, width);
    const yin = positions(src.height, height);
    const data = new Int32Array(width * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = src.data[yin[y]! * src.width + xin[x]!]!;
    return { data, width, height };
  }
  const filter = FILTERS[resample];
  let cur = src;
  if (width !== src.width) {
    const { ksize, bounds, w } = coefficients(src.width, width, filter);
    const data = new Int32Array(width * cur.height);
    for (let y = 0; y < cur.height; y++) {
      const row = y * src.width;
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2]!;
        const n = bounds[xx * 2 + 1]!;
        let ss = 0;
        for (let x = 0; x < n; x++) ss += cur.data[row + xmin + x]! * w[xx * ksize + x]!;
        data[y * width + xx] = roundUp(ss);
      }
    }
    cur = { data, width, height: cur.height };
  }
  if (height !== src.height) {
    const { ksize, bounds, w } = coefficients(src.height, height, filter);
    const data = new Int32Array(width * height);
    for (let yy = 0; yy < height; yy++) {
      const ymin = bounds[yy * 2]!;
      const n = bounds[yy * 2 + 1]!;
      for (let xx = 0; xx < width; xx++) {
        let ss = 0;
        for (let y = 0; y < n; y++) ss += cur.data[(ymin + y) * width + xx]! * w[yy * ksize + y]!;
        data[yy * width + xx] = roundUp(ss);
      }
    }
    cur = { data, width, height };
  }
  return cur;
}

/** Pillow's ROUND_UP: half away from zero. */
function roundUp(f: number): number {
  return f >= 0 ? Math.floor(f + 0.5) : -Math.floor(Math.abs(f) + 0.5);
}
