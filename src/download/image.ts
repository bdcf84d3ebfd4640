/**
 * A downloaded body to the image that is kept, with img2dataset's semantics (its resizer.py): alpha matted
 * onto white; the size checks (--min-image-size on the smaller side, --max-image-area, --max-aspect-ratio)
 * on the original; keep_ratio and center_crop scale the smaller side to --image-size (center_crop then cuts
 * the centre square), keep_ratio_largest and border scale the larger side (border then pads with white to a
 * square, the image centred); --resize-only-if-bigger only ever scales down; "no" keeps the size. The
 * encoded file is re-encoded unless --skip-reencode and it is already in --encode-format and was not resized.
 *
 * Before any pixel is decoded, ingest's checks run on the body: its header (read-header.ts) with the pixel
 * limit (a decompression bomb is refused from its header) and the framing check that catches a file cut
 * short (complete.ts). The one decode then happens in the resize, with truncation as an error; what is kept
 * without a re-encode is decoded by ingest's checkImage.
 *
 * One deliberate difference: EXIF orientation is applied (img2dataset's OpenCV decode ignores it, and its
 * re-encode drops the tag, which leaves phone photos on their side).
 */
import sharp from 'sharp';
import { readImageHeader, type AnyImageHeader } from '../image/read-header.js';
import { incompleteImage } from '../image/complete.js';
import { checkImage, isFailure } from '../ingest/images.js';
import { napiImage } from '../image/napi.js';
import { BufferPool, jpegTurbo, type Turbo } from '../image/turbo.js';
import { imageWorkers } from './image-workers.js';

export const RESIZE_MODES = ['no', 'keep_ratio', 'keep_ratio_largest', 'center_crop', 'border'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];
export const ENCODE_FORMATS = ['jpg', 'png', 'webp'] as const;
export type EncodeFormat = (typeof ENCODE_FORMATS)[number];

export interface ImageOptions {
  /** 0: keep the original size. */
  imageSize: number;
  resizeMode: ResizeMode;
  resizeOnlyIfBigger: boolean;
  minImageSize: number;
  /** Pixels at most (img2dataset's max_image_area); Infinity: none. */
  maxImageArea: number;
  maxAspectRatio: number;
  encodeFormat: EncodeFormat;
  /** jpg/webp: 0-100; png: the zlib compression level 0-9, as in img2dataset. */
  encodeQuality: number;
  skipReencode: boolean;
  /** The decompression-bomb limit (ingest's --max-pixels). */
  maxPixels: number;
}

export type ImageReason = 'not_an_image' | 'image_decode_failed' | 'too_large' | 'too_small' | 'bad_aspect_ratio';

export interface KeptImage {
  bytes: Buffer;
  format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heif' | 'svg';
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
}

/** SVG and PDF are refused: a renderer fetching what a document references is no place for untrusted input. */
const RASTER = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

const FORMAT_OF: Record<EncodeFormat, KeptImage['format']> = { jpg: 'jpeg', png: 'png', webp: 'webp' };

/** Target size for a mode, as albumentations computes it (round half to even, as Python's round). */
export function targetSize(w: number, h: number, o: Pick<ImageOptions, 'imageSize' | 'resizeMode' | 'resizeOnlyIfBigger'>): { width: number; height: number; resized: boolean } {
  const S = o.imageSize;
  if (S <= 0 || o.resizeMode === 'no') return { width: w, height: h, resized: false };
  const small = o.resizeMode === 'keep_ratio' || o.resizeMode === 'center_crop';
  const side = small ? Math.min(w, h) : Math.max(w, h);
  if (o.resizeOnlyIfBigger && side <= S) return { width: w, height: h, resized: false };
  const scale = S / side;
  return { width: Math.max(1, pyRound(w * scale)), height: Math.max(1, pyRound(h * scale)), resized: true };
}

function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (Math.abs(d - 0.5) < 1e-9) return f % 2 === 0 ? f : f + 1;
  return Math.round(x);
}

