/**
 * The coreset's steps under the stage contract (docs/ARCHITECTURE.md): train (global: sample + k-means, or
 * --centroids) → assign and spill by bucket (ranked over the input parts) → dedup (ranked over the buckets
 * of clusters) → bands (global: exact cuts) → write (ranked over the parts) → manifest. Every step is
 * deterministic for a seed, so a step the runner must redo (its files were cleaned up and a later step
 * needs them) rebuilds exactly what was there.
 */
import { readNpyHeader } from '../util/npy.js';
import { UsageError } from '../errors.js';
import { worldOf, type StepPlan, type TaskResult } from '../run/contract.js';
import { pendingAndRun } from '../run/executor.js';
import { readResults } from '../run/markers.js';
import { savePlans } from '../run/plan.js';
import type { CoresetConfig } from './config.js';
import { bucketCount, paths, type CoresetTaskSpec } from './layout.js';
import { loadCuts, type Cuts, type StepCounts } from './select.js';
import type { SourceSpec } from './source.js';
import type { TrainSpec } from './train-task.js';

export interface EngineResult {
  spec: CoresetTaskSpec;
  counts: StepCounts;
  cuts: Cuts;
  seconds: Record<string, number>;
  kmeans: { k: number; trained: boolean; sampleRows: number; finalObjective?: number; objective?: number[]; splits?: number[]; searched?: number[]; assignSkipped?: number };
  dedup: { clusters: number; largest: number; pairs: number; dropped: number };
}

/** The plans of the engine's steps (train, assign, dedup, bands) and the spec every ranked step shares. */
export async function planEngine(source: SourceSpec, cfg: CoresetConfig, outDir: string, tasks?: number, quiet?: boolean): Promise<{ plans: StepPlan[]; spec: CoresetTaskSpec }> {
  const k = cfg.centroids ? (await readNpyHeader(cfg.centroids)).rows : cfg.k;
  if (!cfg.centroids && source.total > 0 && cfg.k > source.total) throw new UsageError(`--k ${cfg.k} is larger than the number of vectors (${source.total}); use --k ${source.total} or fewer`);
  const buckets = bucketCount(source.total, source.dim, k, cfg.bucketBytes);
  const work = paths.work(outDir);
  const spec: CoresetTaskSpec = { step: 'write', source, cfg, work, k, buckets };
  const train: TrainSpec = { source, cfg, work, quiet };
  // threads and the device change how the products run, not what they give (exact dots decide the output)
  const how = ['cfg.threads', 'quiet'];
  const parts = worldOf(source.parts.length, tasks);
  return {
    spec,
    plans: [
      { step: 'train', world: 1, module: 'coreset/train-task.js', spec: train, how },
      { step: 'assign', world: parts, module: 'coreset/tasks.js', spec: { ...spec, step: 'assign' }, how: ['cfg.threads'], needs: ['train'], lanes: 1, total: source.total, unit: 'rows' },
      { step: 'dedup', world: worldOf(buckets, tasks), module: 'coreset/tasks.js', spec: { ...spec, step: 'dedup' }, how: ['cfg.threads'], needs: ['assign'], lanes: 1, total: source.total, unit: 'rows' },
      { step: 'bands', world: 1, module: 'coreset/bands-task.js', spec: { ...spec, step: 'dedup' }, how: ['cfg.threads'], needs: ['dedup', 'assign'] },
    ],
  };
}

/** What the engine's markers say: counts, cuts, k-means and dedup figures, seconds per step. */
export function engineSummary(outDir: string, plans: StepPlan[], spec: CoresetTaskSpec): EngineResult {
  const results = new Map<string, TaskResult[]>();
  const of = (step: string): TaskResult[] => {
    if (!results.has(step)) results.set(step, readResults(outDir, step, plans.find((p) => p.step === step)!.world));
    return results.get(step)!;
  };
  const train = of('train')[0]!;
  const items = (step: string) => of(step).flatMap((r) => ((r.extra as { items?: Record<string, number>[] }).items ?? []));
  const dedup = { clusters: 0, largest: 0, pairs: 0, dropped: 0 };
  for (const e of items('dedup')) {
    dedup.clusters += e.clusters!;
    dedup.largest = Math.max(dedup.largest, e.largest!);
    dedup.pairs += e.pairs!;
    dedup.dropped += e.dropped!;
  }
  const skipped = items('assign').reduce((a, e) => a + (e.skipped ?? 0), 0);
  const secs = (step: string) => of(step).reduce((a, r) => a + (r.seconds ?? 0), 0);
  const t = train.extra as { kmeans: EngineResult['kmeans']; seconds: Record<string, number> };
  const sel = loadCuts(outDir);
  return {
    spec,
    counts: sel.counts,
    cuts: sel.cuts,
    seconds: { sample: t.seconds.sample ?? 0, kmeans: secs('train'), assign: secs('assign'), dedup: secs('dedup'), bands: secs('bands') },
    kmeans: { ...t.kmeans, assignSkipped: skipped },
    dedup,
  };
}

/** Runs the engine's steps here (what tests and benchmarks call); the command adds write and manifest. */
export async function runEngine(source: SourceSpec, cfg: CoresetConfig, o: { outDir: string; quiet?: boolean; tasks?: number }): Promise<EngineResult> {
  const { plans, spec } = await planEngine(source, cfg, o.outDir, o.tasks, o.quiet);
  savePlans(o.outDir, 'coreset', plans);
  await pendingAndRun(o.outDir, 'coreset', plans, { quiet: o.quiet });
  return engineSummary(o.outDir, plans, spec);
}
