#!/usr/bin/python3
"""The peer of `mmcurate coreset --recipe bunny-laion-2m`: Bunny's LAION-2M recipe as a faiss + numpy user writes
it (faiss spherical k-means, per-cluster cosine matrix, connected components over cos > THRESH, the middle
member kept, then the 40-60% clip-score band, the 15-35% centroid band and a seeded sample of n/1000), on the CPU.
The clip score is computed part by part, so the text embeddings are never all in memory (a fair peer).
Prints one line with the time per phase, the total wall and CPU seconds, the counts and the peak RSS in GB, and the BLAS kernel threadpoolctl
reports (blas_kernel.py). Usage: bunny_faiss.py LAION_DIR K [THRESH]"""
import glob
import os
import resource
import sys
import time

import faiss
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from blas_kernel import kernel


def main():
    root, k = sys.argv[1], int(sys.argv[2])
    thresh = float(sys.argv[3]) if len(sys.argv) > 3 else 0.86
    times, t0, c0 = {}, [time.time()], time.process_time()

    def lap(name):
        now = time.time()
        times[name] = now - t0[0]
        t0[0] = now

    img_files = sorted(glob.glob(os.path.join(root, "img_emb", "*.npy")))
    txt_files = sorted(glob.glob(os.path.join(root, "text_emb", "*.npy")))
    x = np.concatenate([np.load(f).astype(np.float32) for f in img_files])
    faiss.normalize_L2(x)
    score = np.empty(len(x), np.float32)
    at = 0
    for f in txt_files:  # one text part in memory at a time
        t = np.load(f).astype(np.float32)
        faiss.normalize_L2(t)
        score[at:at + len(t)] = np.einsum("ij,ij->i", x[at:at + len(t)], t)
        at += len(t)
        del t
    n, d = x.shape
    lap("load")

    km = faiss.Kmeans(d, k, niter=10, seed=1, spherical=True, max_points_per_centroid=256)
    km.train(x)
    lap("kmeans")
    sim, lab = km.index.search(x, 1)
    sim, lab = sim[:, 0], lab[:, 0]
    lap("assign")

    order = np.argsort(lab, kind="stable")
    starts = np.searchsorted(lab[order], np.arange(k + 1))
    keep = np.zeros(n, bool)
    for c in range(k):
        members = order[starts[c]:starts[c + 1]]
        if len(members) <= 1:
            keep[members] = True
            continue
        graph = csr_matrix(x[members] @ x[members].T > thresh)
        groups, which = connected_components(graph, directed=False)
        far = 1 - sim[members]
        for g in range(groups):
            m = np.flatnonzero(which == g)
            keep[members[m[np.argsort(far[m], kind="stable")[len(m) // 2]]]] = True
    lap("dedup")

    left = np.flatnonzero(keep)
    by_score = left[np.argsort(-score[left], kind="stable")]
    band1 = by_score[int(0.40 * len(left)):int(0.60 * len(left))]
    by_sim = band1[np.argsort(-sim[band1], kind="stable")]
    band2 = by_sim[int(0.15 * len(band1)):int(0.35 * len(band1))]
    final = np.random.default_rng(1).choice(band2, size=min(len(band2), max(1, n // 1000)), replace=False)
    lap("bands")

    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    phases = " ".join(f"{a}={b:.1f}s" for a, b in times.items())
    print(f"faiss {faiss.__version__} + numpy, n={n} d={d} k={k} threads={faiss.omp_get_max_threads()} kernel={kernel()} | {phases} | "
          f"total={sum(times.values()):.1f}s cpu={time.process_time() - c0:.1f}s | dedup kept {keep.sum()} ({100 * keep.mean():.1f}%) -> {len(band1)} -> {len(band2)} -> {len(final)} | maxrss={rss_gb:.2f}GB")


if __name__ == "__main__":
    main()
