/** The download stage's last step: the manifest, a merge of the download tasks' markers. */
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { buildManifest, writeManifest } from '../write/manifest.js';
import { selectColumns } from '../write/parquet-schema.js';

export interface DownloadManifestSpec {
  command: string[];
  world: number;
  columns: string[];
  input: { dir: string; rows: number };
  /** The options that decide what is kept and how it is encoded, recorded for whoever reads the dataset. */
  settings: Record<string, unknown>;
}

export async function runTask(spec: DownloadManifestSpec, ctx: TaskContext): Promise<TaskOutput> {
  const results = readResults(ctx.outDir, 'download', spec.world);
  let bytes = 0;
  let passed = 0;
  const statuses: Record<string, number> = {};
  for (const r of results) {
    const x = (r.extra ?? {}) as { downloaded_bytes?: number; passed_through?: number; http_status?: Record<string, number> };
    bytes += x.downloaded_bytes ?? 0;
    passed += x.passed_through ?? 0;
    for (const [k, n] of Object.entries(x.http_status ?? {})) statuses[k] = (statuses[k] ?? 0) + n;
  }
  const manifest = buildManifest({
    stage: 'download',
    layout: 'caption',
    command: spec.command,
    results,
    columns: selectColumns('caption', spec.columns).map((c) => c.name),
    extra: {
      input: spec.input,
      download: {
        settings: spec.settings,
        downloaded_bytes: bytes,
        // rows that came with image bytes already are kept as they are, not fetched
        passed_through: passed,
        http_status: Object.fromEntries(Object.entries(statuses).sort(([a], [b]) => Number(a) - Number(b))),
      },
    },
  });
  const read = manifest.read;
  (manifest.download as Record<string, unknown>).success_rate = read ? Number((manifest.rows / read).toFixed(6)) : 0;
  writeManifest(ctx.outDir, manifest);
  return { shards: [], stats: {}, files: ['manifest.json'] };
}
