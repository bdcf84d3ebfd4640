// Test images like the demo's: one coloured shape on white or transparent, drawn as SVG and encoded by sharp.
import sharp from 'sharp';

export const COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple'] as const;
export const SHAPES = ['circle', 'square', 'triangle', 'star'] as const;

export interface ShapeOptions {
  size?: number;
  format?: 'png' | 'jpeg' | 'webp';
  transparent?: boolean;
}

export async function shapeImage(shape: string, colour: string, o: ShapeOptions = {}): Promise<Buffer> {
  const size = o.size ?? 200;
  const body: Record<string, string> = {
    circle: `<circle cx="100" cy="100" r="70" fill="${colour}"/>`,
    square: `<rect x="35" y="35" width="130" height="130" fill="${colour}"/>`,
    triangle: `<polygon points="100,25 175,170 25,170" fill="${colour}"/>`,
    star: `<polygon points="100,10 121,71 186,72 134,111 153,173 100,136 47,173 66,111 14,72 79,71" fill="${colour}"/>`,
  };
  const bg = o.transparent ? '' : '<rect width="200" height="200" fill="white"/>';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 200 200">${bg}${body[shape]}</svg>`;
  const img = sharp(Buffer.from(svg));
  const format = o.format ?? 'png';
  if (format === 'jpeg') return img.flatten({ background: '#ffffff' }).jpeg({ quality: 90 }).toBuffer();
  if (format === 'webp') return img.webp({ quality: 90 }).toBuffer();
  return img.png().toBuffer();
}
