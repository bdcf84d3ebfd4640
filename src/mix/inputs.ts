/**
 * The mix's inputs: each `--input KIND=DIR[:weight]` is checked against its manifest (files, bytes,
 * sha256, rows), must hold records of the kind it is given as, and is split into its sources by reading
 * the `source` column. A source is then a list of row indices into its dataset; by tokens each row also
 * gets its token count. Only the source and text columns are read here, never image bytes.
 */
import { resolve } from '../storage/location.js';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import type { Kind } from '../records.js';
import type { Manifest } from '../write/manifest.js';
import { verifyDataset } from '../audit/verify.js';
import type { InputSpec } from './ratios.js';
import type { TokenCounter } from './tokens.js';

export interface InputDataset {
  spec: InputSpec;
  dir: string;
  manifest: Manifest;
  /** Shards in manifest order, with the dataset row index of their first row. */
  shards: { path: string; rows: number; start: number }[];
  rows: number;
  bytes: number;
  hasClipScore: boolean;
}

export interface InputSource {
  kind: Kind;
  name: string;
  /** Index into the datasets. */
  dataset: number;
  /** Dataset row indices of this source, ascending. */
  rows: Uint32Array;
  /** Tokens of each of those rows (by tokens only). */
  tokens?: Uint32Array;
  /** The input's weight, when its flag gave one. */
  weight?: number;
}

/** Rows per read: whole row groups (readRowGroup decodes a group once and serves its slices), huge foreign groups in big slices. */
export const BATCH_ROWS = 262_144;

async function* column(ds: InputDataset, columns: string[]): AsyncGenerator<{ start: number; rows: Record<string, unknown>[] }> {
  for (const sh of ds.shards) {
    const pf = await openParquet(path.join(ds.dir, sh.path));
    const cols = columns.filter((c) => pf.columns.includes(c));
    for (const g of pf.groups) for (const s of slices(g, BATCH_ROWS)) yield { start: sh.start + s.start, rows: await readRowGroup(pf, s, cols) };
  }
}

/** Opens and verifies one input; every disagreement with its manifest is a usage error naming the folder. */
async function openInput(spec: InputSpec, sha256: boolean): Promise<InputDataset> {
  const flag = `--input ${spec.spec}:`;
  const v = await verifyDataset(spec.dir, { flag: `--input ${spec.spec}`, sha256 });
  if (v.problems.length) {
    throw new UsageError(`${flag} the manifest in ${spec.dir} disagrees with its shards: ${v.problems.join('; ')}; re-run the stage that wrote it`);
  }
  const m = v.manifest;
  if (m.layout !== spec.kind) {
    throw new UsageError(`${flag} ${spec.dir} holds ${m.layout} records, but it is given as ${spec.kind}; use --input ${m.layout}=${spec.dir}`);
  }
  if (m.shards.reduce((a, s) => a + s.rows, 0) === 0) throw new UsageError(`${flag} ${spec.dir} holds no rows; nothing to mix from it`);
  let start = 0;
  const shards = m.shards.map((s) => {
    const out = { path: s.path, rows: s.rows, start };
    start += s.rows;
    return out;
  });
  return {
    spec,
    dir: spec.dir,
    manifest: m,
    shards,
    rows: start,
    bytes: m.shards.reduce((a, s) => a + s.bytes, 0),
    hasClipScore: (m.columns ?? []).includes('clip_score'),
  };
}

/** Number of images of a row from its texts alone (OBELICS: a null text marks an image position). */
function imagesOf(row: Record<string, unknown>, kind: Kind): number {
  if (kind === 'caption') return 1;
  if (Array.isArray(row.texts)) return (row.texts as unknown[]).filter((t) => typeof t !== 'string').length;
  return 0;
}

/**
 * Opens every input and splits it into sources.
 * @param tokens when given (by tokens), each row's tokens are counted as it is read.
 */
export async function openInputs(
  specs: readonly InputSpec[],
  opts: { sha256?: boolean; tokens?: { counter: TokenCounter; visualTokensPerImage: number } } = {},
): Promise<{ datasets: InputDataset[]; sources: InputSource[] }> {
  const datasets: InputDataset[] = [];
  const seenDir = new Map<string, string>();
  for (const spec of specs) {
    const key = resolve(spec.dir);
    if (seenDir.has(key)) throw new UsageError(`--input ${spec.spec}: the folder is already given as --input ${seenDir.get(key)}`);
    seenDir.set(key, spec.spec);
    datasets.push(await openInput(spec, opts.sha256 !== false));
  }
  const sources: InputSource[] = [];
  for (const [di, ds] of datasets.entries()) {
    const names: string[] = [];
    const index = new Map<string, number>();
    const sourceOf = new Uint16Array(ds.rows);
    const tokensOf = opts.tokens ? new Uint32Array(ds.rows) : undefined;
    const cols = opts.tokens ? ['source', 'text', 'texts'] : ['source'];
    for await (const b of column(ds, cols)) {
      b.rows.forEach((row, j) => {
        const name = String(row.source ?? '');
        let si = index.get(name);
        if (si === undefined) {
          si = names.push(name) - 1;
          if (si > 0xfffe) throw new UsageError(`--input ${ds.spec.spec}: more than 65,535 sources in one folder`);
          index.set(name, si);
        }
        sourceOf[b.start + j] = si;
        if (tokensOf && opts.tokens) {
          const texts = Array.isArray(row.texts) ? (row.texts as unknown[]) : [row.text];
          let n = imagesOf(row, ds.spec.kind) * opts.tokens.visualTokensPerImage;
          for (const t of texts) if (typeof t === 'string' && t) n += opts.tokens.counter.count(t);
          tokensOf[b.start + j] = n;
        }
      });
    }
    const counts = new Array<number>(names.length).fill(0);
    for (let r = 0; r < ds.rows; r++) counts[sourceOf[r]!]!++;
    const claimed = ds.manifest.sources ?? {};
    const problems: string[] = [];
    names.forEach((n, si) => {
      const kept = claimed[n]?.kept;
      if (kept === undefined) problems.push(`source "${n}" has ${counts[si]} rows but the manifest does not list it`);
      else if (kept !== counts[si]) problems.push(`source "${n}" has ${counts[si]} rows, the manifest says ${kept}`);
    });
    for (const [n, s] of Object.entries(claimed)) if (s.kept > 0 && !index.has(n)) problems.push(`the manifest lists source "${n}" with ${s.kept} rows but no shard holds any`);
    if (problems.length) throw new UsageError(`--input ${ds.spec.spec}: the manifest in ${ds.dir} disagrees with its shards: ${problems.join('; ')}`);
    names.forEach((name, si) => {
      const rows = new Uint32Array(counts[si]!);
      let at = 0;
      for (let r = 0; r < ds.rows; r++) if (sourceOf[r] === si) rows[at++] = r;
      const src: InputSource = { kind: ds.spec.kind, name, dataset: di, rows, ...(ds.spec.weight !== undefined ? { weight: ds.spec.weight } : {}) };
      if (tokensOf) src.tokens = rows.map((r) => tokensOf[r]!);
      sources.push(src);
    });
  }
  const byName = new Map<string, InputSource>();
  for (const s of sources) {
    const other = byName.get(s.name);
    if (other) {
      throw new UsageError(
        `source "${s.name}" is in two inputs, --input ${datasets[other.dataset]!.spec.spec} and --input ${datasets[s.dataset]!.spec.spec}; a source may come from one input (rename one at ingest with NAME=PATH)`,
      );
    }
    byName.set(s.name, s);
  }
  return { datasets, sources };
}
