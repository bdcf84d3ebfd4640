/**
 * CLIP scores from L2-normalised embeddings: the cosine is the dot product. For interleaved documents each
 * image is scored against the text segments next to it and the document gets the mean of its image scores.
 */

/** Dot product of two equal-length vectors (cosine when both are L2-normalised). */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export interface InterleavedScores {
  /** Per position: the image's best similarity to its neighbouring text segments; null where no image/text. */
  imageScores: (number | null)[];
  /** Mean of the non-null image scores ("mean of per-image best neighbour similarity"); null if none. */
  docScore: number | null;
}

/**
 * Score an OBELICS-layout document. `images[p]` / `texts[p]` hold the embedding at position p (null where
 * the position is the other kind, or failed). An image's neighbours are the nearest text before it and the
 * nearest text after it, other images in between notwithstanding; its score is the higher cosine.
 *
 * @example
 * interleavedScores([null, img, null], [t0, null, t2]) // image scored as max(cos(img,t0), cos(img,t2))
 */
export function interleavedScores(
  images: readonly (Float32Array | null | undefined)[],
  texts: readonly (Float32Array | null | undefined)[],
): InterleavedScores {
  const n = Math.max(images.length, texts.length);
  const prev: number[] = new Array(n).fill(-1);
  const next: number[] = new Array(n).fill(-1);
  let last = -1;
  for (let p = 0; p < n; p++) {
    prev[p] = last;
    if (texts[p]) last = p;
  }
  last = -1;
  for (let p = n - 1; p >= 0; p--) {
    next[p] = last;
    if (texts[p]) last = p;
  }
  const imageScores: (number | null)[] = new Array(n).fill(null);
  let sum = 0;
  let count = 0;
  for (let p = 0; p < n; p++) {
    const img = images[p];
    if (!img) continue;
    let best: number | null = null;
    for (const q of [prev[p], next[p]]) {
      if (q < 0) continue;
      const s = dot(img, texts[q] as Float32Array);
      if (best === null || s > best) best = s;
    }
    imageScores[p] = best;
    if (best !== null) {
      sum += best;
      count++;
    }
  }
  return { imageScores, docScore: count > 0 ? sum / count : null };
}
