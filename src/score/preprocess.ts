/**
 * CLIP/SigLIP image preprocessing with sharp, equal to each model layout's own Python transform run on
 * `PIL.Image.open(file)`, which applies no EXIF orientation (neither transformers' CLIPImageProcessor nor
 * open_clip's transform does either). The two layouts differ in the order of operations:
 *
 *   HF (CLIPImageProcessor): convert("RGB") -> resize (configured PIL filter) -> centre crop (floor)
 *   OpenCLIP (open_clip's image_transform): resize in the image's own PIL mode -> centre crop (half to even) ->
 *     convert("RGB"); a palette or 1-bit image is then resized with NEAREST, RGBA/LA premultiplied, CMYK before
 *     its conversion, a 16-bit grey PNG (mode I) in 32-bit integers (pil-mode.ts says which mode an image has)
 *
 * then rescale, normalise, CHW float32. convert("RGB") drops alpha without compositing, gives a transparent
 * palette entry its palette colour, converts CMYK with Pillow's formula and clips 16-bit grey to 255.
 *
 * NOTE: sharp premultiplies alpha around a resize in its own way, and libvips converts CMYK through an ICC profile
 * where PIL uses its naive formula. Those cases therefore decode to raw pixels first and resize in JS (resample.ts,
 * bit-exact) or from raw RGB. The common case (opaque RGB or grey) is one sharp pipeline, except plain JPEG
 * downscales up to 1 MP, which jpeg-fast.ts takes at about half sharp's cost.
 */
import sharp, { type CreateRaw, type ResizeOptions, type Sharp } from 'sharp';
import { orientedSize, type ImageHeader } from '../image/header.js';
import { readImageHeader, type AnyImageHeader } from '../image/read-header.js';
import { pilImage, type PilImage } from './pil-mode.js';
import { cropOffset, type PreprocessConfig, resizedSize } from './preprocess-config.js';
import { pilResize, pilResizeInt } from './resample.js';
import { decodeJpegFast } from './jpeg-fast.js';

export type ImageFailure = 'image_decode_failed' | 'image_too_large' | 'image_empty';

