/**
 * From a recipe's `coreset` section (schemas/recipe.schema.json) and the command's flags to one
 * CoresetConfig: flags override the recipe, "none" switches a step off.
 */
import { UsageError } from '../errors.js';
import type { Device } from '../onnx.js';
import { checkBand, parseBand, type Percent } from './bands.js';
import { CONFIG_DEFAULTS, checkConfig, type CoresetConfig } from './config.js';
import { DEDUP_RULES, type DedupRule } from './dedup.js';

/** The `coreset` section as written in a recipe file. */
export interface CoresetSection {
  kmeans?: { k?: number; niter?: number; init?: 'random' | 'kmeans++'; max_points_per_centroid?: number; train_sample?: number };
  dedup?: { rule: DedupRule; threshold?: number; eps?: number } | null;
  clip_band?: [number, number] | null;
  centroid_band?: [number, number] | null;
  target?: number | null;
  seed?: number;
}

/** Flag values as parsed (strings for the ones that accept "none"). */
export interface CoresetFlags {
  k?: number;
  niter?: number;
  init?: string;
  trainSample?: number;
  dedupRule?: string;
  dedupThreshold?: number;
  clipBand?: string;
  centroidBand?: string;
  target?: string;
  seed?: number;
  centroids?: string;
  device?: Device;
  threads?: number;
  bucketMb?: number;
}

function band(b: [number, number] | null | undefined, what: string): Percent | undefined {
  if (!b) return undefined;
  return checkBand({ lo: b[0], hi: b[1] }, what);
}

export function resolveConfig(section: CoresetSection | undefined, f: CoresetFlags, where: string): CoresetConfig {
  const s = section ?? {};
  const k = f.k ?? s.kmeans?.k;
  if (k === undefined) throw new UsageError(`mmcurate coreset: no k — give --k N or a recipe whose coreset.kmeans.k is set (${where})`);

  let dedup: CoresetConfig['dedup'];
  const rule = f.dedupRule ?? s.dedup?.rule;
  if (rule !== undefined && rule !== 'none') {
    if (!(DEDUP_RULES as readonly string[]).includes(rule)) throw new UsageError(`--dedup-rule must be one of ${DEDUP_RULES.join(', ')} or none, got ${JSON.stringify(rule)}`);
    const r = rule as DedupRule;
    // A recipe's threshold only carries over when the rule does: SemDeDup's is 1 - ε, Bunny's 0.86.
    const sameRule = !f.dedupRule || f.dedupRule === s.dedup?.rule;
    const fromRecipe = sameRule && s.dedup ? (s.dedup.threshold ?? (s.dedup.eps !== undefined ? 1 - s.dedup.eps : undefined)) : undefined;
    const threshold = f.dedupThreshold ?? fromRecipe ?? (r === 'semdedup' ? 1 - 0.03 : 0.86);
    dedup = { rule: r, threshold };
  }
  if (f.dedupThreshold !== undefined && !dedup) throw new UsageError('--dedup-threshold was given but deduplication is off (--dedup-rule none, or the recipe has none); give a --dedup-rule too');
  const cfg: CoresetConfig = {
    ...CONFIG_DEFAULTS,
    k,
    niter: f.niter ?? s.kmeans?.niter ?? CONFIG_DEFAULTS.niter,
    seed: f.seed ?? s.seed ?? CONFIG_DEFAULTS.seed,
    init: (f.init ?? s.kmeans?.init ?? CONFIG_DEFAULTS.init) as CoresetConfig['init'],
    maxPointsPerCentroid: s.kmeans?.max_points_per_centroid ?? CONFIG_DEFAULTS.maxPointsPerCentroid,
    trainSample: f.trainSample ?? s.kmeans?.train_sample,
    centroids: f.centroids,
    dedup,
    clipBand: f.clipBand !== undefined ? parseBand(f.clipBand, '--clip-band') : band(s.clip_band, `${where}: coreset.clip_band`),
    centroidBand: f.centroidBand !== undefined ? parseBand(f.centroidBand, '--centroid-band') : band(s.centroid_band, `${where}: coreset.centroid_band`),
    target: f.target !== undefined ? parseTarget(f.target) : (s.target ?? undefined),
    device: f.device ?? CONFIG_DEFAULTS.device,
    threads: f.threads,
    bucketBytes: f.bucketMb !== undefined ? Math.round(f.bucketMb * 1024 * 1024) : CONFIG_DEFAULTS.bucketBytes,
  };
  return checkConfig(cfg, where);
}

function parseTarget(t: string): number | undefined {
  if (t === 'none') return undefined;
  const n = Number(t);
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`--target must be a positive integer or none, got ${JSON.stringify(t)}`);
  return n;
}
