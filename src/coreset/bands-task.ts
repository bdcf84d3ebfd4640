/** The coreset's global selection step: the exact rank bands and the sample over every row result. */
import path from 'node:path';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { paths, type CoresetTaskSpec } from './layout.js';
import { computeCuts, saveCuts } from './select.js';

export async function runTask(spec: CoresetTaskSpec, ctx: TaskContext): Promise<TaskOutput> {
  const sel = await computeCuts(spec);
  saveCuts(ctx.outDir, sel.cuts, sel.counts);
  return { shards: [], stats: {}, files: [path.relative(ctx.outDir, paths.cuts(ctx.outDir))], extra: { counts: sel.counts } };
}