export async function processImage(body: Buffer, o: ImageOptions, what: string): Promise<KeptImage | { reason: ImageReason; detail: string }> {
  if (body.length === 0) return { reason: 'not_an_image', detail: `${what}: the body is empty` };
  let head: AnyImageHeader;
  try {
    head = await readImageHeader(body);
  } catch {
    return { reason: 'not_an_image', detail: `${what}: ${sniff(body)}` };
  }
  if (!RASTER.has(head.format)) return { reason: 'not_an_image', detail: `${what}: ${head.format}, not a raster image format that is downloaded` };
  const { width: sw, height: sh } = head;
  if (!(sw > 0 && sh > 0)) return { reason: 'image_decode_failed', detail: `${what}: the ${head.format} header gives no size` };
  if (sw * sh > o.maxPixels) return { reason: 'too_large', detail: `${what}: ${sw}x${sh} = ${sw * sh} pixels, over the decompression-bomb limit of ${o.maxPixels} (--max-pixels)` };
  if (head.source === 'probe') {
    const missing = incompleteImage(body, head.format);
    if (missing) return { reason: 'image_decode_failed', detail: `${what}: ${missing}` };
  } else if (head.format === 'jpeg') {
    const missing = incompleteImage(body, 'jpeg');
    if (missing) return { reason: 'image_decode_failed', detail: `${what}: ${missing}` };
  }
  const rotated = head.orientation >= 5;
  const w = rotated ? sh : sw;
  const h = rotated ? sw : sh;
  if (Math.min(w, h) < o.minImageSize) return { reason: 'too_small', detail: `${what}: ${w}x${h}, smaller side under --min-image-size ${o.minImageSize}` };
  if (w * h > o.maxImageArea) return { reason: 'too_large', detail: `${what}: ${w}x${h} = ${w * h} pixels, over --max-image-area ${o.maxImageArea}` };
  if (Math.max(w, h) / Math.min(w, h) > o.maxAspectRatio) return { reason: 'bad_aspect_ratio', detail: `${what}: ${w}x${h}, aspect ratio ${(Math.max(w, h) / Math.min(w, h)).toFixed(2)} over --max-aspect-ratio ${o.maxAspectRatio}` };

  const t = targetSize(w, h, o);
  const sameFormat = FORMAT_OF[o.encodeFormat] === head.format;
  if (o.skipReencode && sameFormat && !t.resized && !head.hasAlpha && head.orientation === 1) {
    const checked = await checkImage(body, o.maxPixels, what, 'decode');
    if (isFailure(checked)) return { reason: checked.reason === 'image_too_large' ? 'too_large' : 'image_decode_failed', detail: checked.detail };
    return { bytes: body, format: head.format as KeptImage['format'], width: w, height: h, originalWidth: w, originalHeight: h };
  }
  const fast = await fastJpeg(body, head, t, o);
  if ('image' in fast) return { ...fast.image, originalWidth: w, originalHeight: h };
  // the body may have moved to an image thread and back: this is the usable one
  body = fast.body;
  try {
    let p = sharp(body, { failOn: 'truncated', limitInputPixels: o.maxPixels, pages: 1, sequentialRead: true }).rotate();
    if (head.hasAlpha) p = p.flatten({ background: '#ffffff' });
    let ow = t.width;
    let oh = t.height;
    if (t.resized) p = p.resize({ width: t.width, height: t.height, fit: 'fill', kernel: t.width < w ? 'linear' : 'lanczos3', fastShrinkOnLoad: true });
    const S = o.imageSize;
    if (t.resized && o.resizeMode === 'center_crop') {
      // extract after resize cuts the resized image (sharp applies the calls in that order)
      p = p.extract({ left: Math.floor((ow - S) / 2), top: Math.floor((oh - S) / 2), width: Math.min(S, ow), height: Math.min(S, oh) });
      ow = Math.min(S, ow);
      oh = Math.min(S, oh);
    } else if (t.resized && o.resizeMode === 'border') {
      const top = Math.floor((S - oh) / 2);
      const left = Math.floor((S - ow) / 2);
      p = p.extend({ top, bottom: S - oh - top, left, right: S - ow - left, background: '#ffffff' });
      ow = S;
      oh = S;
    }
    const turbo = o.encodeFormat === 'jpg' ? await jpegTurbo() : null;
    if (turbo) {
      // libvips decodes and resizes; TurboJPEG encodes in a seventh of libvips' time (its fixed cost per call)
      const raw = await p.raw().toBuffer({ resolveWithObject: true });
      const c = raw.info.channels;
      const bytes = c === 3 || c === 1
        ? await encodeJpeg(turbo, raw.data, raw.info.width, raw.info.height, c, o.encodeQuality)
        : await sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: c } }).jpeg({ quality: o.encodeQuality, optimiseCoding: false }).toBuffer();
      return { bytes, format: 'jpeg', width: raw.info.width, height: raw.info.height, originalWidth: w, originalHeight: h };
    }
    const enc = o.encodeFormat === 'jpg' ? p.jpeg({ quality: o.encodeQuality, optimiseCoding: false }) : o.encodeFormat === 'png' ? p.png({ compressionLevel: o.encodeQuality }) : p.webp({ quality: o.encodeQuality });
    const out = await enc.toBuffer({ resolveWithObject: true });
    return { bytes: out.data, format: FORMAT_OF[o.encodeFormat], width: out.info.width, height: out.info.height, originalWidth: w, originalHeight: h };
  } catch (err) {
    return { reason: 'image_decode_failed', detail: `${what}: ${oneLine((err as Error).message)}` };
  }
}

