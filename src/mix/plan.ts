/**
 * The mixture plan: how many samples (or tokens) each kind and each source contributes. Pure arithmetic
 * over counts, no data: ratios between kinds, weights inside a kind, a total, and what to do when a source
 * is short. Counts are apportioned by largest remainder, so each kind lands within one sample of
 * ratio × total and the counts add up to the total exactly.
 */
import { UsageError } from '../errors.js';
import type { Kind } from '../records.js';
import type { By, ShortPolicy } from '../recipes/load.js';

export interface PlanSource {
  kind: Kind;
  name: string;
  /** Units available: rows when by samples, tokens when by tokens. */
  available: number;
  /** Share inside its kind, relative to its siblings. When no source of a kind has one, they are pooled (weight = size). */
  weight?: number;
}

export interface PlanRequest {
  by: By;
  /** Ratios as given (any scale); a kind absent or at 0 gets nothing. */
  ratios: ReadonlyMap<Kind, number>;
  sources: readonly PlanSource[];
  /** Requested size in units; absent: the largest the inputs allow (shrink, error) or the smallest that uses every row (upsample). */
  total?: number;
  onShort: ShortPolicy;
}

export interface PlannedKind {
  kind: Kind;
  /** Normalised ratio (the kinds' ratios sum to 1). */
  ratio: number;
  /** ratio × total, before rounding. */
  exact: number;
  /** Units planned: an integer number of samples, or a token budget. */
  target: number;
}

export interface PlannedSource extends PlanSource {
  /** Share of the whole mixture. */
  share: number;
  /** Units planned (integer samples, or a token budget). */
  target: number;
  /**
   * target / available, in the plan's units: above 1 when the source is short. By tokens this is a budget,
   * not what is realized; the epochs reported (notes, manifest) are the selection's (select.ts).
   */
  epochs: number;
  /** The plan needs more than the source holds (upsample only): the one case in which its rows may repeat. */
  repeat: boolean;
}

export interface MixPlan {
  by: By;
  onShort: ShortPolicy;
  requestedTotal?: number;
  total: number;
  kinds: PlannedKind[];
  sources: PlannedSource[];
  /** The source that bounds the size of the mixture at the exact ratios. */
  limitedBy?: string;
  /** What the planner decided for the user (shrunk, repeated), one sentence each. */
  notes: string[];
}

