/**
 * Filters on the CLIP score, as pure functions. `--min-clip-score X` is LAION's absolute rule (0.28 for
 * ViT-B/32); `--keep-top F` is DataComp's "top fraction of the pool", which needs the exact global quantile:
 * the caller collects every score in a first pass, computes the cut once, then applies it in a second pass.
 */

/** Keep when the score is at least `min`; a missing score never passes. */
export function passesMinScore(score: number | null | undefined, min: number): boolean {
  return typeof score === 'number' && !Number.isNaN(score) && score >= min;
}

export interface TopFractionCut {
  /** Scores above this are kept. */
  threshold: number;
  /** How many scores equal to `threshold` are kept (the first ones met in the second pass), so exactly `keep` pass. */
  tiesKept: number;
  keep: number;
  total: number;
}

/**
 * The cut that keeps exactly ceil(fraction * n) of the scores (NaN scores are never kept and not counted).
 *
 * @example
 * const cut = topFractionCut(allScores, 0.3);
 * const filter = new TopFractionFilter(cut);
 * rows.filter((r) => filter.keep(r.clip_score));
 */
export function topFractionCut(scores: ArrayLike<number>, fraction: number): TopFractionCut {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`--keep-top must be in (0, 1], got ${fraction}`);
  const sorted = Float64Array.from(scores).filter((s) => !Number.isNaN(s));
  const total = sorted.length;
  // The epsilon absorbs products like 0.3 * 10 = 3.0000000000000004.
  const keep = Math.min(total, Math.ceil(fraction * total - 1e-9));
  if (keep === 0) return { threshold: Infinity, tiesKept: 0, keep: 0, total };
  sorted.sort();
  const threshold = sorted[total - keep];
  let above = 0;
  for (let i = total - 1; i >= 0 && sorted[i] > threshold; i--) above++;
  return { threshold, tiesKept: keep - above, keep, total };
}

/** Applies a `TopFractionCut` in the second pass; the order rows are seen in decides which ties are kept. */
export class TopFractionFilter {
  private ties: number;
  constructor(private readonly cut: TopFractionCut) {
    this.ties = cut.tiesKept;
  }
  keep(score: number | null | undefined): boolean {
    if (typeof score !== 'number' || Number.isNaN(score)) return false;
    if (score > this.cut.threshold) return true;
    if (score === this.cut.threshold && this.ties > 0) {
      this.ties--;
      return true;
    }
    return false;
  }
}
