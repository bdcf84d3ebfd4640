/** The mix stage's one task: the mixture and its manifest (see command.ts, mixInto). */
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { mixInto } from './command.js';

export async function runTask(spec: { argv: string[] }, ctx: TaskContext): Promise<TaskOutput> {
  const { manifest, report } = await mixInto(spec.argv, ctx.outDir);
  return { shards: manifest.shards, stats: manifest.sources, files: ['manifest.json'], extra: { report } };
}
