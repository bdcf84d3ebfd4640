/**
 * The score stage's filter step for --keep-top: task r re-reads the rows score task r staged and keeps
 * those above the saved cut (cut.ts). Its inputs come from the score marker and the cut file, so the task
 * runs the same on any machine.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { markerState } from '../run/markers.js';
import type { ShardInfo } from '../write/shard-writer.js';
import { CUT_FILE, type SavedCut } from './cut.js';
import { filterPhase, type ScoreExtra, type ScoreSpec } from './task.js';

export async function runTask(spec: ScoreSpec, ctx: TaskContext): Promise<TaskOutput> {
  const m = markerState(ctx.outDir, 'score', ctx.rank);
  if (m.state !== 'done') throw new Error(`score task ${ctx.rank} has not finished (or its staged rows are gone) in ${ctx.outDir}; run the score step first`);
  const extra = m.result.extra as ScoreExtra & { staged: ShardInfo[] };
  const cut = JSON.parse(readFileSync(path.join(ctx.outDir, CUT_FILE), 'utf8')) as SavedCut;
  const mine: ScoreSpec = {
    ...spec,
    phase: 'filter',
    shards: extra.staged.map((s) => ({ abs: path.join(spec.staging!, s.path), rel: path.join('_staging', s.path) })),
    assignment: Array.from({ length: ctx.world }, (_, r) => (r === ctx.rank ? extra.staged.map((_s, i) => i) : [])),
    staging: undefined,
    cut: { threshold: cut.threshold, ties: cut.ties },
    kv: { embedding_dim: extra.embedding_dim, model: extra.model, test_encoder: extra.test_encoder, stage: 'score' },
    rejectRankOffset: ctx.world,
  };
  return filterPhase(mine, ctx);
}
