/**
 * Near-duplicate deduplication's steps (command.ts declares them; docs/dedup.md explains the choices):
 *
 * - sign (per part): each row's text -> shingle set and MinHash signature (minhash.ts); every band key spilled
 *   to the bucket it falls in (one spill per part, a segment per bucket); per row, its id, and its shingle set
 *   (verify exact) or signature (verify signature) in flat files the later steps look up by row;
 * - bands (per bucket): rows sharing a band key are candidates; each member is verified against the group's
 *   representatives in global order (at most maxReps of them, so a bucket of 10,000 copies costs 10,000
 *   comparisons, not 50 million); verified pairs (earlier row, later row) are written to the bucket's file;
 * - components (one task): union-find over every verified pair, streamed from the pair files; memory is
 *   bounded by the rows that have a verified pair, not by the corpus. Each component's survivor is its first
 *   row in the global order; every other member is dropped naming the component and the survivor.
 */
import { mkdirSync, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { packId } from '../coreset/layout.js';
import { readSpilled, SpillWriter } from '../coreset/spill.js';
import { FlatWriter, readAt } from './flat.js';
import { firstOfKey, groupsOf } from './group.js';
import { BAND_COLS, DROP_COLS, partOf, paths, spillFiles, type DedupSpec } from './layout.js';
import { bandKey, estimatedJaccard, jaccard, MinHasher } from './minhash.js';
import { rowText } from './normalize.js';
import { partRows } from './rows.js';

function rel(ctx: TaskContext, file: string): string {
  return path.relative(ctx.outDir, file);
}

export async function signPart(spec: DedupSpec, p: number, ctx: TaskContext): Promise<TaskOutput> {
  const part = spec.parts[p]!;
  const prm = spec.near!.params;
  const hasher = new MinHasher(prm);
  const K = prm.bands * prm.rows;
  const w = spec.work;
  for (const f of [paths.bands(w, p), paths.ids(w, p)]) mkdirSync(path.dirname(f), { recursive: true });
  const spill = await SpillWriter.create(paths.bands(w, p), BAND_COLS, 16 << 20);
  const ids = await FlatWriter.create(paths.ids(w, p));
  const exact = prm.verify === 'exact';
  const shingles = exact ? await FlatWriter.create(paths.shingles(w, p)) : undefined;
  const offsets = exact ? await FlatWriter.create(paths.offsets(w, p)) : undefined;
  const sigs = prm.verify === 'signature' ? await FlatWriter.create(paths.sigs(w, p)) : undefined;
  let offset = 0;
  await offsets?.add(new Float64Array([0]));
  let unkeyed = 0, shingleCount = 0, bytes = 0;
  let setBuf = new Uint32Array(1 << 16);
  const cols = spec.layout === 'interleaved' ? ['id', 'texts'] : ['id', 'text'];
  for await (const { start, rows } of partRows(part, cols)) {
    const m = rows.length;
    const key = new Int32Array(m * prm.bands * 3), row = new Float64Array(m * prm.bands), bucket = new Int32Array(m * prm.bands).fill(-1);
    const id = new Int32Array(m * 4), offs = new Float64Array(m), sig = sigs ? new Uint32Array(m * K) : undefined;
    let setLen = 0;
    for (let i = 0; i < m; i++) {
      const r = rows[i]!;
      packId(String(r.id), id, i * 4);
      const text = rowText(spec.layout, r);
      bytes += text ? Buffer.byteLength(text) : 0;
      const count = text ? hasher.hash(text) : 0;
      if (count === 0) {
        unkeyed++;
        offs[i] = offset;
        continue;
      }
      shingleCount += count;
      const g = part.base + start + i;
      for (let j = 0; j < prm.bands; j++) {
        const e = i * prm.bands + j;
        key[e * 3] = j;
        bandKey(hasher.sig, j, prm.rows, key, e * 3 + 1);
        row[e] = g;
        bucket[e] = (key[e * 3 + 1]! >>> 0) % spec.buckets;
      }
      if (sig) sig.set(hasher.sig, i * K);
      if (exact) {
        const set = hasher.shingles();
        if (setLen + set.length > setBuf.length) {
          const bigger = new Uint32Array(Math.max(setBuf.length * 2, setLen + set.length));
          bigger.set(setBuf.subarray(0, setLen));
          setBuf = bigger;
        }
        setBuf.set(set, setLen);
        setLen += set.length;
        offset += set.length;
      }
      offs[i] = offset;
    }
    await spill.add(bucket, { key, row }, m * prm.bands);
    await ids.add(id);
    if (exact) {
      await shingles!.add(setBuf.subarray(0, setLen));
      await offsets!.add(offs);
    }
    if (sig) await sigs!.add(sig);
    ctx.report(m, m);
  }
  await spill.close();
  await ids.close();
  await shingles?.close();
  await offsets?.close();
  await sigs?.close();
  const files = [...spillFiles(ctx.outDir, paths.bands(w, p)), rel(ctx, paths.ids(w, p))];
  if (exact) files.push(rel(ctx, paths.shingles(w, p)), rel(ctx, paths.offsets(w, p)));
  if (sigs) files.push(rel(ctx, paths.sigs(w, p)));
  return { shards: [], stats: {}, files, extra: { rows: part.rows, unkeyed, shingles: shingleCount, text_bytes: bytes } };
}

/** Per-row data of the rows a bucket needs, read by position from the sign step's flat files. */
async function loadDocs(spec: DedupSpec, rows: Float64Array): Promise<Map<number, Uint32Array>> {
  const prm = spec.near!.params;
  const K = prm.bands * prm.rows;
  const out = new Map<number, Uint32Array>();
  let i = 0;
  while (i < rows.length) {
    const p = partOf(spec.parts, rows[i]!);
    const part = spec.parts[p]!;
    const w = spec.work;
    const files = prm.verify === 'exact' ? [paths.offsets(w, p), paths.shingles(w, p)] : [paths.sigs(w, p)];
    const fhs: FileHandle[] = [];
    try {
      for (const f of files) fhs.push(await fsp.open(f, 'r'));
      const two = new Float64Array(2);
      for (; i < rows.length && rows[i]! < part.base + part.rows; i++) {
        const r = rows[i]! - part.base;
        let v: Uint32Array;
        if (prm.verify === 'exact') {
          await readAt(fhs[0]!, files[0]!, two, r * 8);
          v = new Uint32Array(two[1]! - two[0]!);
          await readAt(fhs[1]!, files[1]!, v, two[0]! * 4);
        } else {
          v = new Uint32Array(K);
          await readAt(fhs[0]!, files[0]!, v, r * K * 4);
        }
        out.set(rows[i]!, v);
      }
    } finally {
      for (const fh of fhs) await fh.close();
    }
  }
  return out;
}

export async function bandsBucket(spec: DedupSpec, b: number, ctx: TaskContext): Promise<TaskOutput> {
  const prm = spec.near!.params;
  const { rows: n, cols } = await readSpilled(spec.parts.map((_, p) => paths.bands(spec.work, p)), b);
  const key = cols.key as Int32Array, row = cols.row as Float64Array;
  const groups = groupsOf(firstOfKey(key, 3, n));
  let docs = new Map<number, Uint32Array>();
  if (prm.verify !== 'none') {
    const need = new Set<number>();
    for (const g of groups) for (const i of g) need.add(row[i]!);
    docs = await loadDocs(spec, Float64Array.from([...need].sort((x, y) => x - y)));
  }
  const verdict = new Map<string, boolean>();
  const similar = (a: number, c: number): boolean => {
    if (prm.verify === 'none') return true;
    const k = `${a}:${c}`;
    let v = verdict.get(k);
    if (v === undefined) {
      const x = docs.get(a)!, y = docs.get(c)!;
      v = (prm.verify === 'exact' ? jaccard(x, y) : estimatedJaccard(x, y)) >= prm.threshold;
      verdict.set(k, v);
    }
    return v;
  };
  const pairs: number[] = [];
  const seen = new Set<string>();
  for (const g of groups) {
    const reps: number[] = [row[g[0]!]!];
    for (let t = 1; t < g.length; t++) {
      const r = row[g[t]!]!;
      let matched = false;
      for (const a of reps) {
        if (!similar(a, r)) continue;
        matched = true;
        const k = `${a}:${r}`;
        if (!seen.has(k)) {
          seen.add(k);
          pairs.push(a, r);
        }
        break;
      }
      if (!matched && reps.length < prm.maxReps) reps.push(r);
    }
  }
  const file = paths.pairs(spec.work, b);
  mkdirSync(path.dirname(file), { recursive: true });
  const out = await FlatWriter.create(file);
  await out.add(Float64Array.from(pairs));
  await out.close();
  ctx.report(n, n);
  return { shards: [], stats: {}, files: [rel(ctx, file)], extra: { entries: n, groups: groups.length, checked: verdict.size, pairs: pairs.length / 2 } };
}

/** Global row -> dense index, open addressing over float64 keys (rows with a verified pair only). */
class RowIndex {
  private keys = new Float64Array(1 << 12).fill(-1);
  private vals = new Int32Array(1 << 12);
  rows = new Float64Array(1 << 10);
  size = 0;
  get(row: number): number {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    let s = (Math.imul(row | 0, 0x9e3779b1) ^ Math.imul((row / 4294967296) | 0, 0x85ebca6b)) & mask;
    for (;;) {
      const k = this.keys[s]!;
      if (k === row) return this.vals[s]!;
      if (k < 0) {
        this.keys[s] = row;
        if (this.size === this.rows.length) {
          const r = new Float64Array(this.rows.length * 2);
          r.set(this.rows);
          this.rows = r;
        }
        this.rows[this.size] = row;
        this.vals[s] = this.size;
        return this.size++;
      }
      s = (s + 1) & mask;
    }
  }
  private grow(): void {
    const old = this.rows.subarray(0, this.size);
    this.keys = new Float64Array(this.keys.length * 2).fill(-1);
    this.vals = new Int32Array(this.keys.length);
    const mask = this.keys.length - 1;
    for (let i = 0; i < old.length; i++) {
      const row = old[i]!;
      let s = (Math.imul(row | 0, 0x9e3779b1) ^ Math.imul((row / 4294967296) | 0, 0x85ebca6b)) & mask;
      while (this.keys[s]! >= 0) s = (s + 1) & mask;
      this.keys[s] = row;
      this.vals[s] = i;
    }
  }
}

export async function components(spec: DedupSpec, ctx: TaskContext): Promise<TaskOutput> {
  const index = new RowIndex();
  let parent = new Int32Array(1 << 10);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  let inited = 0;
  const node = (row: number): number => {
    const c = index.get(row);
    if (c === inited) {
      if (c === parent.length) {
        const bigger = new Int32Array(parent.length * 2);
        bigger.set(parent);
        parent = bigger;
      }
      parent[c] = c;
      inited++;
    }
    return c;
  };
  let pairCount = 0;
  const chunk = new Float64Array(1 << 20);
  for (let b = 0; b < spec.buckets; b++) {
    const file = paths.pairs(spec.work, b);
    const fh = await fsp.open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      for (let pos = 0; pos < size; pos += chunk.byteLength) {
        const view = chunk.subarray(0, Math.min(chunk.length, (size - pos) / 8));
        await readAt(fh, file, view, pos);
        for (let t = 0; t + 1 < view.length; t += 2) {
          const a = node(view[t]!), c = node(view[t + 1]!);
          pairCount++;
          const ra = find(a), rc = find(c);
          if (ra === rc) continue;
          // the root is always the component's earliest row: its survivor
          if (index.rows[ra]! < index.rows[rc]!) parent[rc] = ra;
          else parent[ra] = rc;
        }
      }
    } finally {
      await fh.close();
    }
    ctx.report(1, 0);
  }
  return finishComponents(spec, ctx, index, find, pairCount);
}

