/**
 * Decode and downscale of plain JPEGs through @napi-rs/image (zune-jpeg, then fast_image_resize's
 * convolution, which follows Pillow's): the common case of CLIP preprocessing, web photos of a few hundred
 * pixels. Measured on 500x375 JPEGs resized to 298x224 with bicubic, CPU per image on this 2-core VM:
 * @napi-rs/image 2.8-3.1 ms, sharp 5.2-6.1 ms, PIL 4.9 ms. sharp's fixed cost per call (~1 ms) and its
 * slower bundled JPEG decoder made the difference; its output stays the reference for everything else
 * (CMYK, alpha, other formats, enlargements), and for anything this path cannot take it returns undefined.
 * Pixels match PIL to a mean of 0.28 levels out of 255 (sharp: 0.18); test/score-preprocess.test.ts holds
 * both paths to the same PIL reference.
 */
import type { ImageHeader } from '../image/header.js';
import { incompleteImage } from '../image/complete.js';
import { napiImage } from '../image/napi.js';
import type { Resample } from './preprocess-config.js';

/**
 * Above this many source pixels sharp is faster (preprocessing per CPU second against PIL: 1600x1200
 * JPEGs 3.18x through sharp, 1.31x through this path; 1024x768 about 2x either way; 500x375 1.12x vs 1.87x).
 */
const FAST_MAX_PIXELS = 1_000_000;

export interface FastRaw {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/**
 * `size` is the resize target (of the stored image: no EXIF orientation). Undefined: not a case for this path (or the decoder
 * refused the bytes), and the caller takes sharp's, which also reports broken images the way the rest of
 * the pipeline does.
 */
export async function decodeJpegFast(bytes: Uint8Array, header: ImageHeader, size: { width: number; height: number }, resample: Resample): Promise<FastRaw | undefined> {
  if (header.format !== 'jpeg' || header.cmyk || header.hasAlpha || header.width * header.height > FAST_MAX_PIXELS) return undefined;
  if (resample !== 'cubic' && resample !== 'linear') return undefined;
  if (size.width > header.width || size.height > header.height) return undefined; // enlargements: resample.ts
  // zune-jpeg fills in what a truncated file lacks; libvips refuses it, and the record is rejected there
  if (incompleteImage(bytes, 'jpeg')) return undefined;
  const m = await napiImage();
  if (!m) return undefined;
  try {
    // No EXIF rotation: PIL's Image.open applies none (preprocess.ts).
    const t = new m.Transformer(bytes);
    const filter = resample === 'cubic' ? m.FastResizeFilter.CatmullRom : m.FastResizeFilter.Bilinear;
    const data = await t.fastResize({ width: size.width, height: size.height, filter, fit: m.ResizeFit.Fill }).rawPixels();
    const channels = data.length / (size.width * size.height);
    if (!Number.isInteger(channels) || channels < 1) return undefined;
    return { data, width: size.width, height: size.height, channels };
  } catch {
    return undefined;
  }
}
