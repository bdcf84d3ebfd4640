/**
 * Exact deduplication's two shuffle steps (command.ts declares them):
 *
 * - hash (per part): each row's normalised key (normalize.ts) hashed; (key, row, id) spilled to the bucket
 *   its key falls in, one spill file per part with a segment per bucket;
 * - resolve (per bucket): the bucket's rows from every part, in global order (parts in order, rows in
 *   order); the first row of each key is kept, every later one is dropped naming it. Drops are spilled by
 *   the part they came from, for the write step.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { packId } from '../coreset/layout.js';
import { readSpilled, SpillWriter } from '../coreset/spill.js';
import { firstOfKey } from './group.js';
import { DROP_COLS, HASH_COLS, partOf, paths, spillFiles, type DedupSpec } from './layout.js';
import { exactKey, keyColumns } from './normalize.js';
import { partRows } from './rows.js';

export async function hashPart(spec: DedupSpec, p: number, ctx: TaskContext): Promise<TaskOutput> {
  const part = spec.parts[p]!;
  const file = paths.hash(spec.work, p);
  mkdirSync(path.dirname(file), { recursive: true });
  // 16 MiB buffers (400K rows): a rank holds one of these and one decoded row group
  const spill = await SpillWriter.create(file, HASH_COLS, 16 << 20);
  const mode = spec.exact!;
  let unkeyed = 0;
  for await (const { start, rows } of partRows(part, ['id', ...keyColumns(spec.layout, mode)])) {
    const m = rows.length;
    const key = new Int32Array(m * 4), id = new Int32Array(m * 4), row = new Float64Array(m), bucket = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      const r = rows[i]!;
      row[i] = part.base + start + i;
      packId(String(r.id), id, i * 4);
      const k = exactKey(mode, spec.layout, r);
      if (!k) {
        bucket[i] = -1;
        unkeyed++;
        continue;
      }
      for (let w = 0; w < 4; w++) key[i * 4 + w] = k.readInt32LE(w * 4);
      bucket[i] = (key[i * 4]! >>> 0) % spec.buckets;
    }
    await spill.add(bucket, { key, row, id }, m);
    ctx.report(m, m);
  }
  await spill.close();
  return { shards: [], stats: {}, files: spillFiles(ctx.outDir, file), extra: { rows: part.rows, unkeyed } };
}

export async function resolveBucket(spec: DedupSpec, b: number, ctx: TaskContext): Promise<TaskOutput> {
  const { rows: n, cols } = await readSpilled(spec.parts.map((_, p) => paths.hash(spec.work, p)), b);
  const key = cols.key as Int32Array, row = cols.row as Float64Array, id = cols.id as Int32Array;
  const first = firstOfKey(key, 4, n);
  let dropped = 0;
  for (let i = 0; i < n; i++) if (first[i] !== i) dropped++;
  const drop = { row: new Float64Array(dropped), dup: new Float64Array(dropped), comp: new Float64Array(dropped).fill(-1), dupId: new Int32Array(dropped * 4) };
  const partKey = new Int32Array(dropped);
  for (let i = 0, t = 0; i < n; i++) {
    const f = first[i]!;
    if (f === i) continue;
    drop.row[t] = row[i]!;
    drop.dup[t] = row[f]!;
    drop.dupId.set(id.subarray(f * 4, f * 4 + 4), t * 4);
    partKey[t] = partOf(spec.parts, row[i]!);
    t++;
  }
  const file = paths.resolve(spec.work, b);
  mkdirSync(path.dirname(file), { recursive: true });
  const out = await SpillWriter.create(file, DROP_COLS, 16 << 20);
  await out.add(partKey, drop, dropped);
  await out.close();
  ctx.report(n, n);
  return { shards: [], stats: {}, files: spillFiles(ctx.outDir, file), extra: { rows: n, unique: n - dropped, dropped } };
}
