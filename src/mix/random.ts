/**
 * Seeded randomness for selection and order. Each use gets its own stream, derived from the user's seed
 * and a label (the source, the epoch, the kind), so a source's sample does not change when another input
 * is added and the result never depends on the order inputs were given in.
 */
import { createHash } from 'node:crypto';

export type Seed = number | string;

/** sfc32: small, fast, passes PractRand to 2^40+ bytes; plenty for shuffling index arrays. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: Seed, ...labels: string[]) {
    const h = createHash('sha256').update(String(seed));
    for (const l of labels) h.update('\0').update(l);
    const digest = h.digest();
    this.a = digest.readUInt32LE(0);
    this.b = digest.readUInt32LE(4);
    this.c = digest.readUInt32LE(8);
    this.d = digest.readUInt32LE(12);
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n), n ≤ 2^32, without modulo bias. */
  below(n: number): number {
    const limit = 0x100000000 - (0x100000000 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }
}

/** Fisher-Yates, in place. */
export function shuffle(a: Uint32Array, rng: Rng): Uint32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** Fisher-Yates over two parallel arrays, keeping pairs together. */
export function shufflePairs(a: Uint32Array, b: Uint16Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
    const u = b[i]!;
    b[i] = b[j]!;
    b[j] = u;
  }
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return shuffle(a, rng);
}