/** The ids (4 words each) of the given rows, ascending, read from the sign step's id files. */
async function readIds(spec: DedupSpec, rows: Float64Array): Promise<Int32Array> {
  const out = new Int32Array(rows.length * 4);
  let i = 0;
  while (i < rows.length) {
    const p = partOf(spec.parts, rows[i]!);
    const part = spec.parts[p]!;
    const file = paths.ids(spec.work, p);
    const fh = await fsp.open(file, 'r');
    try {
      for (; i < rows.length && rows[i]! < part.base + part.rows; i++) await readAt(fh, file, out.subarray(i * 4, i * 4 + 4), (rows[i]! - part.base) * 16);
    } finally {
      await fh.close();
    }
  }
  return out;
}

async function finishComponents(spec: DedupSpec, ctx: TaskContext, index: RowIndex, find: (x: number) => number, pairCount: number): Promise<TaskOutput> {
  const m = index.size;
  const rowOf = index.rows;
  const root = new Int32Array(m);
  const size = new Int32Array(m);
  for (let c = 0; c < m; c++) size[(root[c] = find(c))]++;
  const survivors: number[] = [];
  for (let c = 0; c < m; c++) if (root[c] === c) survivors.push(c);
  survivors.sort((x, y) => rowOf[x]! - rowOf[y]!);
  // components are numbered by their survivor's place in the global order: the same for any --tasks
  const compNo = new Int32Array(m);
  survivors.forEach((c, k) => (compNo[c] = k));
  const ids = await readIds(spec, Float64Array.from(survivors, (c) => rowOf[c]!));
  const idAt = new Int32Array(m);
  survivors.forEach((c, k) => (idAt[c] = k));
  const dropped: number[] = [];
  for (let c = 0; c < m; c++) if (root[c] !== c) dropped.push(c);
  dropped.sort((x, y) => rowOf[x]! - rowOf[y]!);
  const n = dropped.length;
  const drop = { row: new Float64Array(n), dup: new Float64Array(n), comp: new Float64Array(n), dupId: new Int32Array(n * 4) };
  const partKey = new Int32Array(n);
  dropped.forEach((c, t) => {
    const r = root[c]!;
    drop.row[t] = rowOf[c]!;
    drop.dup[t] = rowOf[r]!;
    drop.comp[t] = compNo[r]!;
    drop.dupId.set(ids.subarray(idAt[r]! * 4, idAt[r]! * 4 + 4), t * 4);
    partKey[t] = partOf(spec.parts, rowOf[c]!);
  });
  const file = paths.components(spec.work);
  mkdirSync(path.dirname(file), { recursive: true });
  const out = await SpillWriter.create(file, DROP_COLS, 16 << 20);
  await out.add(partKey, drop, n);
  await out.close();
  let largest = 0;
  for (const c of survivors) largest = Math.max(largest, size[c]!);
  return { shards: [], stats: {}, files: spillFiles(ctx.outDir, file), extra: { pairs: pairCount, rows: m, components: survivors.length, dropped: n, largest } };
}
