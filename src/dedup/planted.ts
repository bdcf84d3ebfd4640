/**
 * A text corpus with planted duplicates and its ground truth, for the dedup tests, the benchmark and the
 * Python reference check: unrelated documents (random words from a large vocabulary, so two of them share
 * no 5-gram), exact copies that differ only in what the normalisation removes (case, white space, Unicode
 * composition), and near copies made by word substitutions down to a target Jaccard similarity, with their
 * true Jaccard over word n-gram sets recorded. Seeded: the same options give the same corpus.
 */
import { Rng } from '../vectors/index.js';

export interface PlantedPair {
  /** Index of the planted copy, and of the document it copies (always earlier in the corpus). */
  copy: number;
  original: number;
  kind: 'exact' | 'near';
  /** True Jaccard of the two documents' word n-gram sets (1 for exact copies). */
  jaccard: number;
  /** near: the target the edits stopped at (the true value is at or just above it). */
  target?: number;
}

export interface PlantedOptions {
  originals: number;
  /** Exact copies (each of a different original). */
  exact: number;
  /** Near copies per target Jaccard (each of a different original). */
  nearPerTarget: number;
  targets?: number[];
  minWords?: number;
  maxWords?: number;
  ngram?: number;
  seed?: number;
}

export const DEFAULT_TARGETS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

function vocabulary(rng: Rng, size: number): string[] {
  const syl = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'zi', 'pe', 'su', 'da', 'fo', 'gi', 'ha', 'ju', 'be', 'xo', 'wy', 'qe', 'ci'];
  const seen = new Set<string>();
  while (seen.size < size) {
    let w = '';
    const n = 2 + rng.below(3);
    for (let i = 0; i < n; i++) w += syl[rng.below(syl.length)];
    seen.add(w);
  }
  return [...seen];
}

function grams(words: string[], n: number): string[] {
  if (words.length < n) return [words.join(' ')];
  const out: string[] = [];
  for (let i = 0; i + n <= words.length; i++) out.push(words.slice(i, i + n).join(' '));
  return out;
}

/** Exact Jaccard of two documents' word n-gram sets (words: split on white space). */
export function trueJaccard(a: string[], b: string[], n: number): number {
  const A = new Set(grams(a, n));
  const B = new Set(grams(b, n));
  let inter = 0;
  for (const g of B) if (A.has(g)) inter++;
  return inter / (A.size + B.size - inter);
}

/** Substitutes words one at a time, at random positions, while the Jaccard stays at or above the target. */
function nearCopy(rng: Rng, words: string[], vocab: string[], target: number, n: number): { words: string[]; jaccard: number } {
  const A = new Set(grams(words, n));
  const copy = words.slice();
  const count = new Map<string, number>();
  let inter = 0;
  const add = (g: string, d: number): void => {
    const c = (count.get(g) ?? 0) + d;
    if (c === 0) count.delete(g);
    else count.set(g, c);
    if (A.has(g) && ((d > 0 && c === 1) || (d < 0 && c === 0))) inter += d;
  };
  for (const g of grams(copy, n)) add(g, 1);
  const at = (p: number): string[] => {
    const out: string[] = [];
    for (let s = Math.max(0, p - n + 1); s <= Math.min(p, copy.length - n); s++) out.push(copy.slice(s, s + n).join(' '));
    return out;
  };
  const J = (): number => inter / (A.size + count.size - inter);
  const order = copy.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const p of order) {
    const old = copy[p]!;
    for (const g of at(p)) add(g, -1);
    copy[p] = vocab[rng.below(vocab.length)]!;
    for (const g of at(p)) add(g, 1);
    if (J() < target) {
      for (const g of at(p)) add(g, -1);
      copy[p] = old;
      for (const g of at(p)) add(g, 1);
      break;
    }
  }
  return { words: copy, jaccard: J() };
}

/** What normalisation removes: case, runs of white space, a decomposed accent. */
function cosmetic(rng: Rng, text: string): string {
  switch (rng.below(3)) {
    case 0:
      return text.toUpperCase();
    case 1:
      return `  ${text.replace(/ /g, () => (rng.below(4) === 0 ? ' \t ' : ' '))}\n`;
    default:
      return text.replace(/café/g, 'cafe\u0301');
  }
}

export function plantedCorpus(o: PlantedOptions): { docs: string[]; pairs: PlantedPair[] } {
  const rng = new Rng(o.seed ?? 7, 11);
  const n = o.ngram ?? 5;
  const targets = o.targets ?? DEFAULT_TARGETS;
  const need = o.exact + o.nearPerTarget * targets.length;
  if (need > o.originals) throw new Error(`planted corpus: ${need} copies need as many originals, got ${o.originals}`);
  const vocab = vocabulary(rng, 20_000);
  const minW = o.minWords ?? 80, maxW = o.maxWords ?? 160;
  const words: string[][] = [];
  for (let i = 0; i < o.originals; i++) {
    const len = minW + rng.below(maxW - minW + 1);
    const w = Array.from({ length: len }, () => vocab[rng.below(vocab.length)]!);
    if (i % 5 === 0) w[rng.below(len)] = 'café';
    words.push(w);
  }
  const docs = words.map((w) => w.join(' '));
  const pairs: PlantedPair[] = [];
  const copies: { text: string; pair: Omit<PlantedPair, 'copy'> }[] = [];
  let next = 0;
  for (let i = 0; i < o.exact; i++, next++) copies.push({ text: cosmetic(rng, docs[next]!), pair: { original: next, kind: 'exact', jaccard: 1 } });
  for (const t of targets) {
    for (let i = 0; i < o.nearPerTarget; i++, next++) {
      const c = nearCopy(rng, words[next]!, vocab, t, n);
      copies.push({ text: c.words.join(' '), pair: { original: next, kind: 'near', jaccard: c.jaccard, target: t } });
    }
  }
  // copies come after every original, in a seeded order
  for (let i = copies.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [copies[i], copies[j]] = [copies[j]!, copies[i]!];
  }
  for (const c of copies) {
    pairs.push({ copy: docs.length, ...c.pair });
    docs.push(c.text);
  }
  return { docs, pairs };
}
