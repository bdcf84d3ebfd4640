#!/usr/bin/python3
"""Reference figures for the coreset tests, from faiss and scikit-learn (Debian's /usr/bin/python3).

Writes test/fixtures/coreset/:
  km_x.npy        2,000 x 32 float32, L2-normalised, 16 clusters (seeded)
  km_x16.npy      the same rows as float16 (what .npy readers must decode identically)
  km_init.npy     16 rows of km_x (seeded pick): initial centroids shared with faiss
  km_ref.json     faiss spherical k-means (k=16, niter=10, 5 seeds): inertia = sum ||x - c||^2 over
                  all rows with the final centroids; sklearn KMeans on the same data for comparison;
                  plus float16 decode checks and exact band positions for a few n.
Usage: /usr/bin/python3 scripts/coreset_reference.py"""
import json, os, numpy as np, faiss
from sklearn.cluster import KMeans

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'coreset')
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(11)
n, d, c = 2000, 32, 16
centers = rng.standard_normal((c, d)).astype(np.float32); centers /= np.linalg.norm(centers, axis=1, keepdims=True)
x = centers[rng.integers(0, c, n)] + 0.15 * rng.standard_normal((n, d)).astype(np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
x = x.astype(np.float32)
np.save(os.path.join(out, 'km_x.npy'), x)
np.save(os.path.join(out, 'km_x16.npy'), x.astype(np.float16))

def inertia(cent):
    cent = cent / np.linalg.norm(cent, axis=1, keepdims=True)
    s = (x @ cent.T).max(axis=1)
    return float((2 - 2 * s).sum())

runs = []
for seed in range(1, 6):
    km = faiss.Kmeans(d, c, niter=10, seed=seed, spherical=True, max_points_per_centroid=256)
    km.train(x)
    runs.append(inertia(km.centroids))
init = x[np.random.default_rng(5).permutation(n)[:c]]
np.save(os.path.join(out, 'km_init.npy'), init)
km = faiss.Kmeans(d, c, niter=10, spherical=True, max_points_per_centroid=256)
km.train(x, init_centroids=init)
same_init = inertia(km.centroids)
obj = [float(v) for v in km.obj]
sk = KMeans(n_clusters=c, n_init=5, random_state=0).fit(x)
ref = {
    'n': n, 'd': d, 'k': c, 'niter': 10,
    'faiss_inertia': runs, 'faiss_inertia_mean': float(np.mean(runs)), 'faiss_inertia_min': float(np.min(runs)),
    'sklearn_inertia': inertia(sk.cluster_centers_),
    # faiss from the initial centroids in km_init.npy: Lloyd's is then deterministic
    'faiss_same_init_inertia': same_init, 'faiss_same_init_obj': obj,
    # float16 decode of a few rows, for the .npy reader test
    'x16_first_row': [float(v) for v in x.astype(np.float16)[0].astype(np.float32)],
    'x16_last_row': [float(v) for v in x.astype(np.float16)[-1].astype(np.float32)],
    # Bunny's band positions: int(lo * n), int(hi * n)
    'band_positions': [[m, int(0.40 * m), int(0.60 * m), int(0.15 * m), int(0.35 * m)] for m in (1, 7, 10, 99, 1000, 12345, 952_000_000)],
}
with open(os.path.join(out, 'km_ref.json'), 'w') as f:
    json.dump(ref, f, indent=1)
print(json.dumps({k: v for k, v in ref.items() if 'row' not in k}))
