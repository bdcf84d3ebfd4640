/**
 * The score stage's global step for --keep-top: the exact cut over every task's scores (the fraction is
 * of the whole input), and each filter task's share of the ties at the threshold, saved for the filter
 * tasks. Reads the small scores files, never the rows.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { writeFileAtomic } from '../write/atomic.js';
import { topFractionCut } from './filters.js';
import { scoresFile } from './task.js';

export interface CutSpec {
  world: number;
  keepTop: number;
}

export interface SavedCut {
  threshold: number;
  ties: number[];
  scored: number;
}

export const CUT_FILE = path.join('_tasks', 'cut', 'cut.json');

export async function runTask(spec: CutSpec, ctx: TaskContext): Promise<TaskOutput> {
  const results = readResults(ctx.outDir, 'score', spec.world);
  const perRank = results.map((r) => {
    const b = readFileSync(scoresFile(ctx.outDir, r.rank));
    return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  });
  const all = new Float64Array(perRank.reduce((a, s) => a + s.length, 0));
  let off = 0;
  for (const s of perRank) {
    all.set(s, off);
    off += s.length;
  }
  const cut = topFractionCut(all, spec.keepTop);
  // Ties at the threshold go to the lowest ranks first, rows in order: deterministic, and exactly `keep` kept.
  let left = cut.tiesKept;
  const ties = perRank.map((s) => {
    let n = 0;
    for (const v of s) if (v === cut.threshold) n++;
    const mine = Math.min(n, left);
    left -= mine;
    return mine;
  });
  const saved: SavedCut = { threshold: cut.threshold, ties, scored: all.length };
  writeFileAtomic(path.join(ctx.outDir, CUT_FILE), JSON.stringify(saved) + '\n');
  return { shards: [], stats: {}, files: [CUT_FILE], extra: { threshold: cut.threshold } };
}
