/**
 * Per-source counts that every task keeps and the manifest merges: read = kept + rejected, with the
 * rejects broken down by reason. Merging is a sum, so one machine and a thousand give the same manifest.
 */
export interface SourceStats {
  read: number;
  kept: number;
  rejected: number;
  rejected_by_reason: Record<string, number>;
}

export type Stats = Record<string, SourceStats>;

export class Accounting {
  readonly sources: Stats = {};

  private of(source: string): SourceStats {
    return (this.sources[source] ??= { read: 0, kept: 0, rejected: 0, rejected_by_reason: {} });
  }

  kept(source: string, n = 1): void {
    const s = this.of(source);
    s.read += n;
    s.kept += n;
  }

  rejected(source: string, reason: string, n = 1): void {
    const s = this.of(source);
    s.read += n;
    s.rejected += n;
    s.rejected_by_reason[reason] = (s.rejected_by_reason[reason] ?? 0) + n;
  }
}

export function totals(stats: Stats): { read: number; kept: number; rejected: number } {
  let read = 0, kept = 0, rejected = 0;
  for (const s of Object.values(stats)) {
    read += s.read;
    kept += s.kept;
    rejected += s.rejected;
  }
  return { read, kept, rejected };
}

export function mergeStats(into: Stats, from: Stats): Stats {
  for (const [name, s] of Object.entries(from)) {
    const t = (into[name] ??= { read: 0, kept: 0, rejected: 0, rejected_by_reason: {} });
    t.read += s.read;
    t.kept += s.kept;
    t.rejected += s.rejected;
    for (const [r, n] of Object.entries(s.rejected_by_reason)) t.rejected_by_reason[r] = (t.rejected_by_reason[r] ?? 0) + n;
  }
  return into;
}

export function rejectsByReason(stats: Stats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of Object.values(stats)) for (const [r, n] of Object.entries(s.rejected_by_reason)) out[r] = (out[r] ?? 0) + n;
  return out;
}
