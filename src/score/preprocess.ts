/**
 * CLIP/SigLIP image preprocessing with sharp, equal to transformers' image processors run on a PIL image:
 * EXIF orientation applied, `convert("RGB")` (alpha dropped, not composited: that is what PIL does), resize
 * with the configured PIL filter, centre crop (zero padding when too small), rescale, normalise, CHW float32.
 *
 * NOTE: sharp premultiplies alpha around a resize, PIL does not; and libvips converts CMYK through an ICC
 * profile where PIL uses its naive formula. Both cases therefore decode to raw RGB first (in JS for CMYK) and
 * resize from that, so the pixels match PIL's. The common case (opaque RGB or grey) is one sharp pipeline.
 */
import sharp, { type CreateRaw, type Metadata, type ResizeOptions, type Sharp } from 'sharp';
import { type PreprocessConfig, resizedSize } from './preprocess-config.js';
import { pilResize } from './resample.js';

export type ImageFailure = 'image_decode_failed' | 'image_too_large' | 'image_empty';

export type PreprocessResult =
  | {
      ok: true;
      /** CHW float32, `3 * cfg.height * cfg.width` values. */
      pixels: Float32Array;
      /** Size after EXIF orientation, before any resize. */
      width: number;
      height: number;
      format: string;
    }
  | { ok: false; reason: ImageFailure; detail: string };

interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/**
 * Decode and preprocess one encoded image. Never throws for bad image bytes: failures come back as
 * `{ok: false, reason}` so the caller can reject the record and go on.
 *
 * @example
 * const r = await preprocessImage(bytes, cfg);
 * if (r.ok) batch.set(r.pixels, i * r.pixels.length);
 */
export async function preprocessImage(bytes: Uint8Array, cfg: PreprocessConfig): Promise<PreprocessResult> {
  if (bytes.byteLength === 0) return { ok: false, reason: 'image_empty', detail: 'zero-byte image' };
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (err) {
    return fail(err);
  }
  const w = meta.autoOrient?.width ?? meta.width;
  const h = meta.autoOrient?.height ?? meta.pageHeight ?? meta.height;
  if (!w || !h) return { ok: false, reason: 'image_empty', detail: `image has no pixels (${w}x${h})` };
  if (w * h > cfg.maxPixels) {
    return { ok: false, reason: 'image_too_large', detail: `${w}x${h} = ${w * h} pixels exceeds the limit of ${cfg.maxPixels}` };
  }
  try {
    const raw = meta.space === 'cmyk' ? await decodeCmyk(bytes, cfg) : await decodeRgb(bytes, cfg, meta.hasAlpha === true, w, h);
    return { ok: true, pixels: toTensor(raw, cfg), width: w, height: h, format: meta.format ?? 'unknown' };
  } catch (err) {
    return fail(err);
  }
}

function fail(err: unknown): PreprocessResult {
  const detail = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(detail)) return { ok: false, reason: 'image_too_large', detail };
  if (/empty|zero length/i.test(detail)) return { ok: false, reason: 'image_empty', detail };
  return { ok: false, reason: 'image_decode_failed', detail };
}

function open(input: Uint8Array | Buffer, cfg: PreprocessConfig, raw?: CreateRaw): Sharp {
  return sharp(input, {
    limitInputPixels: cfg.maxPixels,
    failOn: 'error',
    pages: 1,
    autoOrient: raw === undefined,
    ...(raw ? { raw } : {}),
  });
}

async function decodeRgb(bytes: Uint8Array, cfg: PreprocessConfig, hasAlpha: boolean, w: number, h: number): Promise<Raw> {
  const size = resizedSize(cfg, w, h);
  if (!hasAlpha && size.width <= w && size.height <= h) {
    let p = open(bytes, cfg).toColourspace('srgb');
    if (size.width !== w || size.height !== h) p = p.resize(size.width, size.height, resizeOptions(cfg));
    return rawOf(p);
  }
  // PIL's convert("RGB") drops alpha before the resize, keeping whatever colour lies under transparent pixels.
  // Enlargements come here too: they are resized in JS (see resample.ts).
  const flat = await rawOf(open(bytes, cfg).toColourspace('srgb').removeAlpha());
  return resizeRaw(flat, cfg, size);
}

