/**
 * Builds the report's model (model.ts) from a dataset folder or a run's --out: the manifests for the
 * funnel, one streaming pass over each dataset's shards and one over its rejects, the audit for a mixture,
 * and a few rows fetched again from a stage's input for pictures of what it dropped.
 */
import { isRemote, join, resolve } from '../storage/location.js';
import { existsSync } from '../storage/sync.js';
import path from 'node:path';
import { auditDataset } from '../audit/audit.js';
import { DEFAULT_VISUAL_TOKENS } from '../recipes/load.js';
import { estimateCounter, recordedCounter, type TokenCounter } from '../mix/tokens.js';
import { VERSION } from '../version.js';
import type { Manifest } from '../write/manifest.js';
import { CountMap } from './counts.js';
import { discover, type Found } from './discover.js';
import { byId, byLocation, cosine, type Looked } from './lookup.js';
import type { ClusterView, CoresetSection, DatasetReport, FunnelStep, MixSection, RejectReason, ReportModel, ReportOptions, Sample, ScoreSection } from './model.js';
import { duplicatesOf, scanRejects } from './rejects.js';
import { scanShards, type Picked } from './scan.js';
import { Thumbs } from './thumbs.js';

export const DEFAULTS: ReportOptions = { samples: 12, seed: 1, examples: 3, clusters: 3 };

export async function buildModel(root: string, opts: Partial<ReportOptions> = {}, log: (s: string) => void = () => {}): Promise<ReportModel> {
  const o = { ...DEFAULTS, ...opts };
  const found = discover(root);
  const thumbs = new Thumbs();
  const datasets: DatasetReport[] = [];
  for (const f of found) {
    log(`report: reading ${f.name} (${f.manifest.rows} rows)`);
    datasets.push(await datasetReport(f, resolve(root), o, thumbs));
  }
  const abs = resolve(root);
  return {
    mmcurate: VERSION,
    title: path.posix.basename(abs),
    path: abs,
    options: o,
    datasets,
    funnel: datasets.flatMap((d) => d.steps),
    thumbs: thumbs.uris,
  };
}

function counterOf(m: Manifest, dir: string): { counter: TokenCounter; visual: number } {
  const mix = m.mix as { visual_tokens_per_image?: number; tokens?: unknown; tokenizer?: { file?: unknown; sha256?: unknown } | null } | undefined;
  const visual = mix?.visual_tokens_per_image ?? DEFAULT_VISUAL_TOKENS;
  if (typeof mix?.tokens === 'string') {
    try {
      return { counter: recordedCounter(mix.tokens, mix.tokenizer, `report ${dir}`), visual };
    } catch {
      // the tokenizer file moved: the estimate still gives a picture; the method is named on the page
    }
  }
  return { counter: estimateCounter(), visual };
}

/** A flag's value from a recorded command line (`--flag=v` or `--flag v`). */
function flagOf(command: unknown, flag: string): string | undefined {
  if (!Array.isArray(command)) return undefined;
  for (let i = 0; i < command.length; i++) {
    const a = String(command[i]);
    if (a.startsWith(`--${flag}=`)) return a.slice(flag.length + 3);
    if (a === `--${flag}` && i + 1 < command.length) return String(command[i + 1]);
  }
  return undefined;
}

/** A stage's input dataset folder, when it read one (score, coreset) and it is still there. */
function inputDataset(m: Manifest): string | null {
  if (typeof m.input !== 'string') return null;
  if (m.input_layout !== undefined && m.input_layout !== 'dataset') return null;
  return existsSync(join(m.input, 'manifest.json')) ? m.input : null;
}

async function sample(p: Picked, thumbs: Thumbs): Promise<Sample> {
  return { id: p.id, source: p.source, kind: p.kind, caption: p.caption, clip_score: p.clip_score, thumb: await thumbs.add(p.bytes) };
}

