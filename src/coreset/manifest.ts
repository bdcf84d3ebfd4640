/**
 * The coreset's last step: the manifest (Bunny-style accounting from the markers), OUT/centroids.npy for
 * reuse with --centroids, and the clean-up of OUT/_work unless --keep-work.
 */
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { TaskContext, TaskOutput, TaskResult } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { tmpName } from '../write/atomic.js';
import { buildManifest, writeManifest, writeRunLog, type Step } from '../write/manifest.js';
import type { CoresetConfig } from './config.js';
import { engineSummary, type EngineResult } from './engine.js';
import { paths, type CoresetTaskSpec } from './layout.js';
import type { WriteSettings } from './write.js';

export interface CoresetManifestSpec {
  command: string[];
  input: string;
  recipe: Record<string, unknown> | null;
  coreset: Record<string, unknown>;
  keepWork: boolean;
  spec: CoresetTaskSpec;
  worlds: Record<string, number>;
}

export async function runTask(o: CoresetManifestSpec, ctx: TaskContext): Promise<TaskOutput> {
  const out = ctx.outDir;
  const plans = Object.entries(o.worlds).map(([step, world]) => ({ step, world, module: '', spec: null }));
  const eng = engineSummary(out, plans, o.spec);
  const results = readResults(out, 'write', o.worlds.write!);
  const settings = o.spec.write as WriteSettings;
  const work = paths.work(out);
  const to = path.join(out, 'centroids.npy');
  if (existsSync(paths.centroids(work))) {
    copyFileSync(paths.centroids(work), tmpName(to));
    renameSync(tmpName(to), to);
  }
  const manifest = buildManifest({
    stage: 'coreset',
    layout: settings.layout,
    command: o.command,
    results,
    columns: settings.columns,
    steps: steps(o.spec.cfg, eng.counts, results),
    extra: {
      input: o.input,
      input_layout: o.spec.source.layout,
      recipe: o.recipe,
      coreset: o.coreset,
      kmeans: { k: eng.kmeans.k, trained: eng.kmeans.trained, sample_rows: eng.kmeans.sampleRows, centroids: 'centroids.npy' },
      dedup: eng.dedup,
      bands: eng.cuts,
    },
  });
  writeManifest(out, manifest);
  writeRunLog(out, {
    timings_s: { ...eng.seconds, write: results.reduce((a, r) => a + (r.seconds ?? 0), 0) },
    // the objective per round covers the points each round searched, which depends on measured costs
    kmeans: { objective_searched: eng.kmeans.objective ?? null, splits: eng.kmeans.splits ?? null, searched: eng.kmeans.searched ?? null, assign_skipped: eng.kmeans.assignSkipped ?? 0 },
  });
  if (!o.keepWork) {
    rmSync(work, { recursive: true, force: true });
    const parent = path.dirname(work);
    if (existsSync(parent) && readdirSync(parent).length === 0) rmSync(parent, { recursive: true });
  }
  return { shards: [], stats: {}, files: ['manifest.json'] };
}

/** Bunny-style accounting: N -> dedup -> clip band -> centroid band -> sample. */
function steps(c: CoresetConfig, n: EngineResult['counts'], results: TaskResult[]): Step[] {
  const s: Step[] = [];
  const valid = n.read - n.invalid;
  s.push({ name: 'embeddings', in: n.read, out: valid });
  if (c.dedup) s.push({ name: `dedup ${c.dedup.rule} (cos ${c.dedup.rule === 'semdedup' ? '>=' : '>'} ${c.dedup.threshold}, k=${c.k})`, in: valid, out: n.dedup });
  if (c.clipBand) s.push({ name: `clip_score band ${c.clipBand.lo}-${c.clipBand.hi}%`, in: n.dedup, out: n.clipBand });
  if (c.centroidBand) s.push({ name: `centroid band ${c.centroidBand.lo}-${c.centroidBand.hi}%`, in: n.clipBand, out: n.centroidBand });
  if (c.target !== undefined) s.push({ name: `sample ${c.target}`, in: n.centroidBand, out: n.sample });
  const written = results.reduce((a, r) => a + r.shards.reduce((b, x) => b + x.rows, 0), 0);
  if (written !== n.sample) throw new Error(`coreset: ${written} rows written but the selection kept ${n.sample}`);
  return s;
}
