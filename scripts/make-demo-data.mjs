#!/usr/bin/env node
// Writes the bundled demo data (demo/data/) deterministically: real images of coloured shapes in several
// formats and modes, matching and mismatched captions, near-duplicates, and deliberately broken records of
// each kind, so the demo and the tests exercise every path on real files.
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import tar from 'tar-stream';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'demo', 'data');
rmSync(root, { recursive: true, force: true });
mkdirSync(path.join(root, 'images'), { recursive: true });

const COLORS = { red: '#e02020', green: '#20a040', blue: '#2040e0', yellow: '#f0d020', orange: '#f08020', purple: '#8030b0' };
const SHAPES = ['circle', 'square', 'triangle', 'star'];

function svg(shape, color, size, bg) {
  const c = size / 2, r = size * 0.35;
  const body = {
    circle: `<circle cx="${c}" cy="${c}" r="${r}" fill="${color}"/>`,
    square: `<rect x="${c - r}" y="${c - r}" width="${2 * r}" height="${2 * r}" fill="${color}"/>`,
    triangle: `<polygon points="${c},${c - r} ${c + r},${c + r} ${c - r},${c + r}" fill="${color}"/>`,
    star: `<polygon points="${Array.from({ length: 10 }, (_, i) => { const a = (Math.PI / 5) * i - Math.PI / 2; const rr = i % 2 ? r * 0.45 : r; return `${(c + rr * Math.cos(a)).toFixed(1)},${(c + rr * Math.sin(a)).toFixed(1)}`; }).join(' ')}" fill="${color}"/>`,
  }[shape];
  const back = bg ? `<rect width="${size}" height="${size}" fill="${bg}"/>` : '';
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${back}${body}</svg>`);
}

async function render(shape, color, size, format, opts = {}) {
  let img = sharp(svg(shape, COLORS[color], size, opts.transparent ? null : '#ffffff'));
  if (opts.gray) img = img.grayscale();
  if (format === 'jpeg') return img.flatten({ background: '#ffffff' }).jpeg({ quality: opts.quality ?? 90 }).toBuffer();
  if (format === 'png') return img.png().toBuffer();
  if (format === 'webp') return img.webp({ quality: 85 }).toBuffer();
  throw new Error(format);
}

const colors = Object.keys(COLORS);
const captions = [];
const lines = [];
let n = 0;
// 24 clean pairs across formats and modes
for (let i = 0; i < 24; i++) {
  const color = colors[i % colors.length], shape = SHAPES[(i * 7) % SHAPES.length];
  const format = ['jpeg', 'png', 'webp', 'jpeg'][i % 4];
  const transparent = format === 'png' && i % 8 === 1;
  const gray = i % 12 === 7;
  const size = 64 + ((i * 53) % 337);
  const file = `images/${String(n++).padStart(3, '0')}_${color}_${shape}.${format === 'jpeg' ? 'jpg' : format}`;
  writeFileSync(path.join(root, file), await render(shape, color, size, format, { transparent, gray }));
  const text = gray ? `a gray ${shape} on a white background` : `a ${color} ${shape}${transparent ? ' on a transparent background' : ''}`;
  captions.push({ image: file, caption: text, color: gray ? 'gray' : color, shape });
}
// near-duplicates: the same picture re-encoded at another size and quality
for (let i = 0; i < 6; i++) {
  const src = captions[i];
  const file = `images/${String(n++).padStart(3, '0')}_dup_${src.color}_${src.shape}.jpg`;
  writeFileSync(path.join(root, file), await render(src.shape, src.color === 'gray' ? 'red' : src.color, 200 + i * 10, 'jpeg', { quality: 70 }));
  captions.push({ image: file, caption: `a ${src.color} ${src.shape}, again`, color: src.color, shape: src.shape });
}
// captions that do not match their image (the CLIP score should drop these)
for (let i = 0; i < 6; i++) {
  const color = colors[(i + 2) % colors.length], shape = SHAPES[i % SHAPES.length];
  const file = `images/${String(n++).padStart(3, '0')}_${color}_${shape}.jpg`;
  writeFileSync(path.join(root, file), await render(shape, color, 160, 'jpeg'));
  const wrongColor = colors[(i + 5) % colors.length], wrongShape = SHAPES[(i + 2) % SHAPES.length];
  captions.push({ image: file, caption: `a ${wrongColor} ${wrongShape}`, color, shape, mismatched: true });
}
for (const c of captions) lines.push(JSON.stringify({ image: c.image, caption: c.caption, meta: { color: c.color, shape: c.shape, ...(c.mismatched ? { mismatched: true } : {}) } }));
// broken records, one of each reason
const truncated = (await render('circle', 'red', 300, 'jpeg')).subarray(0, 600);
writeFileSync(path.join(root, 'images', 'broken_truncated.jpg'), truncated);
writeFileSync(path.join(root, 'images', 'broken_empty.png'), Buffer.alloc(0));
writeFileSync(path.join(root, 'images', 'broken_not_an_image.webp'), Buffer.from('this is not an image at all'));
lines.push('{"image": "images/000_red_circle.jpg", "caption": "a red circle" ');
lines.push('["an", "array", "not", "an", "object"]');
lines.push(JSON.stringify({ image: 'images/001_green_triangle.png' }));
lines.push(JSON.stringify({ image: 'images/002_blue_star.webp', caption: '   ' }));
lines.push(JSON.stringify({ image: 'images/does_not_exist.jpg', caption: 'a missing picture' }));
lines.push(JSON.stringify({ image: 'images/broken_truncated.jpg', caption: 'a red circle, cut short' }));
lines.push(JSON.stringify({ image: 'images/broken_empty.png', caption: 'an empty file' }));
lines.push(JSON.stringify({ image: 'images/broken_not_an_image.webp', caption: 'text pretending to be an image' }));
lines.push(JSON.stringify({ url: 'https://example.com/laion/000123.jpg', caption: 'a remote picture kept as a URL reference', similarity: 0.31, width: 640, height: 480 }));
writeFileSync(path.join(root, 'captions.jsonl'), lines.join('\n') + '\n');

// a WebDataset shard as img2dataset writes it: KEY.jpg + KEY.txt + KEY.json, then its .parquet sibling is omitted
const pack = tar.pack();
const chunks = [];
pack.on('data', (c) => chunks.push(c));
const done = new Promise((r) => pack.on('end', r));
for (let i = 0; i < 8; i++) {
  const key = `00000${String(i).padStart(4, '0')}`;
  const color = colors[(i + 1) % colors.length], shape = SHAPES[(i + 1) % SHAPES.length];
  const img = await render(shape, color, 96 + i * 16, 'jpeg');
  const text = `a ${color} ${shape}`;
  pack.entry({ name: `${key}.jpg`, mtime: new Date(0) }, img);
  pack.entry({ name: `${key}.txt`, mtime: new Date(0) }, text);
  pack.entry({ name: `${key}.json`, mtime: new Date(0) }, JSON.stringify({ url: `https://example.com/wds/${key}.jpg`, caption: text, key, status: 'success', width: 96 + i * 16, height: 96 + i * 16 }));
}
pack.entry({ name: '000000008.jpg', mtime: new Date(0) }, (await render('star', 'blue', 120, 'jpeg')).subarray(0, 300));
pack.entry({ name: '000000008.txt', mtime: new Date(0) }, 'a blue star, truncated in the tar');
pack.finalize();
await done;
mkdirSync(path.join(root, 'wds'), { recursive: true });
writeFileSync(path.join(root, 'wds', '00000.tar'), Buffer.concat(chunks));
writeFileSync(path.join(root, 'wds', '00000_stats.json'), JSON.stringify({ count: 9, successes: 9, failed_to_download: 0 }, null, 2));

