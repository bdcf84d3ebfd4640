/**
 * For the mix, audit and recipe tests: small real datasets written with the foundation's shard writer and
 * manifest (exactly what ingest leaves), real PNG images, and an in-process command runner that maps
 * errors to exit codes the way the CLI does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { recordId, type Kind } from '../src/records.js';
import { ShardWriter } from '../src/write/shard-writer.js';
import { buildManifest, writeManifest, type Manifest } from '../src/write/manifest.js';
import { RejectWriter } from '../src/write/rejects.js';

export type Row = Record<string, unknown>;

let pngs: Uint8Array[] | undefined;

/** Four distinct tiny PNGs, made once. */
export async function images(): Promise<Uint8Array[]> {
  if (pngs) return pngs;
  const colors = [
    { r: 255, g: 0, b: 0 },
    { r: 0, g: 255, b: 0 },
    { r: 0, g: 0, b: 255 },
    { r: 255, g: 255, b: 0 },
  ];
  pngs = await Promise.all(colors.map(async (background) => new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background } }).png().toBuffer())));
  return pngs;
}

export async function captionRows(source: string, n: number, opts: { clip?: boolean; meta?: (i: number) => unknown } = {}): Promise<Row[]> {
  const imgs = await images();
  return Array.from({ length: n }, (_, i) => ({
    id: recordId(source, 'captions.jsonl', String(i)),
    kind: 'caption',
    source,
    image: { bytes: imgs[i % imgs.length]!, path: `${source}/${i}.png` },
    text: `${source} caption number ${i}: a small colored square`,
    url: null,
    image_format: 'png',
    width: 8,
    height: 8,
    metadata: opts.meta ? JSON.stringify(opts.meta(i)) : null,
    ...(opts.clip ? { clip_score: 0.2 + (i % 10) / 100 } : {}),
  }));
}

export async function interleavedRows(source: string, n: number): Promise<Row[]> {
  const imgs = await images();
  return Array.from({ length: n }, (_, i) => ({
    id: recordId(source, 'docs.jsonl', String(i)),
    kind: 'interleaved',
    source,
    texts: [`${source} document ${i} opens here.`, null, `And ${'closes '.repeat(1 + (i % 5))}there.`],
    images: [null, { bytes: imgs[(i + 1) % imgs.length]!, path: `${source}/${i}.png` }, null],
    metadata: '[{},{},{}]',
    general_metadata: JSON.stringify({ url: `https://example.com/${i}` }),
  }));
}

export function textRows(source: string, n: number, words = (i: number) => 5 + (i % 20)): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    id: recordId(source, 'corpus.txt', String(i)),
    kind: 'text',
    source,
    text: `${source} ${Array.from({ length: words(i) }, (_, w) => `word${(i * 7 + w) % 50}`).join(' ')}`,
    metadata: null,
  }));
}

/** Writes rows as a dataset (shards + manifest + optional rejects), like an ingest output. */
export function writeDataset(dir: string, layout: Kind, rows: Row[], opts: { shardRows?: number; rejects?: { source: string; reason: string }[]; columns?: string[] } = {}): Manifest {
  const w = new ShardWriter({ outDir: dir, layout, rank: 0, columns: opts.columns ?? ('clip_score' in (rows[0] ?? {}) ? ['clip_score'] : []), ...(opts.shardRows ? { maxShardRows: opts.shardRows, maxRowGroupRows: Math.min(opts.shardRows, 100_000) } : {}) });
  const stats: Manifest['sources'] = {};
  for (const r of rows) {
    w.write(r);
    const s = (stats[String(r.source)] ??= { read: 0, kept: 0, rejected: 0, rejected_by_reason: {} });
    s.read++;
    s.kept++;
  }
  let rejects: { path: string; rows: number } | undefined;
  if (opts.rejects?.length) {
    const rw = new RejectWriter(dir, 0);
    for (const r of opts.rejects) {
      rw.write({ source: r.source, file: 'input.jsonl', location: 'line 1', reason: r.reason, detail: 'made by the test' });
      const s = (stats[r.source] ??= { read: 0, kept: 0, rejected: 0, rejected_by_reason: {} });
      s.read++;
      s.rejected++;
      s.rejected_by_reason[r.reason] = (s.rejected_by_reason[r.reason] ?? 0) + 1;
    }
    rejects = rw.close();
  }
  const shards = w.close();
  const m = buildManifest({ stage: 'ingest', layout, command: ['test'], results: [{ rank: 0, shards, stats, ...(rejects ? { rejects } : {}) }], columns: w.columns.map((c) => c.name) });
  writeManifest(dir, m);
  return m;
}

export function editManifest(dir: string, edit: (m: Manifest) => void): void {
  const f = path.join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(f, 'utf8')) as Manifest;
  edit(m);
  writeFileSync(f, JSON.stringify(m, null, 2));
}

export interface Ran {
  code: number;
  stdout: string;
  error?: string;
}

/** Runs a command module in-process, capturing what it prints; a thrown UsageError is exit 2 with its message, as in the CLI. */
export async function runCommand(mod: { run(argv: string[], write?: (text: string) => void): Promise<number> }, argv: string[]): Promise<Ran> {
  const chunks: string[] = [];
  try {
    const code = await mod.run(argv, (t) => void chunks.push(t));
    return { code, stdout: chunks.join('') };
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (code === undefined) throw err;
    return { code, stdout: chunks.join(''), error: (err as Error).message };
  }
}

/** A real (tiny) WordLevel tokenizer.json: word0..word49 are one token each, anything else [UNK]. */
export function writeTokenizer(file: string, extra = ''): void {
  const vocab: Record<string, number> = { '[UNK]': 0 };
  for (let i = 0; i < 50; i++) vocab[`word${i}`] = i + 1;
  writeFileSync(
    file,
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [{ id: 0, content: '[UNK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: { type: 'Lowercase' },
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
    }) + extra,
  );
}
