/**
 * A structural completeness check for encoded images, without decoding: the file's own framing must reach
 * its end marker. This is what catches the common failure of web-scale images (a download cut short) at the
 * cost of a scan over a few markers, for data whose pixels were already decoded upstream (img2dataset
 * re-encodes every image it writes). It does not catch corrupt entropy-coded data; `--image-check decode`
 * (the default) does.
 */
import type { ImageFormat } from './header.js';

/** Undefined when the file is complete; otherwise what is missing, for a reject's detail. */
export function incompleteImage(bytes: Uint8Array, format: ImageFormat): string | undefined {
  switch (format) {
    case 'jpeg': return jpeg(bytes);
    case 'png': return png(bytes);
    case 'webp': return webp(bytes);
    case 'gif': return gif(bytes);
  }
}

/**
 * Walks the marker segments to the first scan, then needs an EOI marker (FF D9) after it: inside
 * entropy-coded data every FF byte is stuffed (FF 00) or a restart marker, so an FF D9 there is the real end.
 */
function jpeg(b: Uint8Array): string | undefined {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return `JPEG marker expected at byte ${i}`;
    const m = b[i + 1]!;
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (m === 0xd9) return 'JPEG ends (EOI) before any scan';
    if (m >= 0xd0 && m <= 0xd7) {
      i += 2;
      continue;
    }
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    if (i + 2 + len > b.length) return `JPEG segment at byte ${i} runs past the end of the file (truncated)`;
    if (m === 0xda) {
      for (let j = b.length - 2; j >= i + 2 + len; j--) if (b[j] === 0xff && b[j + 1] === 0xd9) return undefined;
      return 'JPEG has no end-of-image marker after its scan data (truncated)';
    }
    i += 2 + len;
  }
  return 'JPEG ends before its first scan (truncated)';
}

/** Chunk lengths must chain from the signature to an IEND chunk inside the file. */
function png(b: Uint8Array): string | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let i = 8;
  while (i + 12 <= b.length) {
    const len = v.getUint32(i);
    const type = v.getUint32(i + 4);
    if (i + 12 + len > b.length) return `PNG chunk at byte ${i} runs past the end of the file (truncated)`;
    if (type === 0x49454e44) return undefined; // IEND
    i += 12 + len;
  }
  return 'PNG has no IEND chunk (truncated)';
}

/** The RIFF size must fit the file, and its chunks must chain to that size. */
function webp(b: Uint8Array): string | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 12) return 'WebP shorter than its RIFF header (truncated)';
  const end = 8 + v.getUint32(4, true);
  if (end > b.length) return `WebP declares ${end} bytes but has ${b.length} (truncated)`;
  let i = 12;
  while (i + 8 <= end) {
    const len = v.getUint32(i + 4, true);
    i += 8 + len + (len & 1);
    if (i > end) return `WebP chunk runs past the RIFF size (truncated)`;
  }
  return i === end || i === end - 1 ? undefined : 'WebP chunks do not fill the RIFF size';
}

/** Walks the blocks (extensions and image data sub-blocks) to the trailer byte 0x3B. */
function gif(b: Uint8Array): string | undefined {
  if (b.length < 13) return 'GIF shorter than its header (truncated)';
  let i = 13;
  if (b[10]! & 0x80) i += 3 << ((b[10]! & 7) + 1); // global colour table
  const subBlocks = (): boolean => {
    while (i < b.length) {
      const n = b[i]!;
      i += 1 + n;
      if (n === 0) return true;
    }
    return false;
  };
  while (i < b.length) {
    const t = b[i]!;
    if (t === 0x3b) return undefined;
    if (t === 0x21) {
      i += 2;
      if (!subBlocks()) break;
    } else if (t === 0x2c) {
      if (i + 10 > b.length) break;
      const packed = b[i + 9]!;
      i += 10;
      if (packed & 0x80) i += 3 << ((packed & 7) + 1); // local colour table
      i += 1; // LZW minimum code size
      if (!subBlocks()) break;
    } else return `GIF block type 0x${t.toString(16)} at byte ${i} is not valid`;
  }
  return 'GIF has no trailer (truncated)';
}
