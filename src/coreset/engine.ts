/**
 * The coreset engine, stage by stage (../shared/DESIGN.md): sample + train (global) → assign and
 * spill by bucket (one task per part) → dedup (one task per bucket) → exact cuts (global). Each
 * step leaves files a re-run finds, so an interrupted run resumes; the write step is the command's.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { runStage } from '../run/executor.js';
import { Progress } from '../run/progress.js';
import { readNpy } from '../util/npy.js';
import type { CoresetConfig } from './config.js';
import { bucketCount, paths, type CoresetTaskSpec } from './layout.js';
import { computeCuts, loadCuts, saveCuts, type Cuts, type StepCounts } from './select.js';
import type { SourceSpec } from './source.js';
import { trainOrLoad } from './train.js';

export interface EngineOptions {
  outDir: string;
  log?: (line: string) => void;
  quiet?: boolean;
}

export interface EngineResult {
  spec: CoresetTaskSpec;
  counts: StepCounts;
  cuts: Cuts;
  seconds: Record<string, number>;
  kmeans: { k: number; trained: boolean; sampleRows: number; objective?: number[]; splits?: number[]; searched?: number[]; assignSkipped?: number };
  dedup: { clusters: number; largest: number; pairs: number; dropped: number };
}

const TASKS = new URL('./tasks.js', import.meta.url).href;

export async function runEngine(source: SourceSpec, cfg: CoresetConfig, o: EngineOptions): Promise<EngineResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const work = paths.work(o.outDir);
  mkdirSync(work, { recursive: true });
  const seconds: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    seconds[name] = (now - t) / 1000;
    t = now;
  };

  const centroidFile = paths.centroids(work);
  let kmeans: EngineResult['kmeans'];
  if (existsSync(centroidFile)) {
    const { header } = await readNpy(centroidFile);
    kmeans = { k: header.rows, trained: false, sampleRows: 0 };
    log(`coreset: reusing ${centroidFile}`);
  } else {
    const tr = await trainOrLoad(source, cfg, centroidFile, log);
    kmeans = { k: tr.k, trained: !!tr.result, sampleRows: tr.sampleRows, objective: tr.result?.objective, splits: tr.result?.splits, searched: tr.result?.searched };
    seconds.sample = tr.seconds.sample;
  }
  lap('kmeans');
  const k = kmeans.k;
  const buckets = bucketCount(source.total, source.dim, k, cfg.bucketBytes);
  const base = { source, cfg, work, k, buckets };

  const assignProgress = new Progress('coreset assign', source.total, 'rows', o.quiet);
  const ares = await runStage<CoresetTaskSpec>({ outDir: o.outDir, stage: 'coreset-assign', world: source.parts.length, workers: 1, taskModule: TASKS, spec: { step: 'assign', ...base }, progress: assignProgress });
  assignProgress.finish();
  const searchSkipped = ares.reduce((a, r) => a + Number((r.extra as { skipped?: number }).skipped ?? 0), 0);
  lap('assign');

  const dedupProgress = new Progress('coreset dedup', source.total, 'rows', o.quiet);
  const dres = await runStage<CoresetTaskSpec>({ outDir: o.outDir, stage: 'coreset-dedup', world: buckets, workers: 1, taskModule: TASKS, spec: { step: 'dedup', ...base }, progress: dedupProgress });
  dedupProgress.finish();
  const dedup = { clusters: 0, largest: 0, pairs: 0, dropped: 0 };
  for (const r of dres) {
    const e = r.extra as typeof dedup;
    dedup.clusters += e.clusters;
    dedup.largest = Math.max(dedup.largest, e.largest);
    dedup.pairs += e.pairs;
    dedup.dropped += e.dropped;
  }
  lap('dedup');

  const spec: CoresetTaskSpec = { step: 'write', ...base };
  let sel: { cuts: Cuts; counts: StepCounts };
  if (existsSync(paths.cuts(work))) sel = loadCuts(spec);
  else {
    sel = await computeCuts(spec);
    saveCuts(spec, sel.cuts, sel.counts);
  }
  lap('bands');
  return { spec, counts: sel.counts, cuts: sel.cuts, seconds, kmeans: { ...kmeans, assignSkipped: searchSkipped }, dedup };
}
