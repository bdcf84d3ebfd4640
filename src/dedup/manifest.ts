/**
 * The dedup stage's last step: the manifest (read = kept + rejected per source, from the write markers), the
 * shuffle's counts from the other steps' markers, and the clean-up of OUT/_work/dedup unless --keep-work.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { TaskContext, TaskOutput, TaskResult } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { buildManifest, writeManifest } from '../write/manifest.js';
import { paths, type DedupSpec } from './layout.js';
import { candidateProbability } from './minhash.js';

export interface DedupManifestSpec {
  command: string[];
  spec: DedupSpec;
  worlds: Record<string, number>;
  keepWork: boolean;
}

/** A step's per-item extras summed by key (numbers only; `largest` is a maximum). */
function sums(results: TaskResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const items = ((r.extra as { items?: Record<string, unknown>[] } | undefined)?.items ?? [r.extra ?? {}]) as Record<string, unknown>[];
    for (const it of items) {
      for (const [k, v] of Object.entries(it)) {
        if (typeof v !== 'number' || k === 'item') continue;
        out[k] = k === 'largest' ? Math.max(out[k] ?? 0, v) : (out[k] ?? 0) + v;
      }
    }
  }
  return out;
}

export async function runTask(o: DedupManifestSpec, ctx: TaskContext): Promise<TaskOutput> {
  const out = ctx.outDir;
  const s = o.spec;
  const step = (name: string) => sums(readResults(out, name, o.worlds[name]!));
  const results = readResults(out, 'write', o.worlds.write!);
  const read = results.reduce((a, r) => a + Object.values(r.stats).reduce((b, x) => b + x.read, 0), 0);
  const kept = results.reduce((a, r) => a + r.shards.reduce((b, x) => b + x.rows, 0), 0);
  let dedup: Record<string, unknown>;
  let dropped: number;
  let name: string;
  if (s.exact) {
    const h = step('hash');
    const r = step('resolve');
    dropped = r.dropped ?? 0;
    name = `dedup exact ${s.exact}`;
    dedup = {
      mode: 'exact',
      key: s.exact,
      hash: 'sha256',
      normalisation: s.exact === 'url' ? 'WHATWG URL, fragment dropped' : s.exact === 'image' ? 'encoded image bytes' : 'NFC, lower case, white space collapsed',
      buckets: s.buckets,
      rows: h.rows ?? 0,
      unkeyed: h.unkeyed ?? 0,
      unique_keys: r.unique ?? 0,
      duplicates: dropped,
    };
  } else {
    const prm = s.near!.params;
    const g = step('sign');
    const b = step('bands');
    const c = step('components');
    dropped = c.dropped ?? 0;
    name = `dedup near ${s.near!.what} (MinHash ${prm.bands}x${prm.rows}, ${prm.ngram}-grams, Jaccard >= ${prm.threshold})`;
    dedup = {
      mode: 'near',
      text: s.near!.what,
      ngram: prm.ngram,
      bands: prm.bands,
      rows: prm.rows,
      threshold: prm.threshold,
      verify: prm.verify,
      seed: prm.seed,
      buckets: s.buckets,
      // LSH's chance that a pair at this Jaccard becomes a candidate: 1 - (1 - s^rows)^bands
      candidate_probability: Object.fromEntries([0.5, 0.7, 0.8, 0.9].map((j) => [String(j), Number(candidateProbability(j, prm.bands, prm.rows).toFixed(4))])),
      documents: g.rows ?? 0,
      unkeyed: g.unkeyed ?? 0,
      band_entries: b.entries ?? 0,
      candidate_pairs_checked: b.checked ?? 0,
      verified_pairs: b.pairs ?? 0,
      components: c.components ?? 0,
      largest_component: c.largest ?? 0,
      duplicates: dropped,
    };
  }
  if (read - kept !== dropped) throw new Error(`dedup: ${read} rows read and ${kept} kept, but ${dropped} were found duplicate; the intermediate files do not match: delete ${out} and run again`);
  const manifest = buildManifest({
    stage: 'dedup',
    layout: s.layout,
    command: o.command,
    results,
    columns: s.write.columns,
    steps: [{ name, in: read, out: kept }],
    extra: { inputs: s.inputs, dedup },
  });
  writeManifest(out, manifest);
  if (!o.keepWork) {
    const work = paths.work(out);
    rmSync(work, { recursive: true, force: true });
    const parent = path.dirname(work);
    if (existsSync(parent) && readdirSync(parent).length === 0) rmSync(parent, { recursive: true });
  }
  return { shards: [], stats: {}, files: ['manifest.json'] };
}
