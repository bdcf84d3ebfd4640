/**
 * Decodes local and embedded images once at ingest, so a truncated or corrupt file is rejected here and never
 * found later in a shard. JPEGs up to 1 MP are decoded by @napi-rs/image after a structural check that the
 * file reaches its end marker (that decoder fills in what a cut file lacks); everything else, and anything it
 * refuses, by sharp with truncation as an error: small images whole, large ones with a shrink-on-load decode
 * to a thumbnail, which reads every byte at a fraction of a full decode's cost.
 */
import sharp from 'sharp';
import { readImageHeader, type AnyImageHeader } from '../image/read-header.js';
import { incompleteImage } from '../image/complete.js';
import { napiImage } from '../image/napi.js';
import { readLocalFile, type LocalFileFailure, type LocalFileRules } from './local-files.js';

/** PIL's decompression-bomb threshold (Image.MAX_IMAGE_PIXELS); override with --max-pixels. */
export const DEFAULT_MAX_PIXELS = 89_478_485;

export interface DecodedImage {
  bytes: Uint8Array;
  format: string;
  width: number;
  height: number;
}

/**
 * Up to this many pixels an image is decoded whole; above it, to a thumbnail. Measured with sharp on JPEG
 * photos: 256x256 2.3 ms whole vs 2.7 ms thumbnail; 512x384 3.9 vs 3.4 ms; 1024x768 10.0 vs 6.4 ms.
 */
const RAW_DECODE_PIXELS = 160_000;

export type ImageFailure = { reason: 'image_empty' | 'image_decode_failed' | 'image_too_large'; detail: string } | LocalFileFailure;

const FORMAT_NAMES: Record<string, string> = { jpeg: 'jpeg', jpg: 'jpeg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tiff', avif: 'avif', heif: 'heif', svg: 'svg' };

/**
 * How an image is checked before it is kept: `decode` (default) decodes it with sharp; `header` only reads
 * its header and checks that its framing reaches the end marker (src/image/complete.ts), for images decoded
 * upstream already (img2dataset re-encodes every image it writes). Formats the probe does not read are
 * decoded either way.
 */
export type ImageCheckMode = 'decode' | 'header';
export const IMAGE_CHECK_MODES: readonly ImageCheckMode[] = ['decode', 'header'];

export async function checkImage(bytes: Uint8Array, maxPixels: number, what: string, mode: ImageCheckMode = 'decode'): Promise<DecodedImage | ImageFailure> {
  if (bytes.byteLength === 0) return { reason: 'image_empty', detail: `${what} has zero bytes` };
  let head: AnyImageHeader;
  try {
    head = await readImageHeader(bytes);
  } catch (err) {
    return { reason: 'image_decode_failed', detail: `${what}: ${oneLine((err as Error).message)}` };
  }
  const { width: w, height: h } = head;
  if (w * h > maxPixels) return { reason: 'image_too_large', detail: `${what} is ${w}x${h} = ${w * h} pixels, over the limit of ${maxPixels} (--max-pixels)` };
  // A file whose framing stops short of its end marker (JPEG EOI, PNG IEND, the WebP RIFF size, the GIF
  // trailer) was cut: rejected in both modes, so header mode never keeps what decode mode would not. Decoders
  // are lenient here (libvips reads a PNG without IEND, zune-jpeg fills in a cut JPEG).
  if (head.source === 'probe') {
    const missing = incompleteImage(bytes, head.format);
    if (missing) return { reason: 'image_decode_failed', detail: `${what}: ${missing}` };
    // header mode needs the probe's reading of the format; what only libvips can read is decoded
    if (mode === 'header') return decoded(bytes, head);
  }
  if (head.format === 'jpeg' && w * h <= NAPI_JPEG_PIXELS) {
    // the decoder below fills in a JPEG cut short: its end marker must have been checked (above, or here when
    // only libvips could read the header)
    const missing = head.source === 'probe' ? undefined : incompleteImage(bytes, 'jpeg');
    if (missing) return { reason: 'image_decode_failed', detail: `${what}: ${missing}` };
    if (await decodesWithNapi(bytes)) return decoded(bytes, head);
    // refused (or no native module): sharp decides, and names the problem
  }
  try {
    const p = sharp(bytes, { failOn: 'truncated', limitInputPixels: maxPixels, sequentialRead: true });
    // a resize costs more than it saves on small images; on large ones shrink-on-load skips most of the work
    await (w * h <= RAW_DECODE_PIXELS ? p : p.resize({ width: 32, height: 32, fit: 'inside', fastShrinkOnLoad: true })).raw().toBuffer();
  } catch (err) {
    return { reason: 'image_decode_failed', detail: `${what}: ${oneLine((err as Error).message)}` };
  }
  return decoded(bytes, head);
}

function decoded(bytes: Uint8Array, head: { format: string; width: number; height: number; orientation: number }): DecodedImage {
  const rotated = head.orientation >= 5;
  return {
    bytes,
    format: FORMAT_NAMES[head.format] ?? String(head.format),
    width: rotated ? head.height : head.width,
    height: rotated ? head.width : head.height,
  };
}

/**
 * JPEGs up to this many pixels are decoded by @napi-rs/image: 256x256 JPEGs 1.1-1.3 ms CPU each against
 * sharp's 2.4-2.9 ms (16 in flight, 2 cores). Larger ones take sharp's shrink-on-load, which skips most of
 * the decode.
 */
const NAPI_JPEG_PIXELS = 1_000_000;

async function decodesWithNapi(bytes: Uint8Array): Promise<boolean> {
  const m = await napiImage();
  if (!m) return false;
  try {
    await new m.Transformer(bytes).rawPixels();
    return true;
  } catch {
    return false;
  }
}

/** Reads a local image file under the path rules of local-files.ts, then checks it as any image. */
export async function loadLocalImage(baseDir: string, rel: string, rules: LocalFileRules, maxPixels: number, mode: ImageCheckMode = 'decode'): Promise<DecodedImage | ImageFailure> {
  const bytes = await readLocalFile(baseDir, rel, rules);
  if ('reason' in bytes) return bytes;
  return checkImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), maxPixels, rel, mode);
}

/** libvips repeats itself across lines; one line of each is enough for a reject. */
function oneLine(msg: string): string {
  return [...new Set(msg.split('\n').map((l) => l.trim()).filter(Boolean))].join('; ');
}

export function isFailure(x: DecodedImage | ImageFailure): x is ImageFailure {
  return 'reason' in x;
}