async function datasetReport(f: Found, root: string, o: ReportOptions, thumbs: Thumbs): Promise<DatasetReport> {
  const m = f.manifest;
  // an export's shards are tars (or a JSON list): its funnel and rejects are drawn, its rows are not re-read
  const shards = (m.shards ?? []).map((s) => s.path).filter((p) => p.endsWith('.parquet'));
  const parquet = shards.length > 0 || !(m.shards ?? []).length;
  const rejectFiles = (m.rejects ?? []).map((r) => r.path);
  const { counter, visual } = counterOf(m, f.dir);
  const scan = await scanShards(f.dir, shards, { samples: o.samples, seed: o.seed, counter, visual });
  const rej = await scanRejects(f.dir, rejectFiles, { examples: o.examples, seed: o.seed });
  const steps: FunnelStep[] = (m.steps ?? []).map((s) => ({ dataset: f.name, stage: m.stage, step: s.name, in: s.in, out: s.out }));
  const input = inputDataset(m);

  // rejects, with pictures where the stage read a dataset (score, coreset: file + "row N" in its input)
  const wanted: { file: string; row: number }[] = [];
  for (const ex of rej.examples.values())
    for (const r of ex.values()) {
      const row = /^row (\d+)$/.exec(r.location ?? '');
      if (input && r.file && row) wanted.push({ file: r.file, row: Number(row[1]) });
    }
  const pictures = input ? await byLocation(input, wanted) : new Map();
  const rejects: RejectReason[] = [];
  for (const [reason, count] of Object.entries(rej.byReason).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    const examples = [];
    for (const r of rej.examples.get(reason)?.values() ?? []) {
      const row = /^row (\d+)$/.exec(r.location ?? '');
      const pic = row && r.file ? pictures.get(`${r.file}:${row[1]}`) : undefined;
      examples.push({
        source: r.source ?? '',
        file: r.file ?? '',
        location: r.location ?? '',
        detail: r.detail ?? '',
        id: r.id ?? null,
        clip_score: typeof r.clip_score === 'number' ? r.clip_score : null,
        thumb: pic ? await thumbs.add(pic.bytes) : null,
        caption: pic ? pic.caption : null,
      });
    }
    rejects.push({ reason, count, examples });
  }

  // scores: kept rows and rejected ones (by reason) on one axis, with the filter's threshold or band
  const scores: ScoreSection[] = [];
  for (const column of ['clip_score', 'centroid_sim'] as const) {
    const c = new CountMap();
    if (scan.scores.get(column)) c.merge(scan.scores.get(column)!);
    if (rej.scores.get(column)) c.merge(rej.scores.get(column)!);
    if (!c.size) continue;
    const t = m.stage === 'score' && column === 'clip_score' ? flagOf(m.command, 'min-clip-score') : undefined;
    const bands = m.bands as { clip?: Band; centroid?: Band } | undefined;
    const cfg = m.coreset as { clip_band?: [number, number] | null; centroid_band?: [number, number] | null } | undefined;
    const b = column === 'clip_score' ? bands?.clip : bands?.centroid;
    const pct = column === 'clip_score' ? cfg?.clip_band : cfg?.centroid_band;
    scores.push({
      column,
      values: c.list(),
      threshold: t !== undefined && Number.isFinite(Number(t)) ? Number(t) : null,
      band: b?.first && b.end && pct ? { label: `${column === 'clip_score' ? 'clip_score' : 'centroid'} band ${pct[0]}-${pct[1]}%`, lo: Math.min(b.first.value, b.end.value), hi: Math.max(b.first.value, b.end.value) } : null,
    });
  }

  const sizes = [...scan.sizes].map(([k, count]) => ({ width: Math.floor(k / 1e7), height: k % 1e7, count }));
  sizes.sort((a, b) => a.width - b.width || a.height - b.height);
  const images = scan.hasImages || sizes.length ? { formats: sortedRecord(scan.formats), sizes, withBytes: scan.withBytes, withoutBytes: scan.withoutBytes } : null;

  let mix: MixSection | null = null;
  if (m.layout === 'mixture' || m.mix) {
    const a = await auditDataset(f.dir, { sha256: true, flag: 'report' });
    mix = {
      recipe: a.recipe?.name ?? null,
      by: a.by,
      ok: a.ok,
      failures: a.failures,
      warnings: a.warnings,
      tolerancePP: a.tolerancePP,
      kinds: a.kinds.map((k) => ({ name: k.name, count: k.count, share: k.share, target: k.target, ok: k.ok })),
      sources: a.sources.map((k) => ({ name: k.name, kind: k.kind, count: k.count, share: k.share, target: k.target, ok: k.ok })),
      duplicates: a.duplicates,
      manifestOk: a.manifest.ok,
    };
  }

  const coreset = m.stage === 'coreset' ? await coresetSection(f, steps, scan.clusters, rej, input, rejectFiles, o, thumbs) : null;

  let samples: DatasetReport['samples'] = null;
  if (scan.hasImages || scan.hasScore) {
    samples = { highest: [], lowest: [], random: [] };
    if (scan.hasScore) {
      for (const p of scan.highest.values()) samples.highest.push(await sample(p, thumbs));
      for (const p of scan.lowest.values()) samples.lowest.push(await sample(p, thumbs));
    }
    for (const p of scan.random.values()) samples.random.push(await sample(p, thumbs));
  }

  return {
    name: f.name,
    dir: (isRemote(root) ? f.dir.slice(root.length).replace(/^\/+/, '') : path.relative(root, f.dir)) || '.',
    stage: m.stage,
    layout: m.layout,
    read: m.read,
    rows: parquet ? scan.rows : (m.rows ?? 0),
    rejected: Object.values(rej.byReason).reduce((a, n) => a + n, 0),
    steps,
    rejects,
    scores,
    images,
    lengths: scan.lengths.list(),
    tokens: { method: counter.method, visualTokensPerImage: visual, byKind: sortedRecord(scan.tokens) },
    mix,
    coreset,
    samples,
  };
}

