"""Which Parquet layout for CLIP embeddings: float16 bytes in a BLOB (mmcurate's), a list of FLOAT16 (the
Parquet logical type) or a list of float32. Writes the three layouts with pyarrow (100,000 rows of 512-d
L2-normalised Gaussian vectors, zstd) and times what pyarrow, Polars and HF `datasets` read natively.
`npm run bench -- embeddings` then reads the same files with DuckDB and hyparquet.

    python bench/peers/embedding_layouts.py [DIR]     (default .bench/embeddings)
"""
import os
import sys
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

warnings.filterwarnings("ignore")
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(".bench", "embeddings")
os.makedirs(out, exist_ok=True)
n, d = 100_000, 512
rng = np.random.default_rng(0)
x = rng.standard_normal((n, d), dtype=np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
h = x.astype(np.float16)
np.save(os.path.join(out, "reference.npy"), h)
ids = pa.array([f"{i:032x}" for i in range(n)])


def as_list(a, typ):
    return pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1), typ), d).cast(pa.list_(typ))


layouts = {
    "blob_f16": pa.array([r.tobytes() for r in h], pa.binary()),
    "list_f16": as_list(h, pa.float16()),
    "list_f32": as_list(h.astype(np.float32), pa.float32()),
}
print("| layout | file MB (zstd) | pyarrow write s | pyarrow read | Polars read | datasets read |")
print("|---|---|---|---|---|---|")
for name, col in layouts.items():
    f = os.path.join(out, f"{name}.parquet")
    t0 = time.perf_counter()
    pq.write_table(pa.table({"id": ids, "image_embedding": col}), f, compression="zstd", use_dictionary=False, write_statistics=False)
    write = time.perf_counter() - t0
    cells = []
    t0 = time.perf_counter()
    t = pq.read_table(f)
    cells.append(f"{t.schema.field('image_embedding').type}, {time.perf_counter() - t0:.2f} s")
    try:
        import polars as pl

        t0 = time.perf_counter()
        df = pl.read_parquet(f)
        cells.append(f"{df['image_embedding'].dtype}, {time.perf_counter() - t0:.2f} s")
    except Exception as e:  # noqa: BLE001 - a reader that cannot is the finding
        cells.append(f"error: {type(e).__name__}")
    try:
        import datasets

        t0 = time.perf_counter()
        ds = datasets.load_dataset("parquet", data_files=f, split="train", cache_dir=os.path.join(out, "hf-cache"))
        cells.append(f"{ds.features['image_embedding']}, {time.perf_counter() - t0:.2f} s")
    except Exception as e:  # noqa: BLE001
        cells.append(f"error: {type(e).__name__}")
    print(f"| {name} | {os.path.getsize(f) / 1e6:.1f} | {write:.2f} | " + " | ".join(cells) + " |")
