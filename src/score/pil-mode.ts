/**
 * What Pillow's `Image.open` makes of an image, as far as preprocessing cares: the mode decides how PIL resizes it
 * (open_clip resizes before converting to RGB) and what `convert("RGB")` does. Read from the first bytes (PNG IHDR,
 * the GIF headers up to the first frame); Pillow 9.4's plugins are the model.
 *
 *   'rgb'     RGB or L (also RGB/L with a tRNS colour, and 16-bit RGB: PIL keeps the high byte, as libvips)
 *   'alpha'   RGBA or LA: resized premultiplied
 *   'palette' P or 1: always resized with NEAREST; convert("RGB") gives even a transparent entry its palette colour
 *   'cmyk'    CMYK JPEG
 *   'int'     mode I, a 16-bit grey PNG: resized in 32-bit integers; convert("RGB") clips values above 255
 */
import type { AnyImageHeader } from '../image/read-header.js';
import { skipSubBlocks } from '../image/header.js';

export type PilMode = 'rgb' | 'alpha' | 'palette' | 'cmyk' | 'int';

export interface PilImage {
  mode: PilMode;
  /**
   * A GIF's first frame with a transparent index: the colour PIL's convert("RGB") gives those pixels (and the
   * screen outside the frame). libvips gives them alpha 0 and no colour of their own.
   */
  transparentColour?: [number, number, number];
}

/**
 * @example
 * pilImage(bytes, await readImageHeader(bytes)) // { mode: 'palette', transparentColour: [12, 200, 40] } for a GIF
 */
export function pilImage(bytes: Uint8Array, header: AnyImageHeader): PilImage {
  if (header.cmyk) return { mode: 'cmyk' };
  if (header.format === 'png' && bytes.length >= 26) {
    const depth = bytes[24]!;
    const colourType = bytes[25]!;
    if (colourType === 3 || (colourType === 0 && depth === 1)) return { mode: 'palette' };
    if (colourType === 0 && depth === 16) return { mode: 'int' };
    if (colourType === 4 || colourType === 6) return { mode: 'alpha' };
    return { mode: 'rgb' };
  }
  if (header.format === 'gif') return gifFirstFrame(bytes) ?? { mode: header.hasAlpha ? 'alpha' : 'rgb' };
  return { mode: header.hasAlpha ? 'alpha' : 'rgb' };
}

/** Pillow's GIF plugin: mode L when the frame's palette is the identity grey ramp (or missing), else P. */
function gifFirstFrame(b: Uint8Array): PilImage | undefined {
  if (b.length < 13) return undefined;
  const flags = b[10]!;
  let pos = 13;
  let palette: Uint8Array | undefined;
  if (flags & 0x80) {
    const n = 3 << ((flags & 7) + 1);
    palette = b.subarray(pos, pos + n);
    pos += n;
  }
  let transparent: number | undefined;
  while (pos < b.length) {
    const block = b[pos]!;
    if (block === 0x21) {
      // graphic control extension: packed flags, delay, transparent index
      if (b[pos + 1] === 0xf9 && b[pos + 2] === 4 && pos + 6 < b.length) transparent = b[pos + 3]! & 1 ? b[pos + 6]! : undefined;
      pos = skipSubBlocks(b, pos + 2);
      if (pos < 0) return undefined;
    } else if (block === 0x2c) {
      if (pos + 10 > b.length) return undefined;
      const p = b[pos + 9]!;
      if (p & 0x80) palette = b.subarray(pos + 10, pos + 10 + (3 << ((p & 7) + 1)));
      const grey = !palette || !paletteNeeded(palette);
      if (transparent === undefined) return { mode: grey ? 'rgb' : 'palette' };
      const t = transparent;
      const colour: [number, number, number] = grey ? [t, t, t] : [palette![3 * t] ?? 0, palette![3 * t + 1] ?? 0, palette![3 * t + 2] ?? 0];
      return { mode: grey ? 'rgb' : 'palette', transparentColour: colour };
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** Pillow's `_is_palette_needed`: false when entry i is (i, i, i) for every entry. */
function paletteNeeded(p: Uint8Array): boolean {
  for (let i = 0; i + 2 < p.length; i += 3) if (!(i / 3 === p[i] && p[i] === p[i + 1] && p[i + 1] === p[i + 2])) return true;
  return false;
}