/**
 * Splits an integer `total` into integers proportional to `weights`, each within one of its exact quota,
 * summing to `total`. Ties go to the earlier entry, so the split is deterministic.
 */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, w) => a + w, 0);
  if (sum <= 0 || total <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map((q) => Math.floor(q));
  let left = total - out.reduce((a, n) => a + n, 0);
  const order = exact.map((q, i) => ({ i, frac: q - Math.floor(q) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (let j = 0; left > 0 && j < order.length; j++, left--) out[order[j]!.i]! += 1;
  return out;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Validates the request and returns per-kind, per-source shares (of the whole mixture). */
function shares(req: PlanRequest): { kinds: { kind: Kind; ratio: number }[]; share: number[]; inKind: number[] } {
  const ratioSum = [...req.ratios.values()].reduce((a, r) => a + r, 0);
  for (const [k, r] of req.ratios) {
    if (!(r >= 0) || !Number.isFinite(r)) throw new UsageError(`ratio of ${k}: expected a number >= 0, got ${r}`);
  }
  if (!(ratioSum > 0)) throw new UsageError(`ratios: every ratio is 0; at least one kind needs a positive ratio`);
  const kinds = [...req.ratios].map(([kind, r]) => ({ kind, ratio: r / ratioSum }));
  for (const { kind, ratio } of kinds) {
    if (ratio > 0 && !req.sources.some((s) => s.kind === kind)) {
      throw new UsageError(`kind ${kind} has a ratio of ${req.ratios.get(kind)} but no input; add --input ${kind}=DIR, or set its ratio to 0`);
    }
  }
  const seen = new Set<string>();
  for (const s of req.sources) {
    if (!req.ratios.has(s.kind)) {
      throw new UsageError(`source "${s.name}" is of kind ${s.kind}, which the ratios do not mention (${[...req.ratios.keys()].join(', ')}); add ${s.kind}=N to the ratios, or leave the input out`);
    }
    if (seen.has(s.name)) throw new UsageError(`source "${s.name}" is given twice; each source may appear once (merge the inputs, or rename one at ingest)`);
    seen.add(s.name);
    if (s.weight !== undefined && !(s.weight > 0)) throw new UsageError(`weight of source "${s.name}": expected a number > 0, got ${s.weight}`);
  }
  const share: number[] = new Array(req.sources.length).fill(0);
  const inKind: number[] = new Array(req.sources.length).fill(0);
  for (const { kind, ratio } of kinds) {
    const idx = req.sources.map((s, i) => (s.kind === kind ? i : -1)).filter((i) => i >= 0);
    const pooled = idx.every((i) => req.sources[i]!.weight === undefined);
    const w = idx.map((i) => (pooled ? req.sources[i]!.available : (req.sources[i]!.weight ?? 1)));
    const wSum = w.reduce((a, x) => a + x, 0);
    idx.forEach((i, j) => {
      inKind[i] = wSum > 0 ? w[j]! / wSum : 0;
      share[i] = ratio * inKind[i]!;
      const src = req.sources[i]!;
      if (share[i]! > 0 && src.available <= 0) {
        throw new UsageError(`source "${src.name}" (${kind}) has no ${req.by === 'tokens' ? 'tokens' : 'rows'}: nothing to mix from it; leave it out`);
      }
    });
    if (ratio > 0 && wSum <= 0) {
      throw new UsageError(`kind ${kind} has a ratio but its sources (${idx.map((i) => req.sources[i]!.name).join(', ')}) hold no ${req.by === 'tokens' ? 'tokens' : 'rows'}; nothing to mix`);
    }
  }
  return { kinds, share, inKind };
}

function targetsAt(req: PlanRequest, total: number, kinds: { kind: Kind; ratio: number }[], inKind: number[]): { kindTargets: number[]; sourceTargets: number[] } {
  const sourceTargets: number[] = new Array(req.sources.length).fill(0);
  if (req.by === 'tokens') {
    const kindTargets = kinds.map((k) => k.ratio * total);
    kinds.forEach((k, ki) => req.sources.forEach((s, i) => s.kind === k.kind && (sourceTargets[i] = kindTargets[ki]! * inKind[i]!)));
    return { kindTargets, sourceTargets };
  }
  const kindTargets = apportion(
    total,
    kinds.map((k) => k.ratio),
  );
  kinds.forEach((k, ki) => {
    const idx = req.sources.map((s, i) => (s.kind === k.kind ? i : -1)).filter((i) => i >= 0);
    const split = apportion(
      kindTargets[ki]!,
      idx.map((i) => inKind[i]!),
    );
    idx.forEach((i, j) => (sourceTargets[i] = split[j]!));
  });
  return { kindTargets, sourceTargets };
}

/**
 * Plans a mixture.
 * @example
 * planMix({ by: 'samples', ratios: new Map([['caption', 45], ['interleaved', 45], ['text', 10]]),
 *   sources: [{ kind: 'caption', name: 'coco', available: 900 }, ...], onShort: 'shrink' })
 */
export function planMix(req: PlanRequest): MixPlan {
  if (req.total !== undefined && !(Number.isInteger(req.total) && req.total >= 1)) {
    throw new UsageError(`--total: expected a whole number >= 1, got ${req.total}`);
  }
  const { kinds, share, inKind } = shares(req);
  const active = req.sources.map((s, i) => ({ s, i })).filter(({ i }) => share[i]! > 0);
  // The largest total at which no source is short, and the smallest at which every row is used.
  let maxTotal = Infinity;
  let limitedBy: string | undefined;
  let coverAll = 0;
  for (const { s, i } of active) {
    const t = s.available / share[i]!;
    if (t < maxTotal) {
      maxTotal = t;
      limitedBy = s.name;
    }
    coverAll = Math.max(coverAll, t);
  }
  const notes: string[] = [];
  const unit = req.by === 'tokens' ? 'tokens' : 'samples';
  // Floating error must not turn an exact fit (e.g. 900 / 0.45 = 2000) into 1999.
  const fit = Math.floor(maxTotal * (1 + 1e-12));
  let total: number;
  if (req.onShort === 'upsample') total = req.total ?? Math.ceil(coverAll * (1 - 1e-12));
  else if (req.onShort === 'shrink') total = Math.min(req.total ?? fit, fit);
  else total = req.total ?? fit;
  let t = targetsAt(req, total, kinds, inKind);
  const over = (tt: typeof t): number => active.findIndex(({ s, i }) => tt.sourceTargets[i]! > s.available * (1 + 1e-12));
  if (req.onShort === 'shrink') {
    // Rounding can lift a source one sample above what it holds; step down until nothing is short.
    while (total > 0 && over(t) >= 0) t = targetsAt(req, --total, kinds, inKind);
    if (req.total !== undefined && total < req.total) {
      notes.push(`shrunk from ${fmt(req.total)} to ${fmt(total)} ${unit}: source "${limitedBy}" holds ${fmt(req.sources.find((s) => s.name === limitedBy)!.available)}, the most the exact ratios allow`);
    }
  } else if (req.onShort === 'error') {
    const short = active.filter(({ s, i }) => t.sourceTargets[i]! > s.available * (1 + 1e-12)).sort((a, b) => t.sourceTargets[b.i]! / b.s.available - t.sourceTargets[a.i]! / a.s.available);
    if (short.length) {
      const { s, i } = short[0]!;
      const others = short.slice(1).map((x) => `"${x.s.name}"`);
      throw new UsageError(
        `source "${s.name}" (${s.kind}) is short: it holds ${fmt(s.available)} ${unit}, the mixture needs ${fmt(t.sourceTargets[i]!)} of a total of ${fmt(total)}` +
          `${others.length ? ` (also short: ${others.join(', ')})` : ''}; lower --total (at most ${fmt(fit)} fits), or use --on-short shrink or upsample`,
      );
    }
  }
  if (total <= 0) throw new UsageError(`the inputs allow no mixture at these ratios: source "${limitedBy}" is too small`);
  const sources: PlannedSource[] = req.sources.map((s, i) => ({
    ...s,
    share: share[i]!,
    target: t.sourceTargets[i]!,
    epochs: s.available > 0 ? t.sourceTargets[i]! / s.available : 0,
    // A source that holds enough is never repeated, whatever the policy; only upsampling repeats a short one.
    // (Shrink and error have no short source here: shrink stepped down, error refused.)
    repeat: req.onShort === 'upsample' && s.available > 0 && t.sourceTargets[i]! > s.available * (1 + 1e-9),
  }));
  // How often each source is repeated is noted from the selection (select.ts, repeatNotes), the same
  // figure the manifest records: by tokens only the selection knows how many rows a budget takes.
  return {
    by: req.by,
    onShort: req.onShort,
    ...(req.total !== undefined ? { requestedTotal: req.total } : {}),
    total,
    kinds: kinds.map((k, ki) => ({ kind: k.kind, ratio: k.ratio, exact: k.ratio * total, target: t.kindTargets[ki]! })),
    sources,
    ...(limitedBy !== undefined ? { limitedBy } : {}),
    notes,
  };
}
