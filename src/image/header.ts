/**
 * Reads what a decode needs to plan (size, EXIF orientation, alpha, CMYK) from an image's first bytes, in
 * microseconds, for JPEG, PNG, WebP and GIF. `sharp().metadata()` answers the same but costs a libvips
 * round trip (~0.4 ms, more than the probe by three orders of magnitude); on small images that is a large
 * part of the whole preprocessing time. The answers are those libvips will act on when it decodes (checked
 * against `sharp().metadata()` in test/image-header.test.ts). Anything unusual gives `undefined`, never a
 * guess: the caller then asks sharp.
 */

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif';

export interface ImageHeader {
  format: ImageFormat;
  /** Stored size, before EXIF orientation; for an animation, one frame (GIF: the logical screen). */
  width: number;
  height: number;
  /** EXIF orientation 1-8 (1 when there is none); 5-8 swap width and height once applied. */
  orientation: number;
  /** Decoding gives an alpha channel (PNG colour types 4/6 or tRNS, WebP alpha, GIF transparency). */
  hasAlpha: boolean;
  /** A 4-component (CMYK or YCCK) JPEG. */
  cmyk: boolean;
  /** A 1-component (greyscale) JPEG. */
  gray?: boolean;
}

/**
 * @example
 * const h = probeImage(bytes) ?? (await headerFromSharp(bytes));
 * const [w, h] = h.orientation >= 5 ? [h.height, h.width] : [h.width, h.height];
 */
export function probeImage(bytes: Uint8Array): ImageHeader | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return probeJpeg(bytes, v);
    if (bytes.length >= 8 && v.getUint32(0) === 0x89504e47 && v.getUint32(4) === 0x0d0a1a0a) return probePng(bytes, v);
    if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return probeWebp(bytes, v);
    if (bytes.length >= 6 && (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a')) return probeGif(bytes, v);
  } catch (err) {
    // A length field pointing past the end: a truncated or corrupt header.
    if (err instanceof RangeError) return undefined;
    throw err;
  }
  return undefined;
}

/** Oriented (displayed) size: what EXIF orientation makes of the stored one. */
export function orientedSize(h: Pick<ImageHeader, 'width' | 'height' | 'orientation'>): { width: number; height: number } {
  return h.orientation >= 5 ? { width: h.height, height: h.width } : { width: h.width, height: h.height };
}

function ascii(b: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = at; i < at + n && i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** SOF markers of the DCT processes libjpeg decodes (baseline, extended, progressive; Huffman or arithmetic). */
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc9, 0xca]);
/** Other SOFs (lossless, hierarchical): libjpeg-turbo may refuse them; let sharp say so. */
const JPEG_OTHER_SOF = new Set([0xc3, 0xc5, 0xc6, 0xc7, 0xcb, 0xcd, 0xce, 0xcf]);

function probeJpeg(b: Uint8Array, v: DataView): ImageHeader | undefined {
  let pos = 2;
  let sof: { width: number; height: number; components: number } | undefined;
  let orientation: number | undefined;
  let exifSegments = 0;
  for (;;) {
    // Markers may be preceded by any number of 0xff fill bytes.
    if (pos >= b.length || b[pos] !== 0xff) return undefined;
    while (pos < b.length && b[pos] === 0xff) pos++;
    if (pos >= b.length) return undefined;
    const marker = b[pos++]!;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9) return undefined;
    const len = v.getUint16(pos);
    if (len < 2 || pos + len > b.length) return undefined;
    const body = pos + 2;
    if (marker === 0xda) break;
    if (JPEG_OTHER_SOF.has(marker)) return undefined;
    if (JPEG_SOF.has(marker)) {
      if (sof || len < 8 || b[body] !== 8) return undefined;
      sof = { height: v.getUint16(body + 1), width: v.getUint16(body + 3), components: b[body + 5]! };
    } else if (marker === 0xe1 && len >= 8 && ascii(b, body, 6) === 'Exif\0\0') {
      // Which of several EXIF blocks wins differs between readers; leave that to sharp.
      if (++exifSegments > 1) return undefined;
      orientation = exifOrientation(new DataView(b.buffer, b.byteOffset + body + 6, len - 8));
      if (orientation === undefined) return undefined;
    }
    pos += len;
  }
  if (!sof || sof.width === 0 || sof.height === 0) return undefined;
  if (sof.components !== 1 && sof.components !== 3 && sof.components !== 4) return undefined;
  return { format: 'jpeg', width: sof.width, height: sof.height, orientation: orientation ?? 1, hasAlpha: false, cmyk: sof.components === 4, gray: sof.components === 1 };
}

