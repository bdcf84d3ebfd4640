/** The score stage's last step: the manifest, from the score (and, with --keep-top, filter) markers. */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Kind } from '../records.js';
import type { TaskContext, TaskOutput, TaskResult } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { buildManifest, writeManifest, writeRunLog, type Step } from '../write/manifest.js';
import type { ScoreExtra } from './task.js';

export interface ScoreManifestSpec {
  kind: Kind;
  command: string[];
  world: number;
  input: string;
  columns: string[];
  modelDir?: string;
  variant?: string;
  minClipScore?: number;
  keepTop?: number;
  emitNpy: boolean;
  heads?: { name: string; file: string; sha256: string }[];
}

export async function runTask(o: ScoreManifestSpec, ctx: TaskContext): Promise<TaskOutput> {
  const results = readResults(ctx.outDir, 'score', o.world);
  const filtered = o.keepTop !== undefined ? readResults(ctx.outDir, 'filter', o.world) : undefined;
  const first = results.find((r) => r.extra)?.extra as ScoreExtra | undefined;
  const sum = (k: keyof ScoreExtra) => results.reduce((a, r) => a + Number((r.extra as ScoreExtra | undefined)?.[k] ?? 0), 0);
  const read = results.reduce((a, r) => a + Object.values(r.stats).reduce((b, s) => b + s.read, 0), 0);
  const failed = results.reduce((a, r) => a + Object.values(r.stats).reduce((b, s) => b + s.rejected - (s.rejected_by_reason.low_clip_score ?? 0), 0), 0);
  const steps: Step[] = [{ name: 'score', in: read, out: read - failed }];
  let final = results;
  if (o.minClipScore !== undefined) steps.push({ name: `min_clip_score ${o.minClipScore}`, in: read - failed, out: read - failed - sum('low_clip_score') });
  if (filtered) {
    const kept = filtered.reduce((a, r) => a + r.shards.reduce((b, s) => b + s.rows, 0), 0);
    steps.push({ name: `keep_top ${o.keepTop}`, in: read - failed, out: kept });
    final = combine(results, filtered);
  }
  const manifest = buildManifest({
    stage: 'score',
    layout: o.kind,
    command: o.command,
    results: final,
    columns: o.columns,
    steps,
    extra: {
      input: o.input,
      model: {
        name: first?.model ?? null,
        dir: o.modelDir ?? 'embedded TEST encoder (models/test-clip)',
        test_encoder: first?.test_encoder ?? o.modelDir === undefined,
        embedding_dim: first?.embedding_dim ?? null,
        provider: first?.provider ?? null,
        variant: o.variant ?? 'fp32',
      },
      ...(o.heads ? { heads: o.heads } : {}),
      scores: { scored: sum('scored'), unscored: sum('unscored'), truncated_texts: sum('truncated_texts') },
      ...(o.emitNpy ? { npy: { img_emb: o.kind === 'caption' ? 'img_emb/img_emb_{i}.npy' : null, text_emb: 'text_emb/text_emb_{i}.npy', metadata: 'metadata/metadata_{i}.parquet', parts: o.world, dtype: 'float16' } } : {}),
    },
  });
  writeManifest(ctx.outDir, manifest);
  writeRunLog(ctx.outDir, { timings_ms: { model_load: sum('model_load_ms'), vision: sum('vision_ms'), text: sum('text_ms'), model_waiting_for_input: sum('starved_ms') } });
  // The staged rows were read by the filter tasks; the markers keep what the manifest needs.
  if (filtered) rmSync(path.join(ctx.outDir, '_staging'), { recursive: true, force: true });
  return { shards: [], stats: {}, files: ['manifest.json'] };
}

/** Stats of both passes, so read = kept + rejected once: pass 1 contributes reads and its rejects, pass 2 the kept rows. */
function combine(first: TaskResult[], second: TaskResult[]): TaskResult[] {
  const p1 = first.map((r) => {
    const stats = Object.fromEntries(Object.entries(r.stats).map(([k, s]) => [k, { ...s, kept: 0 }]));
    return { ...r, shards: [], stats };
  });
  const p2 = second.map((r) => {
    const stats = Object.fromEntries(Object.entries(r.stats).map(([k, s]) => [k, { ...s, read: 0 }]));
    return { ...r, stats };
  });
  return [...p1, ...p2];
}
