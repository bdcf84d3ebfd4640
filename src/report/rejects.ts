/**
 * Streams a dataset's rejects/*.jsonl line by line: counts per reason, the scores rejected rows carry
 * (so a histogram shows what a filter or band dropped next to what it kept), cluster membership (coreset),
 * and a few seeded examples per reason. Memory: the counts and `examples` lines per reason.
 */
import * as storage from '../storage/index.js';
import { existsSync } from '../storage/sync.js';
import { createInterface } from 'node:readline';
import { CountMap } from './counts.js';
import { Lowest, rankOf } from './sample.js';

export interface RejectLine {
  source?: string;
  file?: string;
  location?: string;
  reason?: string;
  detail?: string;
  id?: string;
  clip_score?: number;
  centroid_sim?: number;
  cluster_id?: number;
  duplicate_of?: string;
}

export interface RejectScan {
  byReason: Record<string, number>;
  examples: Map<string, Lowest<RejectLine>>;
  scores: Map<string, CountMap>;
  /** Rejected rows per cluster, and near-duplicates per cluster. */
  clusters: Map<number, number>;
  duplicates: Map<number, number>;
}

export async function eachReject(dir: string, files: string[], fn: (r: RejectLine, where: string) => void): Promise<void> {
  for (const rel of files) {
    // through storage: the dataset may be a bucket prefix
    const file = storage.join(dir, rel);
    if (!existsSync(file)) continue;
    const rl = createInterface({ input: storage.stream(file), crlfDelay: Infinity });
    let n = 0;
    for await (const line of rl) {
      n++;
      if (!line.trim()) continue;
      let r: RejectLine;
      try {
        r = JSON.parse(line) as RejectLine;
      } catch {
        r = { reason: 'unparseable_reject_line', file: rel, location: `line ${n}`, detail: line.slice(0, 200) };
      }
      fn(r, `${rel}:${n}`);
    }
  }
}

export async function scanRejects(dir: string, files: string[], o: { examples: number; seed: number }): Promise<RejectScan> {
  const s: RejectScan = { byReason: {}, examples: new Map(), scores: new Map(), clusters: new Map(), duplicates: new Map() };
  await eachReject(dir, files, (r, where) => {
    const reason = typeof r.reason === 'string' ? r.reason : 'unknown';
    s.byReason[reason] = (s.byReason[reason] ?? 0) + 1;
    for (const c of ['clip_score', 'centroid_sim'] as const) {
      const v = r[c];
      if (typeof v === 'number' && Number.isFinite(v)) {
        let m = s.scores.get(c);
        if (!m) s.scores.set(c, (m = new CountMap()));
        m.add(Math.round(v * 1000) / 1000, reason);
      }
    }
    if (typeof r.cluster_id === 'number') {
      s.clusters.set(r.cluster_id, (s.clusters.get(r.cluster_id) ?? 0) + 1);
      if (reason === 'near_duplicate') s.duplicates.set(r.cluster_id, (s.duplicates.get(r.cluster_id) ?? 0) + 1);
    }
    let ex = s.examples.get(reason);
    if (!ex) s.examples.set(reason, (ex = new Lowest(o.examples)));
    const key = r.id ?? where;
    const rank = rankOf(o.seed, key);
    if (ex.wants(rank, key)) ex.offer(rank, key, r);
  });
  return s;
}

/** The near-duplicates of the chosen clusters, n per cluster (seeded). */
export async function duplicatesOf(dir: string, files: string[], clusters: Set<number>, n: number, seed: number): Promise<Map<number, RejectLine[]>> {
  const keep = new Map<number, Lowest<RejectLine>>();
  for (const c of clusters) keep.set(c, new Lowest(n));
  await eachReject(dir, files, (r, where) => {
    if (r.reason !== 'near_duplicate' || typeof r.cluster_id !== 'number') return;
    const l = keep.get(r.cluster_id);
    if (!l) return;
    const key = r.id ?? where;
    l.offer(rankOf(seed, key), key, r);
  });
  return new Map([...keep].map(([c, l]) => [c, l.values()]));
}
