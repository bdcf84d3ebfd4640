/**
 * Ingest + write benchmark: 1M caption rows with URL references, and 20K rows with ~50 KB image bytes,
 * next to DuckDB writing the same rows to Parquet on the same machine in the same run.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import sharp from 'sharp';
import { ROOT, table, timeCli, timeNode, MB, GiB } from './util.js';

const WORK = path.join(ROOT, '.bench', 'ingest');

async function makeUrlRows(n: number, parts: number): Promise<string[]> {
  const files: string[] = [];
  for (let p = 0; p < parts; p++) {
    const f = path.join(WORK, `laion-${p}.jsonl`);
    files.push(f);
    if (existsSync(f)) continue;
    const ws = createWriteStream(f);
    for (let i = p; i < n; i += parts) {
      const row = { url: `https://images.example.com/${i % 9973}/${i}.jpg`, caption: `a photo of item ${i} on a wooden table, with soft light and a plain background`, similarity: 0.2 + (i % 200) / 1000, width: 256 + (i % 512), height: 256 + (i % 300), key: String(i).padStart(9, '0'), status: 'success' };
      if (!ws.write(JSON.stringify(row) + '\n')) await once(ws, 'drain');
    }
    ws.end();
    await once(ws, 'finish');
  }
  return files;
}

async function makeImageRows(n: number): Promise<string> {
  const f = path.join(WORK, 'images.parquet');
  if (existsSync(f)) return f;
  const dir = path.join(WORK, 'img');
  mkdirSync(dir, { recursive: true });
  // 200 distinct noise pictures (noise keeps a 256x256 JPEG at ~50 KB), repeated to n rows
  for (let i = 0; i < 200; i++) {
    const raw = Buffer.alloc(256 * 256 * 3);
    let s = (i + 1) * 2654435761;
    for (let j = 0; j < raw.length; j++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      raw[j] = s >>> 24;
    }
    await sharp(raw, { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 90 }).toFile(path.join(dir, `${i}.jpg`));
  }
  // every row gets distinct bytes (a JPEG comment with its row number after the SOI marker), so no writer
  // can dictionary-encode the payload away: 20K distinct ~50 KB images, ~1 GB
  const pics = Array.from({ length: 200 }, (_, i) => readFileSync(path.join(dir, `${i}.jpg`)));
  const { ParquetWriter, fileWriter } = await import('hyparquet-writer');
  const w = new ParquetWriter({
    writer: fileWriter(f),
    schema: [
      { name: 'root', num_children: 2 },
      { name: 'image', repetition_type: 'REQUIRED', num_children: 2 },
      { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED' },
      { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'caption', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    ],
    codec: 'UNCOMPRESSED',
  });
  for (let s = 0; s < n; s += 1000) {
    const images: { bytes: Uint8Array; path: string }[] = [];
    const captions: string[] = [];
    for (let i = s; i < Math.min(n, s + 1000); i++) {
      const pic = pics[i % 200]!;
      const note = Buffer.from(`row ${i}`);
      const com = Buffer.from([0xff, 0xfe, (note.length + 2) >> 8, (note.length + 2) & 0xff]);
      images.push({ bytes: new Uint8Array(Buffer.concat([pic.subarray(0, 2), com, note, pic.subarray(2)])), path: `img/${i}.jpg` });
      captions.push(`a noisy picture number ${i}`);
    }
    w.write({ columnData: [{ name: 'image', data: images, encoding: 'PLAIN' }, { name: 'caption', data: captions }], rowGroupSize: 1000 });
  }
  w.finish();
  return f;
}

export async function benchIngest(opts: { urlRows?: number; imageRows?: number } = {}): Promise<string> {
  const urlRows = opts.urlRows ?? 1_000_000;
  const imageRows = opts.imageRows ?? 20_000;
  mkdirSync(WORK, { recursive: true });
  const urlFiles = await makeUrlRows(urlRows, 4);
  const imgFile = await makeImageRows(imageRows);
  const urlBytes = urlFiles.reduce((a, f) => a + statSync(f).size, 0);
  const imgBytes = statSync(imgFile).size; // the image payload: distinct bytes per row
  const rows: (string | number)[][] = [];
  const duckScript = path.join(ROOT, 'dist', 'bench', 'duckdb-copy.js');

  const out1 = path.join(WORK, 'out-url');
  rmSync(out1, { recursive: true, force: true });
  const a = timeCli(['ingest', '--kind', 'caption', '--input', ...urlFiles, '--out', out1, '--quiet']);
  const d1 = path.join(WORK, 'duck-url.parquet');
  const jsonReader = `read_json([${urlFiles.map((f) => `'${f}'`).join(',')}], format='newline_delimited')`;
  const b = timeNode(duckScript, [jsonReader, d1]);
  // the same codec as our shards (text columns are GZIP), for a like-for-like second figure
  const bz = timeNode(duckScript, [jsonReader, d1, 'gzip']);
  rows.push(['mmcurate ingest (GZIP)', `${urlRows.toLocaleString('en-US')} URL rows`, urlRows / a.seconds, urlBytes / MB / a.seconds, a.peakRssBytes / GiB, a.seconds]);
  rows.push(['DuckDB COPY (snappy, its default)', `${urlRows.toLocaleString('en-US')} URL rows`, urlRows / b.seconds, urlBytes / MB / b.seconds, b.peakRssBytes / GiB, b.seconds]);
  rows.push(['DuckDB COPY (GZIP)', `${urlRows.toLocaleString('en-US')} URL rows`, urlRows / bz.seconds, urlBytes / MB / bz.seconds, bz.peakRssBytes / GiB, bz.seconds]);

  const out2 = path.join(WORK, 'out-img');
  rmSync(out2, { recursive: true, force: true });
  const c = timeCli(['ingest', '--kind', 'caption', '--input', imgFile, '--out', out2, '--quiet']);
  const d2 = path.join(WORK, 'duck-img.parquet');
  const e = timeNode(duckScript, [`read_parquet('${imgFile}')`, d2]);
  rows.push(['mmcurate ingest (decode-checks every image)', `${imageRows.toLocaleString('en-US')} image rows`, imageRows / c.seconds, imgBytes / MB / c.seconds, c.peakRssBytes / GiB, c.seconds]);
  rows.push(['DuckDB COPY (no image check)', `${imageRows.toLocaleString('en-US')} image rows`, imageRows / e.seconds, imgBytes / MB / e.seconds, e.peakRssBytes / GiB, e.seconds]);
  const kept = JSON.parse(readFileSync(path.join(out2, 'manifest.json'), 'utf8')) as { rows: number };
  if (kept.rows !== imageRows) throw new Error(`image ingest kept ${kept.rows} of ${imageRows}`);
  return `### Ingest + write (input MB/s; peak RSS of the whole process)\n\n${table(['writer', 'input', 'rows/s', 'MB/s', 'peak RSS GiB', 'seconds'], rows)}\n\nmmcurate vs DuckDB throughput: URL rows ${(100 * b.seconds / a.seconds).toFixed(0)}% (${(100 * bz.seconds / a.seconds).toFixed(0)}% of DuckDB writing GZIP), image rows ${(100 * e.seconds / c.seconds).toFixed(0)}%.\n`;
}
