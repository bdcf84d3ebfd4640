/**
 * A small seeded PRNG (xoshiro128**, seeded through splitmix32) so that every random choice of the
 * vector engine and the coreset stage (training sample, initial centroids, empty-cluster splits, final sample) is a pure
 * function of `--seed`: same seed, same ids, on every machine.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream = 0) {
    let x = (Math.trunc(seed) ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.uint32() >>> 5;
    const lo = this.uint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased, for n up to 2^53. */
  below(n: number): number {
    if (n <= 0x100000000) {
      // Lemire-free rejection on 32 bits keeps this exact and simple.
      const limit = 0x100000000 - (0x100000000 % n);
      for (;;) {
        const r = this.uint32();
        if (r < limit) return r % n;
      }
    }
    return Math.floor(this.float() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * `m` distinct indices of [0, n), sorted ascending: selection sampling (Knuth's algorithm S), one pass,
 * O(n) time and O(m) memory, so the training sample of a 2B-row set needs no n-sized array.
 */
export function sampleSorted(n: number, m: number, rng: Rng): Float64Array {
  if (m >= n) return Float64Array.from({ length: n }, (_, i) => i);
  const out = new Float64Array(m);
  let chosen = 0;
  for (let i = 0; i < n && chosen < m; i++) {
    if ((n - i) * rng.float() < m - chosen) out[chosen++] = i;
  }
  return out;
}

/** The first `m` items of a seeded Fisher-Yates shuffle of [0, n) (faiss picks initial centroids so). */
export function randomPick(n: number, m: number, rng: Rng): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const take = Math.min(m, n);
  for (let i = 0; i < take; i++) {
    const j = i + rng.below(n - i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm.slice(0, take);
}
