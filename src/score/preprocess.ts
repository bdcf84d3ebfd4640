/**
 * CLIP/SigLIP image preprocessing with sharp, equal to transformers' image processors run on a PIL image:
 * EXIF orientation applied, `convert("RGB")` (alpha dropped, not composited: that is what PIL does), resize
 * with the configured PIL filter, centre crop (zero padding when too small), rescale, normalise, CHW float32.
 *
 * NOTE: sharp premultiplies alpha around a resize, PIL does not; and libvips converts CMYK through an ICC
 * profile where PIL uses its naive formula. Both cases therefore decode to raw RGB first (in JS for CMYK) and
 * resize from that, so the pixels match PIL's. The common case (opaque RGB or grey) is one sharp pipeline,
 * except plain JPEG downscales, which jpeg-fast.ts takes at about half sharp's cost.
 */
import sharp, { type CreateRaw, type ResizeOptions, type Sharp } from 'sharp';
import { orientedSize, type ImageHeader } from '../image/header.js';
import { readImageHeader, type AnyImageHeader } from '../image/read-header.js';
import { cropOffset, type PreprocessConfig, resizedSize } from './preprocess-config.js';
import { pilResize } from './resample.js';
import { decodeJpegFast } from './jpeg-fast.js';

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
export interface PreprocessOptions {
  /** 'auto': plain JPEG downscales through @napi-rs/image (jpeg-fast.ts), the rest through sharp; 'sharp': all through sharp. */
  decoder?: 'auto' | 'sharp';
}

export async function preprocessImage(bytes: Uint8Array, cfg: PreprocessConfig, opts: PreprocessOptions = {}): Promise<PreprocessResult> {
  if (bytes.byteLength === 0) return { ok: false, reason: 'image_empty', detail: 'zero-byte image' };
  let header: AnyImageHeader;
  try {
    // The probe answers in microseconds what metadata() costs a libvips round trip for; sharp for the rest.
    header = await readImageHeader(bytes);
  } catch (err) {
    return fail(err);
  }
  const { width: w, height: h } = orientedSize(header);
  if (!w || !h) return { ok: false, reason: 'image_empty', detail: `image has no pixels (${w}x${h})` };
  if (w * h > cfg.maxPixels) {
    return { ok: false, reason: 'image_too_large', detail: `${w}x${h} = ${w * h} pixels exceeds the limit of ${cfg.maxPixels}` };
  }
  try {
    const fast = opts.decoder !== 'sharp' && header.format === 'jpeg' ? await decodeJpegFast(bytes, header as ImageHeader, resizedSize(cfg, w, h), cfg.resample) : undefined;
    const raw = fast ?? (header.cmyk ? await decodeCmyk(bytes, cfg) : await decodeRgb(bytes, cfg, header.hasAlpha, w, h));
    return { ok: true, pixels: toTensor(raw, cfg), width: w, height: h, format: header.format };
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
    // Cropping in the pipeline spares the resize the columns or rows the crop throws away.
    if (size.width >= cfg.width && size.height >= cfg.height && (size.width > cfg.width || size.height > cfg.height)) {
      p = p.extract({ left: cropOffset(size.width - cfg.width, cfg.cropRounding), top: cropOffset(size.height - cfg.height, cfg.cropRounding), width: cfg.width, height: cfg.height });
    }
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

/** Centre crop (transformers' arithmetic: top = (H - h) // 2, or torchvision's rounding; zero padding outside) and HWC -> CHW. */
function toTensor(raw: Raw, cfg: PreprocessConfig): Float32Array {
  const { width: W, height: H } = cfg;
  const out = new Float32Array(3 * W * H);
  const lut = lutFor(cfg);
  const plane = W * H;
  const ch = raw.channels;
  const src = raw.data;
  // When the image is smaller than the crop, transformers pads it with zeros around its centre.
  const offY = raw.height < H ? -Math.ceil((H - raw.height) / 2) : cropOffset(raw.height - H, cfg.cropRounding);
  const offX = raw.width < W ? -Math.ceil((W - raw.width) / 2) : cropOffset(raw.width - W, cfg.cropRounding);
  const x0 = Math.max(0, -offX);
  const x1 = Math.min(W, raw.width - offX);
  const padded = x0 > 0 || x1 < W || raw.height < H;
  if (padded) {
    out.fill(lut[0], 0, plane);
    out.fill(lut[256], plane, 2 * plane);
    out.fill(lut[512], 2 * plane, 3 * plane);
  }
  // Grey keeps one channel: the same value indexes all three tables.
  const g = ch >= 3 ? 1 : 0;
  for (let y = 0; y < H; y++) {
    const sy = y + offY;
    if (sy < 0 || sy >= raw.height) continue;
    let s = (sy * raw.width + x0 + offX) * ch;
    let o = y * W + x0;
    const end = y * W + x1;
    for (; o < end; o++, s += ch) {
      out[o] = lut[src[s]];
      out[plane + o] = lut[256 + src[s + g]];
      out[2 * plane + o] = lut[512 + src[s + 2 * g]];
    }
  }
  return out;
}