/**
 * Above this many pixels sharp's shrink-on-load (the JPEG decoded at 1/2, 1/4 or 1/8 scale) beats a full decode.
 */
const FAST_MAX_PIXELS = 1_000_000;

/**
 * From this DCT scale on, libjpeg's scaled decode through sharp (shrink-on-load) costs less than a full TurboJPEG
 * decode plus the box filter, despite libvips' per-call cost. At 1/4 it does not: a 1024x768 photo to 256 costs
 * 8.8-9.3 ms of CPU on the fast path against 10.6-11.0 ms through sharp (sequential, 150 runs each, 3 rounds);
 * with zune-jpeg as the decoder the order was the other way round.
 */
const SHRINK_ON_LOAD_FROM = 8;

/** The largest of 8, 4, 2 that libjpeg can decode the image down by and still cover the target size; else 1. */
export function dctScale(w: number, h: number, t: { width: number; height: number }): number {
  for (const f of [8, 4, 2]) if (Math.floor(w / f) >= t.width && Math.floor(h / f) >= t.height) return f;
  return 1;
}

type Fast = { image: Omit<KeptImage, 'originalWidth' | 'originalHeight'> } | { body: Buffer };

/**
 * The common case, a web JPEG of up to 1 MP scaled down and written as JPEG, without libvips' fixed cost per call
 * (about 1 ms of CPU) and its slower codec. First choice: an image thread (image-workers.ts), where TurboJPEG
 * decodes into WebAssembly memory, the box filter of box.wat scales (area weights: OpenCV's INTER_AREA, which
 * img2dataset uses), the border or crop is laid out and TurboJPEG encodes (4:2:0, as libjpeg's and OpenCV's
 * default). Greyscale JPEGs, a refused decode, or a machine without TurboJPEG or threads: zune-jpeg and
 * fast_image_resize's box filter (@napi-rs/image) here, the canvas cut or painted here, TurboJPEG or sharp encoding.
 * The file's framing was checked already (the decoders fill in a file cut short), as ingest checks it before them.
 * Returns the image, or the body for the libvips path to decide: the same bytes, possibly in another Buffer, since
 * the body moves to an image thread and back.
 */
