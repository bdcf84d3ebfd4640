"""The k-means peer of bench/coreset.ts (a): faiss.Kmeans(d, k, spherical=True) as its users run it, 10 iterations,
max_points_per_centroid 256, on a float32 .npy; then every row assigned to its nearest final centroid. Prints one JSON
line: training wall and CPU seconds (CPU of every thread of the process), inertia (sum of 2 - 2 cos over all rows),
faiss's last objective, its version, threads and BLAS kernel. Usage: faiss_kmeans.py FILE K"""
import json
import resource
import sys
import time

import faiss
import numpy as np

from blas_kernel import kernel


def main():
    x = np.load(sys.argv[1])
    k = int(sys.argv[2])
    km = faiss.Kmeans(x.shape[1], k, niter=10, seed=1, spherical=True, max_points_per_centroid=256)
    c0, t0 = time.process_time(), time.perf_counter()
    km.train(x)
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    sim, _ = km.index.search(x, 1)
    print(json.dumps({
        "train_s": train_s, "cpu_s": cpu_s,
        "inertia": float((2 - 2 * sim[:, 0].astype(np.float64)).sum()),
        "objective": float(km.obj[-1]) if len(km.obj) else None,
        "faiss": faiss.__version__, "threads": faiss.omp_get_max_threads(), "kernel": kernel(),
        "maxrss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }))


if __name__ == "__main__":
    main()
