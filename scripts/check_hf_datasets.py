"""Loads each mmcurate dataset folder given with Hugging Face `datasets` and decodes every embedded image.

Shows that shards written by mmcurate are what `datasets.load_dataset("parquet", ...)` expects: Image columns
and lists of Image get the Image feature. Images are decoded through that feature; URL references
({bytes: null, path: URL}) are counted but not decoded, since decoding them downloads the URL.
Usage: python check_hf_datasets.py OUT_DIR [OUT_DIR ...]   (exit 1 when a folder's images are not Image features)
"""
import glob
import os
import sys

import datasets


def image_feature(f):
    if isinstance(f, datasets.Image):
        return f, False
    if isinstance(f, datasets.List) and isinstance(f.feature, datasets.Image):
        return f.feature, True
    return None, False


def check(folder):
    files = sorted(glob.glob(os.path.join(folder, "data", "*.parquet")))
    if not files:
        return None
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=os.path.join(folder, ".hf-cache"))
    cols = {k: image_feature(f) for k, f in ds.features.items()}
    cols = {k: v for k, v in cols.items() if v[0] is not None}
    raw = ds.with_format("arrow")
    decoded = urls = 0
    for col, (feature, is_list) in cols.items():
        for value in raw[col].to_pylist():
            for item in (value or []) if is_list else [value]:
                if not item:
                    continue
                if item.get("bytes"):
                    feature.decode_example(item).load()
                    decoded += 1
                else:
                    urls += 1
    return len(ds), sorted(cols), decoded, urls


failed = False
for folder in sys.argv[1:]:
    r = check(folder)
    if r is None:
        continue
    rows, cols, decoded, urls = r
    print(f"{folder}: {rows} rows; Image columns {cols}; {decoded} embedded images decoded, {urls} URL references (datasets {datasets.__version__})")
    if rows and not cols and any(n in ("image", "images") for n in datasets.load_dataset("parquet", data_files=sorted(glob.glob(os.path.join(folder, "data", "*.parquet"))), split="train", cache_dir=os.path.join(folder, ".hf-cache")).column_names):
        failed = True
sys.exit(1 if failed else 0)