// interleaved documents in the OBELICS layout
const docs = [];
for (let d = 0; d < 10; d++) {
  const texts = [], images = [];
  for (let p = 0; p < 4; p++) {
    if (p % 2 === 0) {
      const c = captions[(d * 2 + p) % 24];
      texts.push(null);
      images.push(p === 2 && d % 3 === 0 ? `https://example.com/obelics/${d}.jpg` : c.image);
      texts.push(`Paragraph ${p} of document ${d}: here we see ${c.caption}.`);
      images.push(null);
    }
  }
  docs.push({ texts, images, metadata: JSON.stringify(texts.map(() => ({}))), general_metadata: JSON.stringify({ url: `https://example.com/doc/${d}`, warc: `demo-${d}` }) });
}
docs.push({ texts: ['only text', null], images: [null, null], metadata: null });
docs.push({ texts: ['a', 'b', 'c'], images: [null, null], metadata: null });
docs.push({ texts: [null, 'a broken picture'], images: ['images/broken_truncated.jpg', null] });
writeFileSync(path.join(root, 'interleaved.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n') + '\n');

// text corpora: gzipped JSONL and plain text
const words = 'the of and to in is that for on with as by at from data model image text learning training vision language'.split(' ');
const textDocs = [];
for (let i = 0; i < 40; i++) {
  let s = '';
  for (let w = 0; w < 30 + (i * 13) % 60; w++) s += (w ? ' ' : '') + words[(i * 31 + w * 17) % words.length];
  textDocs.push(JSON.stringify({ text: s + '.', url: `https://example.com/web/${i}` }));
}
textDocs.push(JSON.stringify({ text: '' }));
textDocs.push(JSON.stringify({ body: 'no text field here' }));
writeFileSync(path.join(root, 'web.jsonl.gz'), gzipSync(textDocs.join('\n') + '\n', { level: 9, mtime: 0 }));
writeFileSync(path.join(root, 'books.txt'), Array.from({ length: 12 }, (_, i) => `Line ${i}: ${words.slice(i % 5, (i % 5) + 12).join(' ')}.`).join('\n') + '\n');
console.log(`wrote demo data to ${root}`);