interface Band {
  first?: { value: number };
  end?: { value: number };
}

function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort((a, b) => a[0].localeCompare(b[0])));
}

async function coresetSection(
  f: Found,
  steps: FunnelStep[],
  kept: Map<number, number>,
  rej: Awaited<ReturnType<typeof scanRejects>>,
  input: string | null,
  rejectFiles: string[],
  o: ReportOptions,
  thumbs: Thumbs,
): Promise<CoresetSection> {
  const m = f.manifest;
  const cfg = m.coreset as { k?: number; dedup?: { rule: string; threshold: number } | null } | undefined;
  const members = new Map(kept);
  for (const [c, n] of rej.clusters) members.set(c, (members.get(c) ?? 0) + n);
  const bySize = new Map<number, number>();
  for (const n of members.values()) bySize.set(n, (bySize.get(n) ?? 0) + 1);
  const sizes = [...bySize].sort((a, b) => a[0] - b[0]).map(([size, clusters]) => ({ size, clusters }));
  // the clusters where dedup removed most: where a user sees what the threshold did
  const chosen = [...rej.duplicates].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, o.clusters).map(([c]) => c);
  const dups = await duplicatesOf(f.dir, rejectFiles, new Set(chosen), o.samples, o.seed);
  const ids = new Set<string>();
  for (const list of dups.values()) for (const d of list) for (const id of [d.id, d.duplicate_of]) if (id) ids.add(id);
  let note: string | null = null;
  let rows = new Map<string, Looked>();
  if (input) {
    const im = discover(input)[0]!.manifest;
    rows = await byId(input, (im.shards ?? []).map((s) => s.path), ids);
  } else note = `the coreset's input (${String(m.input)}) is not a dataset folder here (LAION layout, or moved): near-duplicates are shown without pictures or cosines`;
  const clusters: ClusterView[] = [];
  for (const c of chosen) {
    const groups = new Map<string, ClusterView['groups'][number]>();
    for (const d of dups.get(c) ?? []) {
      const keeperId = d.duplicate_of ?? '?';
      let g = groups.get(keeperId);
      if (!g) {
        const k = rows.get(keeperId);
        g = { keeper: { id: keeperId, source: k?.source ?? '', kind: 'caption', caption: k?.caption ?? '', clip_score: k?.clip_score ?? null, thumb: await thumbs.add(k?.bytes ?? null) }, duplicates: [] };
        groups.set(keeperId, g);
      }
      const r = d.id ? rows.get(d.id) : undefined;
      g.duplicates.push({
        id: d.id ?? '',
        source: d.source ?? '',
        kind: 'caption',
        caption: r?.caption ?? '',
        clip_score: typeof d.clip_score === 'number' ? d.clip_score : null,
        thumb: await thumbs.add(r?.bytes ?? null),
        cosine: cosine(r?.embedding ?? null, rows.get(keeperId)?.embedding ?? null),
      });
    }
    for (const g of groups.values()) g.duplicates.sort((a, b) => (b.cosine ?? -2) - (a.cosine ?? -2) || a.id.localeCompare(b.id));
    clusters.push({ cluster: c, members: members.get(c) ?? 0, nearDuplicates: rej.duplicates.get(c) ?? 0, groups: [...groups.values()].sort((a, b) => b.duplicates.length - a.duplicates.length || a.keeper.id.localeCompare(b.keeper.id)) });
  }
  return { steps, k: cfg?.k ?? null, dedup: cfg?.dedup ?? null, sizes, clusters, note };
}
