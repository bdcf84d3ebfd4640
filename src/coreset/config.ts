/**
 * The coreset configuration: what a recipe's `coreset` section and the command's flags resolve to.
 * Every step can be switched off (undefined) or re-parameterised.
 */
import { UsageError } from '../errors.js';
import type { Device } from '../onnx.js';
import { checkBand, type Percent } from './bands.js';
import { DEDUP_RULES, type DedupRule } from './dedup.js';

export interface CoresetConfig {
  /** Number of k-means clusters. */
  k: number;
  niter: number;
  seed: number;
  init: 'random' | 'kmeans++';
  /** Training sample = this many points per centroid (faiss's max_points_per_centroid, 256). */
  maxPointsPerCentroid: number;
  /** Explicit training-sample size (overrides maxPointsPerCentroid x k). */
  trainSample?: number;
  /** Load centroids from this .npy instead of training. */
  centroids?: string;
  dedup?: { rule: DedupRule; /** cosine; semdedup: 1 - ε */ threshold: number };
  clipBand?: Percent;
  centroidBand?: Percent;
  target?: number;
  device: Device;
  threads?: number;
  /** Target size of one dedup bucket's embeddings in memory. */
  bucketBytes: number;
}

export const CONFIG_DEFAULTS = {
  niter: 10,
  seed: 1,
  init: 'random' as const,
  maxPointsPerCentroid: 256,
  device: 'cpu' as Device,
  bucketBytes: 256 << 20,
};

/** Validate a resolved configuration; `where` names the recipe file for messages. */
export function checkConfig(c: CoresetConfig, where: string): CoresetConfig {
  const int = (v: number | undefined, name: string, min: number): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new UsageError(`${name} must be an integer >= ${min}, got ${v} (${where})`);
  };
  int(c.k, '--k', 1);
  int(c.niter, 'niter', 0);
  int(c.seed, '--seed', 0);
  int(c.maxPointsPerCentroid, 'max_points_per_centroid', 1);
  int(c.trainSample, 'train_sample', 1);
  int(c.target, '--target', 1);
  int(c.threads, '--threads', 1);
  if (c.init !== 'random' && c.init !== 'kmeans++') throw new UsageError(`init must be random or kmeans++, got ${String(c.init)} (${where})`);
  if (c.dedup) {
    if (!DEDUP_RULES.includes(c.dedup.rule)) throw new UsageError(`--dedup-rule must be one of ${DEDUP_RULES.join(', ')}, got ${JSON.stringify(c.dedup.rule)}`);
    if (!(c.dedup.threshold > -1 && c.dedup.threshold <= 1)) throw new UsageError(`--dedup-threshold must be a cosine in (-1, 1], got ${c.dedup.threshold} (${where})`);
  }
  if (c.clipBand) checkBand(c.clipBand, '--clip-band');
  if (c.centroidBand) checkBand(c.centroidBand, '--centroid-band');
  return c;
}