async function decodeCmyk(bytes: Uint8Array, cfg: PreprocessConfig): Promise<Raw> {
  const cmyk = await rawOf(open(bytes, cfg).pipelineColourspace('cmyk').toColourspace('cmyk'));
  if (cmyk.channels < 4) throw new Error(`CMYK image decoded to ${cmyk.channels} channels`);
  const n = cmyk.width * cmyk.height;
  const rgb = Buffer.allocUnsafe(n * 3);
  const src = cmyk.data;
  const stride = cmyk.channels;
  // Pillow's cmyk2rgb: (255 - K) - C * (255 - K) / 255, with its rounding.
  for (let i = 0, s = 0, d = 0; i < n; i++, s += stride, d += 3) {
    const nk = 255 - src[s + 3];
    rgb[d] = nk - muldiv255(src[s], nk);
    rgb[d + 1] = nk - muldiv255(src[s + 1], nk);
    rgb[d + 2] = nk - muldiv255(src[s + 2], nk);
  }
  const flat = { data: rgb, width: cmyk.width, height: cmyk.height, channels: 3 };
  return resizeRaw(flat, cfg, resizedSize(cfg, cmyk.width, cmyk.height));
}

function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

function resizeRaw(flat: Raw, cfg: PreprocessConfig, size: { width: number; height: number }): Promise<Raw> | Raw {
  if (size.width === flat.width && size.height === flat.height) return flat;
  if (size.width > flat.width || size.height > flat.height) {
    const r = pilResize(flat, size.width, size.height, cfg.resample);
    return { data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), width: r.width, height: r.height, channels: r.channels };
  }
  const p = open(flat.data, cfg, { width: flat.width, height: flat.height, channels: 3 });
  return rawOf(p.resize(size.width, size.height, resizeOptions(cfg)));
}

function resizeOptions(cfg: PreprocessConfig): ResizeOptions {
  // fastShrinkOnLoad off: JPEG DCT-domain shrinking would differ from PIL's full-resolution filter.
  return { fit: 'fill', kernel: cfg.resample, fastShrinkOnLoad: false };
}

async function rawOf(p: Sharp): Promise<Raw> {
  const { data, info } = await p.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

const lutCache = new WeakMap<PreprocessConfig, Float32Array>();

/** value -> normalised float for each channel, as transformers computes it (float32 after a float64 rescale). */
function lutFor(cfg: PreprocessConfig): Float32Array {
  let lut = lutCache.get(cfg);
  if (!lut) {
    lut = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++) {
      const mean = Math.fround(cfg.mean[c]);
      const std = Math.fround(cfg.std[c]);
      for (let v = 0; v < 256; v++) lut[c * 256 + v] = (Math.fround(v * cfg.rescale) - mean) / std;
    }
    lutCache.set(cfg, lut);
  }
  return lut;
}

/** Centre crop (transformers' arithmetic: top = (H - h) // 2, zero padding outside) and HWC -> CHW. */
function toTensor(raw: Raw, cfg: PreprocessConfig): Float32Array {
  const { width: W, height: H } = cfg;
  const out = new Float32Array(3 * W * H);
  const lut = lutFor(cfg);
  const plane = W * H;
  const ch = raw.channels;
  const grey = ch < 3;
  const src = raw.data;
  const top = Math.floor((raw.height - H) / 2);
  const left = Math.floor((raw.width - W) / 2);
  // When the image is smaller than the crop, transformers pads it with zeros around its centre.
  const padTop = raw.height < H ? Math.ceil((H - raw.height) / 2) : 0;
  const padLeft = raw.width < W ? Math.ceil((W - raw.width) / 2) : 0;
  const offY = raw.height < H ? -padTop : top;
  const offX = raw.width < W ? -padLeft : left;
  for (let y = 0; y < H; y++) {
    const sy = y + offY;
    const rowOk = sy >= 0 && sy < raw.height;
    for (let x = 0; x < W; x++) {
      const sx = x + offX;
      const o = y * W + x;
      if (!rowOk || sx < 0 || sx >= raw.width) {
        out[o] = lut[0];
        out[plane + o] = lut[256];
        out[2 * plane + o] = lut[512];
        continue;
      }
      const s = (sy * raw.width + sx) * ch;
      const r = src[s];
      out[o] = lut[r];
      out[plane + o] = lut[256 + (grey ? r : src[s + 1])];
      out[2 * plane + o] = lut[512 + (grey ? r : src[s + 2])];
    }
  }
  return out;
}
