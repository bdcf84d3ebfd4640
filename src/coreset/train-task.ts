/** The coreset's first step (global): draw the training sample and train k-means, or load --centroids. */
import path from 'node:path';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import type { CoresetConfig } from './config.js';
import { paths } from './layout.js';
import type { SourceSpec } from './source.js';
import { trainOrLoad } from './train.js';

export interface TrainSpec {
  source: SourceSpec;
  cfg: CoresetConfig;
  work: string;
  quiet?: boolean;
}

export async function runTask(spec: TrainSpec, ctx: TaskContext): Promise<TaskOutput> {
  const log = (s: string) => void (spec.quiet ? undefined : process.stderr.write(s + '\n'));
  const file = paths.centroids(spec.work);
  const t0 = performance.now();
  const tr = await trainOrLoad(spec.source, spec.cfg, file, log);
  const seconds = { ...tr.seconds, kmeans: (performance.now() - t0) / 1000 };
  const files = [file, paths.sampleLabels(spec.work)].map((f) => path.relative(ctx.outDir, f));
  const kmeans = { k: tr.k, trained: !!tr.result, sampleRows: tr.sampleRows, finalObjective: tr.result?.finalObjective, objective: tr.result?.objective, splits: tr.result?.splits, searched: tr.result?.searched };
  return { shards: [], stats: {}, files, extra: { kmeans, seconds } };
}
