/**
 * Which rows of each source go into the mixture. A source is walked in a seeded random order, one fresh
 * permutation per epoch (so a repeated source repeats every row before any row a third time); by samples
 * it yields exactly its planned count, by tokens it takes rows while they fit its token budget, and then
 * each kind is topped up with the next rows that still fit, so a kind ends within one document of its
 * budget. Only a source the plan marks short (`repeat`, upsampling) walks past its last row; any other
 * stops there, in the top-up too. Everything is row indices in typed arrays; no row is read here.
 */
import type { Kind } from '../records.js';
import type { MixPlan } from './plan.js';
import { Rng, permutation, type Seed } from './random.js';

export interface SourceRows {
  /** Rows the source holds. */
  rows: number;
  /** Tokens of each row (by tokens only). */
  tokens?: Uint32Array;
}

export interface Selection {
  /** Row indices into the source, in selection order; a row appears once per epoch it is used in. */
  rows: Uint32Array;
  /** Units selected: rows, or tokens when by tokens. */
  units: number;
  /** rows.length / rows available, rounded to 3 decimals: the figure of the notes and the manifest. */
  epochs: number;
}

/** Epochs as reported (notes, manifest, summary): rows selected / rows held, to 3 decimals. */
export function epochsOf(selected: number, available: number): number {
  return available > 0 ? Math.round((selected / available) * 1000) / 1000 : 0;
}

/** Walks a source's rows in seeded random order, epoch after epoch. */
class Cursor {
  private perm?: Uint32Array;
  private epoch = -1;
  private pos = 0;
  taken = 0;

  constructor(
    private readonly n: number,
    private readonly seed: Seed,
    private readonly name: string,
  ) {}

  peek(): number {
    if (!this.perm || this.pos >= this.perm.length) {
      this.epoch++;
      this.perm = permutation(this.n, new Rng(this.seed, 'select', this.name, String(this.epoch)));
      this.pos = 0;
    }
    return this.perm[this.pos]!;
  }

  next(): number {
    const r = this.peek();
    this.pos++;
    this.taken++;
    return r;
  }
}

class Growable {
  data: Uint32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Uint32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Uint32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }
  done(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}

/**
 * Picks the rows of every planned source. `data` is parallel to `plan.sources`.
 * @example const sel = selectRows(plan, [{ rows: 900 }, { rows: 1200 }], 42)
 */
export function selectRows(plan: MixPlan, data: readonly SourceRows[], seed: Seed): Selection[] {
  if (data.length !== plan.sources.length) throw new Error(`selectRows: ${data.length} row sets for ${plan.sources.length} planned sources`);
  if (plan.by === 'samples') {
    return plan.sources.map((s, i) => {
      const n = data[i]!.rows;
      const k = s.target;
      const rows = new Uint32Array(k);
      if (k > 0) {
        const c = new Cursor(n, seed, s.name);
        for (let j = 0; j < k; j++) rows[j] = c.next();
      }
      return { rows, units: k, epochs: epochsOf(k, n) };
    });
  }
  return selectByTokens(plan, data, seed);
}

function selectByTokens(plan: MixPlan, data: readonly SourceRows[], seed: Seed): Selection[] {
  const picked = plan.sources.map((s, i) => new Growable(Math.min(data[i]!.rows, 1 << 20) * Math.max(1, Math.ceil(s.epochs))));
  const units = new Array<number>(plan.sources.length).fill(0);
  const cursors = plan.sources.map((s, i) => new Cursor(data[i]!.rows, seed, s.name));
  const tokensOf = (i: number): Uint32Array => {
    const t = data[i]!.tokens;
    if (!t) throw new Error(`selectRows: by tokens needs per-row tokens for source ${plan.sources[i]!.name}`);
    return t;
  };
  // Only a source the plan found short (upsampling) may take a row twice; any other stops at its last
  // row, so a source with enough is never repeated to fill its kind.
  const more = (i: number): boolean => plan.sources[i]!.repeat || cursors[i]!.taken < data[i]!.rows;
  plan.sources.forEach((s, i) => {
    if (s.target <= 0 || data[i]!.rows === 0) return;
    const tok = tokensOf(i);
    const c = cursors[i]!;
    // Guard against a source of only empty rows looping forever.
    let zeroRun = 0;
    while (zeroRun <= data[i]!.rows && more(i)) {
      const t = tok[c.peek()]!;
      if (units[i]! + t > s.target) break;
      picked[i]!.push(c.next());
      units[i]! += t;
      zeroRun = t === 0 ? zeroRun + 1 : 0;
    }
  });
  // Top each kind up with the next rows that still fit its budget, largest deficit first.
  const byKind = new Map<Kind, number[]>();
  plan.sources.forEach((s, i) => byKind.set(s.kind, [...(byKind.get(s.kind) ?? []), i]));
  for (const k of plan.kinds) {
    const idx = (byKind.get(k.kind) ?? []).filter((i) => data[i]!.rows > 0 && plan.sources[i]!.target > 0);
    let have = idx.reduce((a, i) => a + units[i]!, 0);
    for (;;) {
      let best = -1;
      let bestDeficit = -Infinity;
      for (const i of idx) {
        if (!more(i)) continue;
        const t = tokensOf(i)[cursors[i]!.peek()]!;
        if (t === 0 || have + t > k.target) continue;
        const deficit = plan.sources[i]!.target - units[i]!;
        if (deficit > bestDeficit) {
          bestDeficit = deficit;
          best = i;
        }
      }
      if (best < 0) break;
      const t = tokensOf(best)[cursors[best]!.peek()]!;
      picked[best]!.push(cursors[best]!.next());
      units[best]! += t;
      have += t;
    }
  }
  return plan.sources.map((_, i) => {
    const rows = picked[i]!.done();
    return { rows, units: units[i]!, epochs: epochsOf(rows.length, data[i]!.rows) };
  });
}

/**
 * One note per repeated source, with the selection's epochs (the figure the manifest records):
 * `source "coco" repeated: 1.8 epochs (180 rows of 100)`, by tokens with the tokens too.
 */
export function repeatNotes(plan: MixPlan, data: readonly SourceRows[], sel: readonly Selection[]): string[] {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const notes: string[] = [];
  plan.sources.forEach((s, i) => {
    const n = data[i]!.rows;
    if (sel[i]!.rows.length <= n) return;
    const tokens = plan.by === 'tokens' ? `; ${fmt(sel[i]!.units)} of ${fmt(s.available)} tokens` : '';
    notes.push(`source "${s.name}" repeated: ${sel[i]!.epochs} epochs (${fmt(sel[i]!.rows.length)} rows of ${fmt(n)}${tokens})`);
  });
  return notes;
}
