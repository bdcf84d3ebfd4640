/**
 * The order of the mixture: one stream in which the kinds are spread evenly (MM1 samples kinds per batch,
 * so any window of the stream should hold each kind near its ratio) and the samples of a kind follow in a
 * seeded shuffle across all of the kind's sources.
 *
 * NOTE: the kind of each position is chosen by largest deficit: at position t the kind whose count lags
 * t × share the most goes next. Every kind's count then stays within one sample of t × share at every t,
 * so a window of 1,000 samples holds each kind within two samples (0.2 points) of its ratio. The stream
 * is produced in chunks from index arrays; nothing per row beyond 6 bytes is held.
 */
import type { Kind } from '../records.js';
import { Rng, shufflePairs, type Seed } from './random.js';
import type { Selection } from './select.js';

export interface KindStream {
  kind: Kind;
  /** Planned source index (into plan.sources) of each sample, shuffled. */
  source: Uint16Array;
  /** Row index inside that source, shuffled together with `source`. */
  row: Uint32Array;
}

export interface OrderChunk {
  /** Position of the first sample of the chunk in the mixture. */
  start: number;
  /** Index into the streams (the kind) of each sample. */
  kind: Uint8Array;
  source: Uint16Array;
  row: Uint32Array;
}

/** Gathers each kind's selected rows across its sources and shuffles them with the seed. */
export function kindStreams(kindsInOrder: readonly Kind[], sourceKinds: readonly Kind[], selections: readonly Selection[], seed: Seed): KindStream[] {
  if (sourceKinds.length > 0xffff) throw new Error(`at most 65,535 sources can be mixed at once, got ${sourceKinds.length}`);
  return kindsInOrder.map((kind) => {
    let n = 0;
    sourceKinds.forEach((k, i) => k === kind && (n += selections[i]!.rows.length));
    const source = new Uint16Array(n);
    const row = new Uint32Array(n);
    let at = 0;
    sourceKinds.forEach((k, i) => {
      if (k !== kind) return;
      const rows = selections[i]!.rows;
      row.set(rows, at);
      source.fill(i, at, at + rows.length);
      at += rows.length;
    });
    shufflePairs(row, source, new Rng(seed, 'order', kind));
    return { kind, source, row };
  });
}

/**
 * Kind of every position, by largest deficit (ties to the earlier kind). Yields `counts.length`-bounded
 * kind indices, `sum(counts)` of them; each kind appears exactly counts[k] times.
 */
export function* kindSequence(counts: readonly number[], chunkSize = 1 << 16): Generator<Uint8Array> {
  const total = counts.reduce((a, n) => a + n, 0);
  const share = counts.map((n) => (total > 0 ? n / total : 0));
  const emitted = counts.map(() => 0);
  const K = counts.length;
  for (let start = 0; start < total; start += chunkSize) {
    const len = Math.min(chunkSize, total - start);
    const out = new Uint8Array(len);
    for (let j = 0; j < len; j++) {
      const t = start + j + 1;
      let best = -1;
      let bestDeficit = -Infinity;
      for (let k = 0; k < K; k++) {
        if (emitted[k]! >= counts[k]!) continue;
        const d = t * share[k]! - emitted[k]!;
        if (d > bestDeficit) {
          bestDeficit = d;
          best = k;
        }
      }
      out[j] = best;
      emitted[best]!++;
    }
    yield out;
  }
}

/** The mixture's order, chunk by chunk: kind, source and row of every position. */
export function* mixOrder(streams: readonly KindStream[], chunkSize = 1 << 16): Generator<OrderChunk> {
  const next = streams.map(() => 0);
  let start = 0;
  for (const kind of kindSequence(
    streams.map((s) => s.row.length),
    chunkSize,
  )) {
    const source = new Uint16Array(kind.length);
    const row = new Uint32Array(kind.length);
    for (let j = 0; j < kind.length; j++) {
      const s = streams[kind[j]!]!;
      const at = next[kind[j]!]!++;
      source[j] = s.source[at]!;
      row[j] = s.row[at]!;
    }
    yield { start, kind, source, row };
    start += kind.length;
  }
}