export type PreprocessResult =
  | {
      ok: true;
      /** CHW float32, `3 * cfg.height * cfg.width` values. */
      pixels: Float32Array;
      /** Displayed size (after EXIF orientation, as ingest records it), before any resize. */
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

export interface PreprocessOptions {
  /** 'auto': plain JPEG downscales through @napi-rs/image (jpeg-fast.ts), the rest through sharp; 'sharp': all through sharp. */
  decoder?: 'auto' | 'sharp';
}

/**
 * Decode and preprocess one encoded image. Never throws for bad image bytes: failures come back as
 * `{ok: false, reason}` so the caller can reject the record and go on.
 *
 * @example
 * const r = await preprocessImage(bytes, cfg);
 * if (r.ok) batch.set(r.pixels, i * r.pixels.length);
 */
export async function preprocessImage(bytes: Uint8Array, cfg: PreprocessConfig, opts: PreprocessOptions = {}): Promise<PreprocessResult> {
  if (bytes.byteLength === 0) return { ok: false, reason: 'image_empty', detail: 'zero-byte image' };
  let header: AnyImageHeader;
  try {
    // The probe answers in microseconds what metadata() costs a libvips round trip for; sharp for the rest.
    header = await readImageHeader(bytes);
  } catch (err) {
    return fail(err);
  }
  const shown = orientedSize(header);
  const { width: w, height: h } = header;
  if (!w || !h) return { ok: false, reason: 'image_empty', detail: `image has no pixels (${w}x${h})` };
  if (w * h > cfg.maxPixels) {
    return { ok: false, reason: 'image_too_large', detail: `${w}x${h} = ${w * h} pixels exceeds the limit of ${cfg.maxPixels}` };
  }
  try {
    const pil = pilImage(bytes, header);
    const size = resizedSize(cfg, w, h);
    const fast = opts.decoder !== 'sharp' && pil.mode === 'rgb' && header.format === 'jpeg' ? await decodeJpegFast(bytes, header as ImageHeader, size, cfg.resample) : undefined;
    const raw = fast ?? (await decode(bytes, cfg, header, pil, size));
    return { ok: true, pixels: toTensor(raw, cfg), width: shown.width, height: shown.height, format: header.format };
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

type Size = { width: number; height: number };

/** The resized (not yet cropped) RGB or grey pixels, by the layout's order of operations. */
function decode(bytes: Uint8Array, cfg: PreprocessConfig, header: AnyImageHeader, pil: PilImage, size: Size): Promise<Raw> {
  const resizeFirst = cfg.convertRgb === 'after-crop';
  if (pil.mode === 'cmyk') return decodeCmyk(bytes, cfg, size, resizeFirst);
  if (pil.mode === 'int') return decodeInt(bytes, cfg, size, resizeFirst);
  if (pil.mode === 'alpha' && resizeFirst) return decodePremultiplied(bytes, cfg, size);
  if (pil.mode === 'palette' && resizeFirst) return decodeFlat(bytes, cfg, size, pil, true);
  // Converted first, an RGBA or palette image is an RGB image.
  if (pil.transparentColour || header.hasAlpha) return decodeFlat(bytes, cfg, size, pil, false);
  return decodeRgb(bytes, cfg, header, size);
}

function open(input: Uint8Array | Buffer, cfg: PreprocessConfig, raw?: CreateRaw): Sharp {
  // autoOrient off: PIL's Image.open leaves EXIF orientation alone, and so do both models' transforms.
  return sharp(input, { limitInputPixels: cfg.maxPixels, failOn: 'error', pages: 1, autoOrient: false, ...(raw ? { raw } : {}) });
}

/** Opaque RGB or grey: one sharp pipeline (decode, resize, crop) when it reduces; resample.ts when it enlarges. */
async function decodeRgb(bytes: Uint8Array, cfg: PreprocessConfig, header: AnyImageHeader, size: Size): Promise<Raw> {
  const { width: w, height: h } = header;
  if (size.width > w || size.height > h) return resizeRaw(await rawOf(open(bytes, cfg).toColourspace('srgb')), cfg, size, 'filter');
  let p = open(bytes, cfg).toColourspace('srgb');
  if (size.width !== w || size.height !== h) {
    // A full-frame extract before the resize keeps libjpeg from shrinking on load (DCT scaling), which sharp
    // does for reductions of 4x or more even with fastShrinkOnLoad off; PIL decodes at full size.
    p = p.extract({ left: 0, top: 0, width: w, height: h }).resize(size.width, size.height, resizeOptions(cfg));
  }
  // Cropping in the pipeline spares the resize the columns or rows the crop throws away.
  if (size.width >= cfg.width && size.height >= cfg.height && (size.width > cfg.width || size.height > cfg.height)) {
    p = p.extract({ left: cropOffset(size.width - cfg.width, cfg.cropRounding), top: cropOffset(size.height - cfg.height, cfg.cropRounding), width: cfg.width, height: cfg.height });
  }
  return rawOf(p);
}

/**
 * convert("RGB") first: alpha dropped (the colour stored under transparent pixels is kept), a GIF's transparent
 * index given its palette colour; then the resize, with NEAREST for a palette image in the OpenCLIP order.
 */
async function decodeFlat(bytes: Uint8Array, cfg: PreprocessConfig, size: Size, pil: PilImage, nearest: boolean): Promise<Raw> {
  let flat: Raw;
  if (pil.transparentColour) {
    const rgba = await rawOf(open(bytes, cfg).toColourspace('srgb').ensureAlpha());
    const [r, g, b] = pil.transparentColour;
    const n = rgba.width * rgba.height;
    const out = Buffer.allocUnsafe(n * 3);
    for (let i = 0, s = 0, d = 0; i < n; i++, s += 4, d += 3) {
      const clear = rgba.data[s + 3] === 0;
      out[d] = clear ? r : rgba.data[s]!;
      out[d + 1] = clear ? g : rgba.data[s + 1]!;
      out[d + 2] = clear ? b : rgba.data[s + 2]!;
    }
    flat = { data: out, width: rgba.width, height: rgba.height, channels: 3 };
  } else {
    flat = await rawOf(open(bytes, cfg).toColourspace('srgb').removeAlpha());
  }
  return resizeRaw(flat, cfg, size, nearest ? 'nearest' : 'filter');
}

/**
 * PIL's resize of RGBA / LA: premultiply (MULDIV255), resize all four channels, divide back (integer division,
 * alpha 0 and 255 untouched); convert("RGB") then drops alpha.
 */
async function decodePremultiplied(bytes: Uint8Array, cfg: PreprocessConfig, size: Size): Promise<Raw> {
  const rgba = await rawOf(open(bytes, cfg).toColourspace('srgb').ensureAlpha());
  const n = rgba.width * rgba.height;
  const pre = new Uint8Array(n * 4);
  const src = rgba.data;
  for (let i = 0; i < n * 4; i += 4) {
    const a = src[i + 3]!;
    pre[i] = muldiv255(src[i]!, a);
    pre[i + 1] = muldiv255(src[i + 1]!, a);
    pre[i + 2] = muldiv255(src[i + 2]!, a);
    pre[i + 3] = a;
  }
  const r = pilResize({ data: pre, width: rgba.width, height: rgba.height, channels: 4 }, size.width, size.height, cfg.resample);
  const m = r.width * r.height;
  const out = Buffer.allocUnsafe(m * 3);
  for (let i = 0, s = 0, d = 0; i < m; i++, s += 4, d += 3) {
    const a = r.data[s + 3]!;
    for (let c = 0; c < 3; c++) {
      const v = r.data[s + c]!;
      out[d + c] = a === 255 || a === 0 ? v : Math.min(255, Math.trunc((255 * v) / a));
    }
  }
  return { data: out, width: r.width, height: r.height, channels: 3 };
}

async function decodeCmyk(bytes: Uint8Array, cfg: PreprocessConfig, size: Size, resizeFirst: boolean): Promise<Raw> {
  let cmyk = await rawOf(open(bytes, cfg).pipelineColourspace('cmyk').toColourspace('cmyk'));
  if (cmyk.channels < 4) throw new Error(`CMYK image decoded to ${cmyk.channels} channels`);
  // OpenCLIP: PIL resizes the four CMYK channels like any others, and converts after the crop.
  if (resizeFirst) {
    const four = cmyk.channels === 4 ? cmyk.data : dropExtra(cmyk);
    const r = pilResize({ data: four, width: cmyk.width, height: cmyk.height, channels: 4 }, size.width, size.height, cfg.resample);
    cmyk = { data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), width: r.width, height: r.height, channels: 4 };
  }
  const n = cmyk.width * cmyk.height;
  const rgb = Buffer.allocUnsafe(n * 3);
  const src = cmyk.data;
  const stride = cmyk.channels;
  // Pillow's cmyk2rgb: (255 - K) - C * (255 - K) / 255, with its rounding.
  for (let i = 0, s = 0, d = 0; i < n; i++, s += stride, d += 3) {
    const nk = 255 - src[s + 3]!;
    rgb[d] = nk - muldiv255(src[s]!, nk);
    rgb[d + 1] = nk - muldiv255(src[s + 1]!, nk);
    rgb[d + 2] = nk - muldiv255(src[s + 2]!, nk);
  }
  const flat = { data: rgb, width: cmyk.width, height: cmyk.height, channels: 3 };
  return resizeFirst ? flat : resizeRaw(flat, cfg, size, 'filter');
}

function dropExtra(r: Raw): Uint8Array {
  const n = r.width * r.height;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) for (let c = 0; c < 4; c++) out[i * 4 + c] = r.data[i * r.channels + c]!;
  return out;
}

/**
 * A 16-bit grey PNG, which PIL opens as mode I (32-bit integers, the 16-bit values unscaled). convert("RGB") clips
 * at 255 rather than scaling, so anything brighter than 255/65535 turns white: that is what both models' Python
 * transforms feed the network, so it is what is scored. HF clips first and resizes 8 bits; OpenCLIP resizes the
 * integers first.
 */
async function decodeInt(bytes: Uint8Array, cfg: PreprocessConfig, size: Size, resizeFirst: boolean): Promise<Raw> {
  const { data, info } = await open(bytes, cfg).extractChannel(0).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  const values = new Uint16Array(data.buffer, data.byteOffset, info.width * info.height);
  const clip = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : v);
  if (resizeFirst) {
    const r = pilResizeInt({ data: Int32Array.from(values), width: info.width, height: info.height }, size.width, size.height, cfg.resample);
    const out = Buffer.allocUnsafe(r.width * r.height);
    for (let i = 0; i < out.length; i++) out[i] = clip(r.data[i]!);
    return { data: out, width: r.width, height: r.height, channels: 1 };
  }
  const out = Buffer.allocUnsafe(values.length);
  for (let i = 0; i < out.length; i++) out[i] = clip(values[i]!);
  return resizeRaw({ data: out, width: info.width, height: info.height, channels: 1 }, cfg, size, 'filter');
}

function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * Raw pixels resized as PIL would: reductions with the configured filter in libvips (within a fraction of a
 * level of PIL), enlargements and NEAREST in resample.ts (bit-exact).
 */
function resizeRaw(flat: Raw, cfg: PreprocessConfig, size: Size, how: 'filter' | 'nearest'): Promise<Raw> | Raw {
  if (size.width === flat.width && size.height === flat.height) return flat;
  if (how === 'nearest' || size.width > flat.width || size.height > flat.height) {
    const r = pilResize(flat, size.width, size.height, how === 'nearest' ? 'nearest' : cfg.resample);
    return { data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), width: r.width, height: r.height, channels: r.channels };
  }
  const p = open(flat.data, cfg, { width: flat.width, height: flat.height, channels: flat.channels as 1 | 3 });
  return rawOf(p.resize(size.width, size.height, resizeOptions(cfg)));
}

function resizeOptions(cfg: PreprocessConfig): ResizeOptions {
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
