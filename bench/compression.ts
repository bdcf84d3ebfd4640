/**
 * Which Parquet codec the shards are written with by default: ShardWriter under zstd, snappy and gzip on the
 * same rows, interleaved (A B C A B C) in one process, CPU time beside wall time. Two kinds of rows: caption
 * rows with URL references (the LAION metadata case, text only) and scored rows (the same plus a 512-d
 * float16 image and text embedding and clip_score, the score stage's output). Each file is read back by DuckDB
 * (row count) so a codec that writes what a reader refuses shows up here.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ShardWriter } from '../src/write/shard-writer.js';
import { COMPRESSIONS, type Compression } from '../src/write/compression.js';
import { f32ToF16 } from '../src/util/float16.js';
import { rows } from './writers.js';
import { ROOT, table } from './util.js';

/** Seeded L2-normalised Gaussian vectors as float16 bytes: dense like CLIP embeddings (no structure to exploit). */
export function embeddings(n: number, dim: number, seed: number): Uint8Array[] {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const out: Uint8Array[] = [];
  const v = new Float32Array(dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      v[d] = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
      norm += v[d]! * v[d]!;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < dim; d++) v[d]! /= norm;
    const h = f32ToF16(v);
    out.push(new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
  }
  return out;
}

async function duckRows(file: string): Promise<number> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet('${file}')`);
    return Number(r.getRowObjectsJS()[0]!.n);
  } finally {
    c.closeSync();
  }
}

export async function benchCompression(n = 100_000, dim = 512): Promise<string> {
  const dir = path.join(ROOT, '.bench', 'compression');
  rmSync(dir, { recursive: true, force: true });
  const captions = rows(n) as unknown as Record<string, unknown>[];
  const img = embeddings(n, dim, 1);
  const txt = embeddings(n, dim, 2);
  const scored = captions.map((r, i) => ({ ...r, clip_score: 0.2 + (i % 100) / 1000, image_embedding: img[i], text_embedding: txt[i] }));
  const sets = [
    { name: 'caption rows (text)', data: captions, columns: [] as string[] },
    { name: `scored rows (+ 2 x ${dim}-d float16 embeddings)`, data: scored, columns: ['clip_score', 'image_embedding', 'text_embedding'] },
  ];
  const acc = new Map<string, { wall: number; cpu: number; bytes: number; runs: number }>();
  for (let round = 0; round < 2; round++) {
    for (const set of sets) {
      for (const c of COMPRESSIONS) {
        const out = path.join(dir, `${round}-${set.columns.length}-${c}`);
        mkdirSync(out, { recursive: true });
        const cpu0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const w = new ShardWriter({ outDir: out, layout: 'caption', rank: 0, columns: set.columns, compression: c as Compression });
        for (const r of set.data) w.write(r);
        const shards = w.close();
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const cu = process.cpuUsage(cpu0);
        const file = path.join(out, shards[0]!.path);
        const got = await duckRows(file);
        if (got !== set.data.length) throw new Error(`${c}: DuckDB read ${got} rows of ${set.data.length}`);
        const key = `${set.name}|${c}`;
        const a = acc.get(key) ?? { wall: 0, cpu: 0, bytes: 0, runs: 0 };
        a.wall += wall;
        a.cpu += (cu.user + cu.system) / 1e6;
        a.bytes = statSync(file).size;
        a.runs++;
        acc.set(key, a);
      }
    }
  }
  const out: (string | number)[][] = [];
  for (const [key, a] of acc) {
    const [set, c] = key.split('|');
    out.push([set!, c!, a.bytes / 1e6, n / (a.wall / a.runs), a.wall / a.runs, a.cpu / a.runs]);
  }
  return `### Parquet codecs on ${n.toLocaleString('en-US')} rows (ShardWriter, 2 interleaved rounds, mean)\n\n${table(['rows', 'codec', 'file MB', 'rows/s', 'wall s', 'CPU s'], out)}\n`;
}
