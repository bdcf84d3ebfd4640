#!/usr/bin/env node
// Writes demo/data/laion-urls.parquet: LAION-style metadata (URL, TEXT, WIDTH, HEIGHT, similarity) whose URLs
// point at scripts/serve-images.mjs on 127.0.0.1:8765: the demo images, plus the failures a real URL list
// has (a dead link, a redirect, a page that is no image, a truncated file, an opt-out, a metadata address).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetWriteBuffer } from 'hyparquet-writer';
import sharp from 'sharp';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.join(root, 'demo', 'data');
const BASE = 'http://127.0.0.1:8765';

const rows = [];
for (const line of readFileSync(path.join(data, 'captions.jsonl'), 'utf8').split('\n')) {
  let r;
  try {
    r = JSON.parse(line);
  } catch {
    continue;
  }
  if (!r || typeof r.image !== 'string' || !r.image.startsWith('images/') || typeof r.caption !== 'string' || !r.caption.trim()) continue;
  const file = r.image.slice('images/'.length);
  let meta = {};
  try {
    meta = await sharp(path.join(data, r.image)).metadata();
  } catch {
    // the broken demo images: their size is unknown, as in LAION rows whose image changed since the crawl
  }
  rows.push({ URL: `${BASE}/images/${file}`, TEXT: r.caption, WIDTH: meta.width ?? null, HEIGHT: meta.height ?? null, similarity: 0.3 });
}
rows.push(
  { URL: `${BASE}/images/404_gone.jpg`, TEXT: 'a picture that is gone', WIDTH: 640, HEIGHT: 480, similarity: 0.31 },
  { URL: `${BASE}/moved/000_red_circle.jpg`, TEXT: 'a red circle, moved to another address', WIDTH: 96, HEIGHT: 96, similarity: 0.33 },
  { URL: `${BASE}/page/003_yellow_square.jpg`, TEXT: 'a yellow square behind an HTML page', WIDTH: 96, HEIGHT: 96, similarity: 0.3 },
  { URL: `${BASE}/noai/008_blue_circle.jpg`, TEXT: 'a blue circle whose host opted out of AI training', WIDTH: 96, HEIGHT: 96, similarity: 0.32 },
  { URL: 'http://169.254.169.254/latest/meta-data/', TEXT: 'a red circle at a cloud metadata address', WIDTH: 96, HEIGHT: 96, similarity: 0.3 },
);
const col = (name, type) => ({ name, type, data: rows.map((r) => r[name]) });
const buf = parquetWriteBuffer({ columnData: [col('URL', 'STRING'), col('TEXT', 'STRING'), col('WIDTH', 'INT32'), col('HEIGHT', 'INT32'), col('similarity', 'DOUBLE')] });
writeFileSync(path.join(data, 'laion-urls.parquet'), new Uint8Array(buf));
console.log(`wrote demo/data/laion-urls.parquet: ${rows.length} rows`);
