/** Counts per (value, group), for histograms the charts bin: memory bounded by distinct rounded values. */
import type { Counted } from './model.js';

export class CountMap {
  private m = new Map<string, Map<number, number>>();
  add(value: number, group: string, n = 1): void {
    let g = this.m.get(group);
    if (!g) this.m.set(group, (g = new Map()));
    g.set(value, (g.get(value) ?? 0) + n);
  }
  merge(o: CountMap): void {
    for (const [group, g] of o.m) for (const [v, n] of g) this.add(v, group, n);
  }
  get size(): number {
    let n = 0;
    for (const g of this.m.values()) n += g.size;
    return n;
  }
  /** Sorted by group, then value: the same JSON for the same data. */
  list(): Counted[] {
    const out: Counted[] = [];
    for (const group of [...this.m.keys()].sort()) {
      const g = this.m.get(group)!;
      for (const v of [...g.keys()].sort((a, b) => a - b)) out.push({ value: v, group, count: g.get(v)! });
    }
    return out;
  }
}
