/**
 * The coreset engine, stage by stage (../shared/DESIGN.md): sample + train (global) → assign and
 * spill by bucket (one task per part) → dedup (one task per bucket) → exact cuts (global). Each
 * step leaves files a re-run finds, so an interrupted run resumes; the write step is the command's.
 *
 * A step counts as done only while the files the remaining work reads are there: `_work` is removed
 * after a successful run (and any file may be lost), so a re-run that must write a part again, or
 * has lost the cuts, rebuilds the row results — dedup, assign, the centroids — as far back as needed
 * (see forgetStale). Every step is deterministic for a seed, so what is rebuilt matches what was kept.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { markerPath, runStage } from '../run/executor.js';
import { Progress } from '../run/progress.js';
import { readNpyHeader } from '../util/npy.js';
import { writeFileAtomic } from '../write/atomic.js';
import type { CoresetConfig } from './config.js';
import { bucketCount, paths, type CoresetTaskSpec } from './layout.js';
import { computeCuts, loadCuts, saveCuts, type Cuts, type StepCounts } from './select.js';
import type { SourceSpec } from './source.js';
import { spillComplete } from './spill.js';
import { trainOrLoad } from './train.js';

export interface EngineOptions {
  outDir: string;
  log?: (line: string) => void;
  quiet?: boolean;
  /**
   * Whether every row result must be on disk when the engine returns (default true): the command
   * passes false when every write task has finished, so a re-run that only rebuilds the summary
   * recomputes nothing.
   */
  needRows?: boolean;
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
  const seconds: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    seconds[name] = (now - t) / 1000;
    t = now;
  };

  // The centroids count only with the proven labels beside them (written first, see train.ts).
  const centroidFile = paths.centroids(work);
  let kmeans: EngineResult['kmeans'] | undefined;
  const train = async (): Promise<EngineResult['kmeans']> => {
    const tr = await trainOrLoad(source, cfg, centroidFile, log);
    seconds.sample = tr.seconds.sample;
    return { k: tr.k, trained: !!tr.result, sampleRows: tr.sampleRows, objective: tr.result?.objective, splits: tr.result?.splits, searched: tr.result?.searched };
  };
  if (existsSync(centroidFile) && existsSync(paths.sampleLabels(work))) {
    kmeans = { k: (await readNpyHeader(centroidFile)).rows, trained: false, sampleRows: 0 };
    log(`coreset: reusing ${centroidFile}`);
  }
  const k = kmeans?.k ?? (cfg.centroids ? (await readNpyHeader(cfg.centroids)).rows : cfg.k);
  const buckets = bucketCount(source.total, source.dim, k, cfg.bucketBytes);
  const base = { source, cfg, work, k, buckets };
  const spec: CoresetTaskSpec = { step: 'write', ...base };
  checkSameRun(o.outDir, spec);
  mkdirSync(work, { recursive: true });

  const needRows = (o.needRows ?? true) || !existsSync(paths.cuts(o.outDir));
  const assignToRun = forgetStale(o.outDir, spec, needRows);
  // Training is only needed by assign tasks still to run, and for OUT/centroids.npy.
  if (!kmeans) {
    if (assignToRun > 0 || !existsSync(path.join(o.outDir, 'centroids.npy'))) kmeans = await train();
    else kmeans = { k, trained: false, sampleRows: 0 };
  }
  recordRun(o.outDir, spec);
  lap('kmeans');

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

  let sel: { cuts: Cuts; counts: StepCounts };
  if (existsSync(paths.cuts(o.outDir))) sel = loadCuts(o.outDir);
  else {
    sel = await computeCuts(spec);
    saveCuts(o.outDir, sel.cuts, sel.counts);
  }
  lap('bands');
  return { spec, counts: sel.counts, cuts: sel.cuts, seconds, kmeans: { ...kmeans, assignSkipped: searchSkipped }, dedup };
}

/**
 * The state a re-run keeps (cuts, markers) belongs to the inputs and settings it was made with: a run
 * records its spec once it has its centroids, and a run with another spec is refused before anything
 * is reused or forgotten.
 */
function specFile(outDir: string): string {
  return path.join(paths.state(outDir), 'spec.json');
}

function checkSameRun(outDir: string, spec: CoresetTaskSpec): void {
  const file = specFile(outDir);
  if (existsSync(file) && readFileSync(file, 'utf8') !== JSON.stringify(spec)) {
    throw new UsageError(`${outDir} holds the output of a different coreset run (other inputs or options); choose another --out or delete it`);
  }
}

function recordRun(outDir: string, spec: CoresetTaskSpec): void {
  if (!existsSync(specFile(outDir))) writeFileAtomic(specFile(outDir), JSON.stringify(spec));
}

/**
 * Removes the markers of assign and dedup tasks whose outputs are needed but gone, so the executor
 * runs those tasks again: dedup task b when the row results are needed and bucket b's are missing;
 * assign task p when its invalid rows are needed and missing, or when a dedup task will run and
 * p's spill is missing. Returns how many assign tasks will run (they need the centroids).
 */
function forgetStale(outDir: string, spec: CoresetTaskSpec, needRows: boolean): number {
  const { work, source, buckets } = spec;
  const toRun = (stage: string, rank: number, needs: string[]): boolean => {
    const marker = markerPath(outDir, stage, rank);
    if (!existsSync(marker)) return true;
    if (needs.every(spillComplete)) return false;
    rmSync(marker);
    return true;
  };
  let dedup = 0;
  for (let b = 0; b < buckets; b++) if (toRun('coreset-dedup', b, needRows ? [paths.rows(work, b)] : [])) dedup++;
  let assign = 0;
  for (let p = 0; p < source.parts.length; p++) {
    const needs = [...(needRows ? [paths.invalid(work, p)] : []), ...(dedup > 0 ? [paths.assign(work, p)] : [])];
    if (toRun('coreset-assign', p, needs)) assign++;
  }
  return assign;
}
