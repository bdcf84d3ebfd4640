#!/usr/bin/env python3
"""An independent reference for `mmcurate dedup` (our own code, written for the check; needs numpy, pyarrow
and xxhash: pip install numpy pyarrow xxhash).

Exact: hashlib.sha256 over the same normalised keys (text: NFC, lower case, white space collapsed; image: the
encoded bytes), the first occurrence in the global order (inputs as given, shards in manifest order, rows) kept.
Near: MinHash with its own hash family, (a*x + b) mod (2^61 - 1) over xxh32 shingle hashes (the datasketch
construction with 32-bit a and b, so numpy's uint64 product cannot overflow), LSH bands, EVERY pair inside a
band bucket checked by the exact Jaccard of the shingle *strings*, union-find, the first row of each component kept.

  dedup_reference.py --input DIR [DIR...] (--exact text|caption|image|image+caption | --near text)
                     [--ngram 5 --bands 14 --rows 8 --threshold 0.8 --seed 1]
                     [--compare TS_OUT] [--truth truth.json] [--json]
  dedup_reference.py --bench-signatures docs.jsonl [--bands 14 --rows 8 --ngram 5]   (throughput only)

--compare reads the TS output's rejects and reports agreement (exact: must be identical). --truth (planted
pairs written by bench/dedup.ts, documents named by the `doc` field of each row's metadata) reports recall per
Jaccard bin and false removals, for the reference and, with --compare, for the TS output.
"""
import argparse, glob, hashlib, json, os, re, sys, time, unicodedata
import numpy as np
import pyarrow.parquet as pq
import xxhash

MERSENNE = (1 << 61) - 1
WS = re.compile(r'\s+')
WORD = re.compile(r'[^\W_]+')


def norm_text(s):
    return WS.sub(' ', unicodedata.normalize('NFC', s).lower()).strip()


def rows_of(dirs, columns):
    """(input, shard path, row, record) in the global order."""
    for k, d in enumerate(dirs):
        m = json.load(open(os.path.join(d, 'manifest.json')))
        for s in m['shards']:
            t = pq.read_table(os.path.join(d, s['path']))
            have = [c for c in columns if c in t.column_names]
            cols = {c: t.column(c).to_pylist() for c in have}
            for i in range(t.num_rows):
                yield k, s['path'], i, {c: cols[c][i] for c in have}


def text_of(r):
    if 'texts' in r:
        parts = [t for t in (r['texts'] or []) if isinstance(t, str)]
        return '\n'.join(parts) if parts else None
    return r.get('text')


def exact_key(mode, r):
    if mode in ('text', 'caption'):
        t = text_of(r)
        n = norm_text(t) if t is not None else ''
        return hashlib.sha256(n.encode()).digest() if n else None
    img = (r.get('image') or {}).get('bytes')
    if not img:
        return None
    h = hashlib.sha256(img).digest()
    if mode == 'image':
        return h
    return hashlib.sha256(h + b'\x00' + norm_text(text_of(r) or '').encode()).digest()


def exact(dirs, mode):
    first, removed = {}, {}
    for k, f, i, r in rows_of(dirs, ['id', 'text', 'texts', 'image']):
        key = exact_key(mode, r)
        if key is None:
            continue
        if key in first:
            removed[r['id']] = first[key]
        else:
            first[key] = r['id']
    return removed


def shingles(text, n):
    w = WORD.findall(unicodedata.normalize('NFC', text).lower())
    if not w:
        return set()
    if len(w) < n:
        return {' '.join(w)}
    return {' '.join(w[i:i + n]) for i in range(len(w) - n + 1)}


class MinHash:
    def __init__(self, k, seed):
        rs = np.random.RandomState(seed)
        self.a = rs.randint(1, 1 << 32, size=k, dtype=np.uint64)
        self.b = rs.randint(0, 1 << 32, size=k, dtype=np.uint64)

    def signature(self, sh):
        hv = np.fromiter((xxhash.xxh32_intdigest(s.encode()) for s in sh), dtype=np.uint64, count=len(sh))
        phv = (np.outer(self.a, hv) + self.b[:, None]) % np.uint64(MERSENNE)
        return (phv & np.uint64(0xFFFFFFFF)).min(axis=1).astype(np.uint32)