/**
 * Orientation (tag 0x0112) from a TIFF-structured EXIF block: 1 when IFD0 has none, undefined when the
 * block is malformed or the value is not one of the eight orientations.
 */
export function exifOrientation(t: DataView): number | undefined {
  if (t.byteLength < 8) return undefined;
  const order = t.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return undefined;
  const le = order === 0x4949;
  if (t.getUint16(2, le) !== 42) return undefined;
  const ifd = t.getUint32(4, le);
  if (ifd < 8 || ifd + 2 > t.byteLength) return undefined;
  const n = t.getUint16(ifd, le);
  if (ifd + 2 + 12 * n > t.byteLength) return undefined;
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (t.getUint16(e, le) !== 0x0112) continue;
    if (t.getUint16(e + 2, le) !== 3 || t.getUint32(e + 4, le) !== 1) return undefined;
    const o = t.getUint16(e + 8, le);
    return o >= 1 && o <= 8 ? o : undefined;
  }
  return 1;
}

function probePng(b: Uint8Array, v: DataView): ImageHeader | undefined {
  if (v.getUint32(8) !== 13 || ascii(b, 12, 4) !== 'IHDR') return undefined;
  const width = v.getUint32(16);
  const height = v.getUint32(20);
  const colourType = b[25]!;
  if (width === 0 || height === 0 || ![0, 2, 3, 4, 6].includes(colourType)) return undefined;
  let hasAlpha = colourType === 4 || colourType === 6;
  let orientation = 1;
  // Ancillary chunks that matter come before the image data.
  for (let pos = 33; ; ) {
    if (pos + 8 > b.length) return undefined;
    const len = v.getUint32(pos);
    const type = ascii(b, pos + 4, 4);
    if (type === 'IDAT' || type === 'IEND') break;
    if (pos + 12 + len > b.length) return undefined;
    if (type === 'tRNS') hasAlpha = true;
    else if (type === 'eXIf') {
      const o = exifOrientation(new DataView(b.buffer, b.byteOffset + pos + 8, len));
      if (o === undefined) return undefined;
      orientation = o;
    } else if ((type === 'tEXt' || type === 'zTXt' || type === 'iTXt') && ascii(b, pos + 8, 16) === 'Raw profile type') {
      // ImageMagick-style EXIF/XMP in text: some readers take an orientation from it.
      return undefined;
    }
    pos += 12 + len;
  }
  return { format: 'png', width, height, orientation, hasAlpha, cmyk: false };
}

