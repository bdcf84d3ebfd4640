// The header probe must answer what sharp().metadata() answers, on the preprocessing fixtures and on images made
// here for each case it reads (EXIF orientations in both byte orders, progressive, grey, CMYK, every PNG colour
// type, WebP lossy/lossless/alpha/animated, GIF), and give undefined, never an exception, on cut or odd headers.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { orientedSize, probeImage, type ImageHeader } from '../src/image/header.js';

const DIR = new URL('../../test/fixtures/preprocess/', import.meta.url);

async function fromSharp(bytes: Uint8Array): Promise<ImageHeader> {
  const m = await sharp(bytes, { pages: 1 }).metadata();
  return {
    format: m.format as ImageHeader['format'],
    width: m.width,
    height: m.pageHeight ?? m.height,
    orientation: m.orientation ?? 1,
    hasAlpha: m.hasAlpha,
    cmyk: m.space === 'cmyk',
    ...(m.format === 'jpeg' ? { gray: m.channels === 1 } : {}),
  };
}

const opaque = () => sharp({ create: { width: 37, height: 21, channels: 3, background: '#3a7' } });
const translucent = () => sharp({ create: { width: 37, height: 21, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } });

/** A JPEG with a hand-written EXIF block (IFD0 holding only the orientation) in the given byte order. */
async function jpegWithExif(orientation: number, littleEndian: boolean): Promise<Buffer> {
  const jpeg = await opaque().jpeg().toBuffer();
  const tiff = Buffer.alloc(26);
  tiff.write(littleEndian ? 'II' : 'MM', 0, 'latin1');
  const u16 = (v: number, at: number) => (littleEndian ? tiff.writeUInt16LE(v, at) : tiff.writeUInt16BE(v, at));
  const u32 = (v: number, at: number) => (littleEndian ? tiff.writeUInt32LE(v, at) : tiff.writeUInt32BE(v, at));
  u16(42, 2);
  u32(8, 4);
  u16(1, 8);
  u16(0x0112, 10);
  u16(3, 12);
  u32(1, 14);
  u16(orientation, 18);
  u32(0, 22);
  const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0, 0]), Buffer.from('Exif\0\0', 'latin1'), tiff]);
  app1.writeUInt16BE(app1.length - 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]);
}

async function animatedWebp(): Promise<Buffer> {
  const frame = (c: string) => sharp({ create: { width: 16, height: 16, channels: 3, background: c } }).raw().toBuffer();
  const frames = Buffer.concat([await frame('#ff0000'), await frame('#0000ff')]);
  return sharp(frames, { raw: { width: 16, height: 32, channels: 3, pageHeight: 16 } as never })
    .webp({ loop: 0, delay: [100, 100] })
    .toBuffer();
}

async function cases(): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = readdirSync(DIR)
    .filter((f) => /\.(jpg|png|webp|gif)$/.test(f))
    .map((f) => [f, readFileSync(new URL(f, DIR))]);
  for (let o = 1; o <= 8; o++) {
    out.push([`JPEG orientation ${o}`, await opaque().jpeg().withMetadata({ orientation: o }).toBuffer()]);
    out.push([`JPEG orientation ${o}, hand-written little-endian EXIF`, await jpegWithExif(o, true)]);
    out.push([`JPEG orientation ${o}, hand-written big-endian EXIF`, await jpegWithExif(o, false)]);
    out.push([`WebP orientation ${o}`, await opaque().webp().withMetadata({ orientation: o }).toBuffer()]);
    out.push([`PNG orientation ${o}`, await opaque().png().withMetadata({ orientation: o }).toBuffer()]);
  }
  out.push(
    ['progressive JPEG', await opaque().jpeg({ progressive: true }).toBuffer()],
    ['grey JPEG', await opaque().toColourspace('b-w').jpeg().toBuffer()],
    ['CMYK JPEG', await opaque().toColourspace('cmyk').jpeg().toBuffer()],
    ['grey PNG', await opaque().toColourspace('b-w').png().toBuffer()],
    ['grey + alpha PNG', await translucent().toColourspace('b-w').png().toBuffer()],
    ['RGB PNG', await opaque().png().toBuffer()],
    ['RGBA PNG', await translucent().png().toBuffer()],
    ['palette PNG', await opaque().png({ palette: true }).toBuffer()],
    ['palette PNG with tRNS', await translucent().png({ palette: true }).toBuffer()],
    ['16-bit RGBA PNG', await translucent().toColourspace('rgb16').png().toBuffer()],
    ['interlaced PNG', await opaque().png({ progressive: true }).toBuffer()],
    ['lossy WebP', await opaque().webp().toBuffer()],
    ['lossless WebP', await opaque().webp({ lossless: true }).toBuffer()],
    ['lossless WebP with alpha', await translucent().webp({ lossless: true }).toBuffer()],
    ['lossy WebP with alpha', await translucent().webp().toBuffer()],
    ['animated WebP', await animatedWebp()],
    ['GIF', await opaque().gif().toBuffer()],
    ['GIF with transparency', await translucent().gif().toBuffer()],
  );
  return out;
}

describe('probeImage', async () => {
  const all = await cases();

  for (const [name, bytes] of all) {
    test(`${name}: same answer as sharp().metadata()`, async () => {
      assert.deepEqual(probeImage(bytes), await fromSharp(bytes));
    });
  }

  test('cut anywhere: undefined or the full answer, never an exception', () => {
    for (const [name, bytes] of all) {
      const full = probeImage(bytes);
      for (let n = 0; n < bytes.length; n += n < 2048 ? 1 : 97) {
        const p = probeImage(bytes.subarray(0, n));
        if (p !== undefined) assert.deepEqual(p, full, `${name} cut at ${n}`);
      }
    }
  });

  test('a JPEG cut before its image data has no header', () => {
    const jpeg = readFileSync(new URL('jpeg_rgb.jpg', DIR));
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    assert.equal(probeImage(jpeg.subarray(0, sos)), undefined);
    assert.ok(probeImage(jpeg.subarray(0, sos + 20)));
  });

  test('not an image, empty, or an orientation outside 1-8: undefined', async () => {
    assert.equal(probeImage(new Uint8Array(0)), undefined);
    assert.equal(probeImage(new TextEncoder().encode('<html>not an image</html>')), undefined);
    assert.equal(probeImage(await opaque().tiff().toBuffer()), undefined);
    assert.equal(probeImage(await jpegWithExif(9, true)), undefined);
    assert.equal(probeImage(await jpegWithExif(0, false)), undefined);
  });

  test('a byte offset into a larger buffer is honoured', async () => {
    const jpeg = await jpegWithExif(6, false);
    const big = new Uint8Array(jpeg.length + 10);
    big.set(jpeg, 7);
    assert.deepEqual(probeImage(big.subarray(7, 7 + jpeg.length)), probeImage(jpeg));
  });

  test('orientedSize swaps width and height for orientations 5-8', () => {
    const h: ImageHeader = { format: 'jpeg', width: 40, height: 30, orientation: 6, hasAlpha: false, cmyk: false };
    assert.deepEqual(orientedSize(h), { width: 30, height: 40 });
    assert.deepEqual(orientedSize({ ...h, orientation: 3 }), { width: 40, height: 30 });
  });
});
