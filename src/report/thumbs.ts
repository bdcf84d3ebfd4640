/**
 * Thumbnails as data URIs: re-encoded small (128 px on the long side, WebP quality 70, a few KB each), so
 * the page stays one light file. Keyed by a hash of the source bytes: an image shown by several stages is
 * stored once. An image that does not decode gets no thumbnail (the page shows its caption alone).
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';

export const THUMB_PX = 128;

export class Thumbs {
  readonly uris: Record<string, string> = {};
  private failed = new Set<string>();

  async add(bytes: Uint8Array | null): Promise<string | null> {
    if (!bytes || !bytes.length) return null;
    const key = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    if (this.uris[key]) return key;
    if (this.failed.has(key)) return null;
    try {
      const out = await sharp(bytes, { failOn: 'error', limitInputPixels: 1 << 28 })
        .rotate()
        .resize(THUMB_PX, THUMB_PX, { fit: 'inside', withoutEnlargement: false })
        .webp({ quality: 70 })
        .toBuffer();
      this.uris[key] = `data:image/webp;base64,${out.toString('base64')}`;
      return key;
    } catch {
      this.failed.add(key);
      return null;
    }
  }
}
