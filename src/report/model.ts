/**
 * The report's data model: what `mmcurate report --json` prints and what the HTML page is rendered from,
 * so every number on the page is a number of this object. Thumbnails are kept apart (`thumbs`, keyed by a
 * hash of the image bytes) so the JSON for scripts stays small and an image shared by several stages is
 * encoded once.
 */

export interface ReportOptions {
  /** Rows per sample grid (highest, lowest, random) and per cluster shown. */
  samples: number;
  seed: number;
  /** Reject examples kept per reason. */
  examples: number;
  /** Clusters shown with their near-duplicates. */
  clusters: number;
}

/** A row shown as a picture: its caption, score and where it is. */
export interface Sample {
  id: string;
  source: string;
  kind: string;
  /** The caption (or the first text), cut to 300 characters. */
  caption: string;
  clip_score: number | null;
  /** Key into ReportModel.thumbs; null when the row has no image bytes that decode. */
  thumb: string | null;
}

export interface FunnelStep {
  dataset: string;
  stage: string;
  step: string;
  in: number;
  out: number;
}

export interface RejectExample {
  source: string;
  file: string;
  location: string;
  detail: string;
  id: string | null;
  clip_score: number | null;
  thumb: string | null;
  caption: string | null;
}

export interface RejectReason {
  reason: string;
  count: number;
  examples: RejectExample[];
}

/** Values counted per (value, group): pre-aggregated data the charts bin. */
export interface Counted {
  value: number;
  group: string;
  count: number;
}

export interface ScoreSection {
  column: 'clip_score' | 'centroid_sim';
  /** Values rounded to 0.001, counted per fate (kept, or the reason the row was dropped). */
  values: Counted[];
  /** A score filter's threshold (score --min-clip-score). */
  threshold: number | null;
  /** A coreset rank band's edges as values: [lowest kept, highest kept]. */
  band: { label: string; lo: number; hi: number } | null;
}

export interface MixSection {
  recipe: string | null;
  by: 'samples' | 'tokens';
  ok: boolean;
  failures: string[];
  warnings: string[];
  tolerancePP: number;
  kinds: { name: string; count: number; share: number; target: number | null; ok: boolean }[];
  sources: { name: string; kind: string; count: number; share: number; target: number | null; ok: boolean }[];
  duplicates: { ids: number; content: number; expectedFromUpsampling: number };
  manifestOk: boolean;
}

export interface ClusterView {
  cluster: number;
  /** Members assigned to the cluster (kept + every reject that carries the cluster). */
  members: number;
  nearDuplicates: number;
  /** A kept member (the one dedup kept in the duplicates' place) and the duplicates it replaced. */
  groups: { keeper: Sample; duplicates: (Sample & { cosine: number | null })[] }[];
}

export interface CoresetSection {
  steps: FunnelStep[];
  k: number | null;
  dedup: { rule: string; threshold: number } | null;
  /** Cluster sizes: how many clusters have `size` members. */
  sizes: { size: number; clusters: number }[];
  clusters: ClusterView[];
  /** Why cosines are missing, when they are (LAION-layout input, input folder gone). */
  note: string | null;
}

export interface DatasetReport {
  name: string;
  /** Relative to the report's PATH. */
  dir: string;
  stage: string;
  layout: string;
  read: number;
  rows: number;
  rejected: number;
  steps: FunnelStep[];
  rejects: RejectReason[];
  scores: ScoreSection[];
  /** Formats of the images with bytes, and their sizes (width, height rounded to 2 significant digits). */
  images: { formats: Record<string, number>; sizes: { width: number; height: number; count: number }[]; withBytes: number; withoutBytes: number } | null;
  /** Characters per sample's text (captions, documents), per kind; lengths over 1,000 rounded to 2 significant digits. */
  lengths: Counted[];
  tokens: { method: string; visualTokensPerImage: number; byKind: Record<string, { rows: number; tokens: number }> };
  mix: MixSection | null;
  coreset: CoresetSection | null;
  samples: { highest: Sample[]; lowest: Sample[]; random: Sample[] } | null;
}

export interface ReportModel {
  mmcurate: string;
  title: string;
  path: string;
  options: ReportOptions;
  datasets: DatasetReport[];
  funnel: FunnelStep[];
  thumbs: Record<string, string>;
}
