/**
 * Seeded, order-free choices over a stream: a row's rank is a hash of (seed, its key), and a sample keeps
 * the n lowest ranks, so the same seed picks the same rows however the shards are split or read. Top and
 * bottom lists keep the n best by a score. All hold at most n items.
 */

/** A 52-bit hash of a string under a seed (two 32-bit FNV-1a lanes, mixed). */
export function rankOf(seed: number, key: string): number {
  let a = (0x811c9dc5 ^ seed) >>> 0;
  let b = (0x01000193 ^ Math.imul(seed, 0x9e3779b9)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  a = Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) >>> 0;
  b = Math.imul(b ^ (b >>> 13), 0x297a2d39) >>> 0;
  return (a >>> 0) * 2 ** 20 + (b >>> 12);
}

/** The n items with the lowest (rank, key). */
export class Lowest<T> {
  private items: { rank: number; key: string; value: T }[] = [];
  constructor(private readonly n: number) {}
  /** Would an item of this rank enter? (lets the caller skip building the value) */
  wants(rank: number, key: string): boolean {
    if (this.n <= 0) return false;
    if (this.items.length < this.n) return true;
    const last = this.items[this.items.length - 1]!;
    return rank < last.rank || (rank === last.rank && key < last.key);
  }
  offer(rank: number, key: string, value: T): void {
    if (!this.wants(rank, key)) return;
    let i = this.items.length;
    while (i > 0 && (this.items[i - 1]!.rank > rank || (this.items[i - 1]!.rank === rank && this.items[i - 1]!.key > key))) i--;
    // the same row offered twice (a mixture repeats upsampled rows under their id) is kept once
    if (i > 0 && this.items[i - 1]!.key === key && this.items[i - 1]!.rank === rank) return;
    this.items.splice(i, 0, { rank, key, value });
    if (this.items.length > this.n) this.items.pop();
  }
  values(): T[] {
    return this.items.map((x) => x.value);
  }
}