def near(dirs, a):
    mh = MinHash(a.bands * a.rows, a.seed)
    ids, sets, buckets = [], [], {}
    for k, f, i, r in rows_of(dirs, ['id', 'text', 'texts']):
        t = text_of(r)
        sh = shingles(t, a.ngram) if t else set()
        ids.append(r['id'])
        sets.append(sh)
        if not sh:
            continue
        sig = mh.signature(sh)
        d = len(ids) - 1
        for j in range(a.bands):
            buckets.setdefault((j, sig[j * a.rows:(j + 1) * a.rows].tobytes()), []).append(d)
    parent = list(range(len(ids)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    checked = {}
    for members in buckets.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                p, q = members[x], members[y]
                if (p, q) not in checked:
                    A, B = sets[p], sets[q]
                    checked[(p, q)] = len(A & B) / len(A | B) >= a.threshold
                if checked[(p, q)]:
                    rp, rq = find(p), find(q)
                    if rp != rq:
                        parent[max(rp, rq)] = min(rp, rq)
    removed = {}
    for d in range(len(ids)):
        r = find(d)
        if r != d:
            removed[ids[d]] = ids[r]
    return removed, len(checked)


def ts_removed(out):
    removed = {}
    for f in sorted(glob.glob(os.path.join(out, 'rejects', '*.jsonl'))):
        for line in open(f):
            r = json.loads(line)
            if r['reason'] in ('duplicate', 'near_duplicate'):
                removed[r['id']] = r['duplicate_of']
    return removed


EDGES = [0.9, 0.8, 0.7, 0.5, 0.0]
BINS = ['0.9-1', '0.8-0.9', '0.7-0.8', '0.5-0.7', '0-0.5']


def truth_report(dirs, truth_file, removed):
    """Recall per Jaccard bin over planted pairs (the later of each pair must go) and false removals."""
    doc_id, doc_row = {}, {}
    for n, (k, f, i, r) in enumerate(rows_of(dirs, ['id', 'metadata'])):
        d = json.loads(r['metadata'])['doc']
        doc_id[d], doc_row[d] = r['id'], n
    pairs = json.load(open(truth_file))['pairs']
    bins = {}
    planted_late = set()
    for p in pairs:
        late = p['copy'] if doc_row[p['copy']] > doc_row[p['original']] else p['original']
        planted_late.add(doc_id[late])
        j = p['jaccard']
        b = 'exact' if p['kind'] == 'exact' else BINS[next(i for i, lo in enumerate(EDGES) if j >= lo)]
        hit = doc_id[late] in removed
        s = bins.setdefault(b, [0, 0])
        s[0] += hit
        s[1] += 1
    unrelated = sum(1 for i in removed if i not in planted_late)
    return {b: {'removed': v[0], 'pairs': v[1], 'share': v[0] / v[1]} for b, v in sorted(bins.items())} | {'unplanted_removed': unrelated}


def bench_signatures(a):
    docs = [json.loads(l)['text'] for l in open(a.bench_signatures)]
    mh = MinHash(a.bands * a.rows, a.seed)
    t, c = time.perf_counter(), time.process_time()
    for d in docs:
        mh.signature(shingles(d, a.ngram))
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({'docs': len(docs), 'bytes': sum(len(d.encode()) for d in docs), 'wall_s': wall, 'cpu_s': cpu}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--input', nargs='+')
    ap.add_argument('--exact')
    ap.add_argument('--near')
    ap.add_argument('--ngram', type=int, default=5)
    ap.add_argument('--bands', type=int, default=14)
    ap.add_argument('--rows', type=int, default=8)
    ap.add_argument('--threshold', type=float, default=0.8)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--compare')
    ap.add_argument('--truth')
    ap.add_argument('--bench-signatures')
    a = ap.parse_args()
    if a.bench_signatures:
        return bench_signatures(a)
    t = time.perf_counter()
    checked = None
    if a.exact:
        removed = exact(a.input, a.exact)
    else:
        removed, checked = near(a.input, a)
    report = {'mode': a.exact and f'exact {a.exact}' or f'near {a.bands}x{a.rows}', 'removed': len(removed), 'seconds': time.perf_counter() - t}
    if checked is not None:
        report['pairs_checked'] = checked
    if a.truth:
        report['reference_truth'] = truth_report(a.input, a.truth, removed)
    if a.compare:
        ts = ts_removed(a.compare)
        same = set(ts) & set(removed)
        report['compare'] = {
            'ts_removed': len(ts), 'both': len(same), 'ts_only': len(set(ts) - set(removed)), 'reference_only': len(set(removed) - set(ts)),
            'same_duplicate_of': sum(1 for i in same if ts[i] == removed[i]),
            'identical': ts == removed,
        }
        if a.truth:
            report['ts_truth'] = truth_report(a.input, a.truth, ts)
    print(json.dumps(report))
    if a.exact and a.compare and not report['compare']['identical']:
        sys.exit(1)


if __name__ == '__main__':
    main()
