/**
 * MinHash over word n-grams (Broder 1997), cut into LSH bands (docs/dedup.md):
 *
 * - words: the text in Unicode NFC, lower-cased, split into runs of letters, digits and combining marks
 *   (punctuation and white space separate words, as FineWeb's simplified text does);
 * - shingles: every run of `ngram` consecutive words (a document shorter than that is one shingle), each a
 *   32-bit hash of its words' hashes in order;
 * - signature: for each of bands × rows seeded functions h_k(x) = mix(x XOR seed_k), the least value over the
 *   document's shingles (mix: the murmur3 finaliser, a bijection of 32-bit words), so P[equal] = Jaccard;
 * - band keys: each band's `rows` values hashed to 64 bits; two documents sharing a band key are candidates.
 *
 * 32-bit words keep every product in Math.imul (no BigInt, no 64-bit emulation): a collision between two
 * different shingles costs 2^-32 of a Jaccard point, far below the estimate's own error.
 */

export interface MinHashParams {
  ngram: number;
  bands: number;
  rows: number;
  seed: number;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seeds of the hash family: a splitmix-style sequence from the run's seed (same seed, same family). */
export function seedsOf(count: number, seed: number): Uint32Array {
  const out = new Uint32Array(count);
  let s = (seed ^ 0x9e3779b9) >>> 0;
  for (let k = 0; k < count; k++) {
    s = (s + 0x9e3779b9) >>> 0;
    out[k] = fmix32(s ^ Math.imul(k + 1, 0x632be5ab));
  }
  return out;
}

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

/**
 * The 32-bit hashes of a text's words, in order, into `out` (grown when full); returns the count and the
 * array. One pass over the characters, no string per word: ASCII letters and digits are tested directly,
 * other characters by their Unicode category.
 */
export function wordHashes(text: string, out: Uint32Array): { n: number; out: Uint32Array } {
  const s = text.normalize('NFC').toLowerCase();
  let n = 0;
  let h = 0x811c9dc5;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    let word: boolean;
    if (c < 128) word = (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    else {
      let ch = s[i]!;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        ch = s.slice(i, i + 2);
        c = s.codePointAt(i)!;
        i++;
      }
      word = WORD_CHAR.test(ch);
    }
    if (word) {
      h = Math.imul(h ^ c, 0x01000193);
      inWord = true;
    } else if (inWord) {
      if (n === out.length) out = grow(out);
      out[n++] = fmix32(h);
      h = 0x811c9dc5;
      inWord = false;
    }
  }
  if (inWord) {
    if (n === out.length) out = grow(out);
    out[n++] = fmix32(h);
  }
  return { n, out };
}

function grow(a: Uint32Array): Uint32Array {
  const b = new Uint32Array(Math.max(64, a.length * 2));
  b.set(a);
  return b;
}

/** The shingle hashes of `n` words (n-grams in order; fewer words than `ngram`: one shingle of them all). */
export function shingleHashes(words: Uint32Array, n: number, ngram: number, out: Uint32Array): { count: number; out: Uint32Array } {
  if (n === 0) return { count: 0, out };
  const g = Math.min(ngram, n);
  const count = n - g + 1;
  if (out.length < count) out = new Uint32Array(Math.max(count, out.length * 2));
  for (let i = 0; i < count; i++) {
    let h = 0x27d4eb2f ^ g;
    for (let k = 0; k < g; k++) h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64 + Math.imul(words[i + k]!, 0xcc9e2d51);
    out[i] = fmix32(h);
  }
  return { count, out };
}

/** The signature (bands × rows values) of `count` shingle hashes. */
export function signature(shingles: Uint32Array, count: number, seeds: Uint32Array, sig: Uint32Array): void {
  const K = seeds.length;
  sig.fill(0xffffffff);
  for (let s = 0; s < count; s++) {
    const x = shingles[s]!;
    for (let k = 0; k < K; k++) {
      let h = x ^ seeds[k]!;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      h >>>= 0;
      if (h < sig[k]!) sig[k] = h;
    }
  }
}

/** Band b's key as two 32-bit words, into out[at], out[at + 1]. */
export function bandKey(sig: Uint32Array, band: number, rows: number, out: Int32Array, at: number): void {
  let a = 0x3c6ef372 ^ band;
  let b = 0xa54ff53a ^ Math.imul(band + 1, 0x9e3779b1);
  for (let k = band * rows; k < (band + 1) * rows; k++) {
    const v = sig[k]!;
    a = Math.imul((a << 13) | (a >>> 19), 5) + 0xe6546b64 + Math.imul(v, 0xcc9e2d51);
    b = Math.imul((b << 15) | (b >>> 17), 0x1b873593) + 0x52dce729 + Math.imul(v ^ 0x5bd1e995, 0x85ebca6b);
  }
  out[at] = fmix32(a) | 0;
  out[at + 1] = fmix32(b ^ rows) | 0;
}

/** Sorts `count` shingle hashes and removes repeats: the document's shingle set; returns its size. */
export function shingleSet(shingles: Uint32Array, count: number): number {
  const v = shingles.subarray(0, count);
  v.sort();
  let m = 0;
  for (let i = 0; i < count; i++) if (i === 0 || v[i] !== v[i - 1]) v[m++] = v[i]!;
  return m;
}

/** Exact Jaccard of two sorted sets. */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  if (a.length === 0 && b.length === 0) return 1;
  let i = 0, j = 0, inter = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!, y = b[j]!;
    if (x === y) {
      inter++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return inter / (a.length + b.length - inter);
}

/** Jaccard estimated from two signatures: the share of equal values. */
export function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  let eq = 0;
  for (let k = 0; k < a.length; k++) if (a[k] === b[k]) eq++;
  return eq / a.length;
}

/** LSH's probability that a pair at Jaccard s shares at least one band: 1 - (1 - s^rows)^bands. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - Math.pow(1 - Math.pow(s, rows), bands);
}

/** Everything one document needs: shingle set (sorted, unique) and signature, reusing the given buffers. */
export class MinHasher {
  private words: Uint32Array = new Uint32Array(256);
  private sh: Uint32Array = new Uint32Array(256);
  readonly seeds: Uint32Array;
  readonly sig: Uint32Array;
  constructor(readonly p: MinHashParams) {
    this.seeds = seedsOf(p.bands * p.rows, p.seed);
    this.sig = new Uint32Array(p.bands * p.rows);
  }
  /** Hashes a text; returns its shingle count (0: no words, no signature). Then `sig` and `shingles()` hold it. */
  hash(text: string): number {
    const w = wordHashes(text, this.words);
    this.words = w.out;
    const s = shingleHashes(this.words, w.n, this.p.ngram, this.sh);
    this.sh = s.out;
    if (s.count === 0) return 0;
    signature(this.sh, s.count, this.seeds, this.sig);
    this.count = s.count;
    return s.count;
  }
  private count = 0;
  /** The last text's shingle set, sorted and unique (a view into a reused buffer: copy to keep). */
  shingles(): Uint32Array {
    return this.sh.subarray(0, shingleSet(this.sh, this.count));
  }
}
