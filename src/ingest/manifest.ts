/** The ingest stage's last step: the manifest, a merge of the ingest tasks' markers. */
import type { Kind } from '../records.js';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { buildManifest, writeManifest } from '../write/manifest.js';
import { selectColumns } from '../write/parquet-schema.js';

export interface IngestManifestSpec {
  kind: Kind;
  command: string[];
  world: number;
  inputs: { source: string; path: string; format: string; bytes: number; parts: number }[];
}

export async function runTask(spec: IngestManifestSpec, ctx: TaskContext): Promise<TaskOutput> {
  const manifest = buildManifest({
    stage: 'ingest',
    layout: spec.kind,
    command: spec.command,
    results: readResults(ctx.outDir, 'ingest', spec.world),
    columns: selectColumns(spec.kind).map((c) => c.name),
    extra: { inputs: spec.inputs },
  });
  writeManifest(ctx.outDir, manifest);
  return { shards: [], stats: {}, files: ['manifest.json'] };
}
