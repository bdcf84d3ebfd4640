/**
 * An image's header from the TypeScript probe, or from libvips for what the probe does not read (TIFF,
 * AVIF, ...) or is unsure of. One place for ingest's decode check and score's preprocessing.
 */
import sharp from 'sharp';
import { probeImage, type ImageHeader } from './header.js';

/** The probe's answer, with any format name libvips gives; `source` says which of the two answered. */
export type AnyImageHeader = (ImageHeader & { source: 'probe' }) | (Omit<ImageHeader, 'format'> & { format: string; source: 'libvips' });

/** Throws what libvips throws for bytes it cannot read. */
export async function readImageHeader(bytes: Uint8Array): Promise<AnyImageHeader> {
  const probed = probeImage(bytes);
  if (probed) return { ...probed, source: 'probe' };
  const meta = await sharp(bytes, { limitInputPixels: false, pages: 1 }).metadata();
  return {
    format: meta.format ?? 'unknown',
    width: meta.width ?? 0,
    height: meta.pageHeight ?? meta.height ?? 0,
    orientation: meta.orientation ?? 1,
    hasAlpha: meta.hasAlpha === true,
    cmyk: meta.space === 'cmyk',
    source: 'libvips',
  };
}
