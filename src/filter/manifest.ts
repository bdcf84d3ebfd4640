/** The filter stage's last step: the manifest, with what every filter did (read = kept + rejected). */
import type { Kind } from '../records.js';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { buildManifest, writeManifest, type Step } from '../write/manifest.js';
import { mergeCounts, type FilterCount } from './predicate.js';
import type { FilterExtra, OnMissing } from './task.js';

export interface FilterManifestSpec {
  kind: Kind;
  command: string[];
  world: number;
  input: string;
  columns: string[];
  onMissing: OnMissing;
}

export async function runTask(o: FilterManifestSpec, ctx: TaskContext): Promise<TaskOutput> {
  const results = readResults(ctx.outDir, 'filter', o.world);
  // eachItem keeps one extra per input shard: sum them in shard order
  const perItem = results.flatMap((r) => ((r.extra?.items ?? []) as (FilterExtra & { item: number })[]));
  perItem.sort((a, b) => a.item - b.item);
  const counts = mergeCounts(perItem.map((e) => e.counts));
  const read = results.reduce((a, r) => a + Object.values(r.stats).reduce((b, s) => b + s.read, 0), 0);
  const steps: Step[] = [{ name: 'read', in: read, out: read }];
  let left = read;
  for (const c of counts) {
    const out = c.evaluated - dropped(c, o.onMissing);
    steps.push({ name: c.name, in: left, out });
    left = out;
  }
  const manifest = buildManifest({
    stage: 'filter',
    layout: o.kind,
    command: o.command,
    results,
    columns: o.columns,
    steps,
    extra: { input: o.input, on_missing: o.onMissing, filters: counts },
  });
  writeManifest(ctx.outDir, manifest);
  return { shards: [], stats: {}, files: ['manifest.json'] };
}

/** Rows a filter rejected: failed, invalid, and missing ones unless --on-missing keep passed them on. */
function dropped(c: FilterCount, onMissing: OnMissing): number {
  return c.rejected + c.invalid + (onMissing === 'reject' ? c.missing : 0);
}