function probeWebp(b: Uint8Array, v: DataView): ImageHeader | undefined {
  const end = Math.min(b.length, 8 + v.getUint32(4, true));
  let size: { width: number; height: number; hasAlpha: boolean } | undefined;
  let orientation = 1;
  let extended = false;
  let exifFlag = false;
  let exifSeen = false;
  for (let pos = 12; pos + 8 <= end; ) {
    const type = ascii(b, pos, 4);
    const len = v.getUint32(pos + 4, true);
    const body = pos + 8;
    if (body + len > b.length) {
      // The image data may be cut short (a decode will say so); a truncated header is a different matter.
      if (size && !extended) break;
      return undefined;
    }
    if (type === 'VP8X' && pos === 12) {
      if (len < 10) return undefined;
      const flags = b[body]!;
      extended = true;
      exifFlag = (flags & 0x08) !== 0;
      size = { width: 1 + uint24le(b, body + 4), height: 1 + uint24le(b, body + 7), hasAlpha: (flags & 0x10) !== 0 };
    } else if (type === 'VP8 ' && !size) {
      if (len < 10 || b[body + 3] !== 0x9d || b[body + 4] !== 0x01 || b[body + 5] !== 0x2a) return undefined;
      size = { width: v.getUint16(body + 6, true) & 0x3fff, height: v.getUint16(body + 8, true) & 0x3fff, hasAlpha: false };
    } else if (type === 'VP8L' && !size) {
      if (len < 5 || b[body] !== 0x2f) return undefined;
      const bits = v.getUint32(body + 1, true);
      size = { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff), hasAlpha: ((bits >>> 28) & 1) === 1 };
    } else if (type === 'EXIF' && extended) {
      if (exifSeen) return undefined;
      exifSeen = true;
      // Some writers keep JPEG's "Exif\0\0" prefix inside the chunk.
      const skip = ascii(b, body, 6) === 'Exif\0\0' ? 6 : 0;
      const o = exifOrientation(new DataView(b.buffer, b.byteOffset + body + skip, len - skip));
      if (o === undefined) return undefined;
      orientation = o;
    }
    if (!extended && size) break;
    pos = body + len + (len & 1);
  }
  if (!size || size.width === 0 || size.height === 0) return undefined;
  // The flag promises an EXIF chunk; not finding one means the file is cut short.
  if (exifFlag && !exifSeen) return undefined;
  return { format: 'webp', width: size.width, height: size.height, orientation, hasAlpha: size.hasAlpha, cmyk: false };
}

function uint24le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
}

function probeGif(b: Uint8Array, v: DataView): ImageHeader | undefined {
  const width = v.getUint16(6, true);
  const height = v.getUint16(8, true);
  if (width === 0 || height === 0) return undefined;
  const packed = b[10]!;
  let pos = 13 + ((packed & 0x80) !== 0 ? 3 << ((packed & 7) + 1) : 0);
  // libvips' GIF loader gives an alpha channel when any frame has a transparent colour index or does not cover
  // the whole screen, so every frame's header is read (the image data is skipped block by block).
  let hasAlpha = false;
  let frames = 0;
  for (;;) {
    if (pos >= b.length) return undefined;
    const block = b[pos]!;
    if (block === 0x3b) break;
    if (block === 0x21) {
      const label = b[pos + 1]!;
      if (label === 0xf9 && b[pos + 2] === 4 && (b[pos + 3]! & 1) === 1) hasAlpha = true;
      pos = skipSubBlocks(b, pos + 2);
    } else if (block === 0x2c) {
      frames++;
      const x = v.getUint16(pos + 1, true);
      const y = v.getUint16(pos + 3, true);
      const w = v.getUint16(pos + 5, true);
      const h = v.getUint16(pos + 7, true);
      if (x !== 0 || y !== 0 || w !== width || h !== height) hasAlpha = true;
      const p = b[pos + 9]!;
      pos += 10 + ((p & 0x80) !== 0 ? 3 << ((p & 7) + 1) : 0);
      pos = skipSubBlocks(b, pos + 1); // + 1: the LZW minimum code size
    } else {
      return undefined;
    }
    if (pos < 0) return undefined;
  }
  if (frames === 0) return undefined;
  return { format: 'gif', width, height, orientation: 1, hasAlpha, cmyk: false };
}

/** Position after a chain of GIF data sub-blocks starting at `pos`, or -1 when it runs past the end. */
export function skipSubBlocks(b: Uint8Array, pos: number): number {
  while (pos < b.length) {
    const n = b[pos]!;
    pos += 1 + n;
    if (n === 0) return pos;
  }
  return -1;
}