async function fastJpeg(body: Buffer, head: AnyImageHeader, t: { width: number; height: number; resized: boolean }, o: ImageOptions): Promise<Fast> {
  if (head.source !== 'probe' || head.format !== 'jpeg' || head.cmyk || head.hasAlpha || head.orientation !== 1) return { body };
  if (o.encodeFormat !== 'jpg' || !t.resized || t.width > head.width || t.height > head.height || head.width * head.height > FAST_MAX_PIXELS) return { body };
  if (dctScale(head.width, head.height, t) >= SHRINK_ON_LOAD_FROM) return { body };
  const turbo = await jpegTurbo();
  const pool = turbo && !head.gray ? imageWorkers() : null;
  if (pool) {
    const layout = o.resizeMode === 'border' ? 'border' : o.resizeMode === 'center_crop' ? 'center_crop' : 'fit';
    const ran = await pool.run({ body, width: head.width, height: head.height, tw: t.width, th: t.height, layout, size: o.imageSize, quality: o.encodeQuality });
    body = Buffer.from(ran.body.buffer, ran.body.byteOffset, ran.body.byteLength);
    const r = ran.r;
    if ('bytes' in r) return { image: { bytes: Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength), format: 'jpeg', width: r.width, height: r.height } };
  }
  const m = await napiImage();
  if (!m) return { body };
  let px: Buffer;
  try {
    px = await new m.Transformer(body).fastResize({ width: t.width, height: t.height, filter: m.FastResizeFilter.Box, fit: m.ResizeFit.Fill }).rawPixels();
  } catch {
    return { body };
  }
  const inCh = px.length / (t.width * t.height);
  if (!Number.isInteger(inCh) || inCh < 1 || inCh > 4) return { body };
  const S = o.imageSize;
  // TurboJPEG reads RGBX rows as they are (the 4th byte ignored); sharp takes 3 or 1 channels
  const outCh = inCh === 4 && turbo ? 4 : inCh >= 3 ? 3 : 1;
  // the output canvas and where the scaled image lands on it (border: centred on white; center_crop: the middle)
  let W = t.width, H = t.height, dx = 0, dy = 0, sx = 0, sy = 0, cw = t.width, ch = t.height;
  if (o.resizeMode === 'border') {
    W = H = S;
    dx = Math.floor((S - t.width) / 2);
    dy = Math.floor((S - t.height) / 2);
  } else if (o.resizeMode === 'center_crop') {
    W = cw = Math.min(S, t.width);
    H = ch = Math.min(S, t.height);
    sx = Math.floor((t.width - S) / 2);
    sy = Math.floor((t.height - S) / 2);
    if (sx < 0) sx = 0;
    if (sy < 0) sy = 0;
  }
  const out = POOL.take(W * H * outCh).fill(255, 0, W * H * outCh);
  for (let y = 0; y < ch; y++) {
    let si = ((sy + y) * t.width + sx) * inCh;
    let di = ((dy + y) * W + dx) * outCh;
    if (inCh === outCh) {
      px.copy(out, di, si, si + cw * inCh);
      continue;
    }
    for (let x = 0; x < cw; x++, si += inCh, di += outCh) {
      out[di] = px[si]!;
      if (outCh === 3) {
        out[di + 1] = px[si + 1]!;
        out[di + 2] = px[si + 2]!;
      }
    }
  }
  try {
    const enc = turbo
      ? await encodeJpeg(turbo, out, W, H, outCh as 1 | 3 | 4, o.encodeQuality)
      : await sharp(out, { raw: { width: W, height: H, channels: outCh as 1 | 3 } }).jpeg({ quality: o.encodeQuality, optimiseCoding: false }).toBuffer();
    return { image: { bytes: enc, format: 'jpeg', width: W, height: H } };
  } catch {
    return { body };
  } finally {
    POOL.give(out);
  }
}

const POOL = new BufferPool();

/** Raw pixels (grey, RGB or RGBX rows, tightly packed) to a JPEG of exactly its size, 4:2:0 as libjpeg's default. */
async function encodeJpeg(turbo: Turbo, px: Buffer, width: number, height: number, channels: 1 | 3 | 4, quality: number): Promise<Buffer> {
  const subsampling = channels === 1 ? turbo.SAMP_GRAY : turbo.SAMP_420;
  const dst = POOL.take(turbo.bufferSize({ width, height, subsampling }));
  try {
    const format = channels === 4 ? turbo.FORMAT_RGBX : channels === 3 ? turbo.FORMAT_RGB : turbo.FORMAT_GRAY;
    const enc = await turbo.compress(px.subarray(0, width * height * channels), dst, { format, subsampling, width, height, quality });
    // a copy of its own size: the kept row must not hold (or share) the worst-case buffer
    return Buffer.from(enc);
  } finally {
    POOL.give(dst);
  }
}

/** What the body looks like when it is no image: an HTML page, text, or bytes. */
function sniff(b: Buffer): string {
  const head = b.subarray(0, 256).toString('latin1').trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || head.includes('<head') || head.includes('<body')) return 'an HTML page, not an image';
  if (head.startsWith('<?xml') || head.startsWith('<svg')) return 'XML/SVG, not a raster image';
  if (head.startsWith('{') || head.startsWith('[')) return 'JSON, not an image';
  const printable = [...b.subarray(0, 64)].every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127));
  return printable ? 'text, not an image' : `${b.length} bytes in no image format this build reads`;
}

function oneLine(msg: string): string {
  return [...new Set(msg.split('\n').map((l) => l.trim()).filter(Boolean))].join('; ');
}
