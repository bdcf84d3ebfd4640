"""Reads mmcurate outputs with the Python tools trainers and analysts use, and checks what they see.

For a Parquet stage folder (ingest, score, coreset, mix):
  - Hugging Face `datasets.load_dataset("parquet", ...)`: the row count of the manifest, `image` / `images`
    as Image features, every embedded image decoded through that feature (URL references are counted, not
    fetched);
  - pyarrow and Polars read every shard, with the same row count and ids;
  - embeddings (`image_embedding`, `text_embedding`) as arrays of `embedding_dim` numbers, whether stored as
    float16 bytes in a BLOB column (`embedding_dim` in the `mmcurate` key-value metadata) or as a list of
    floats, L2-normalised, equal in pyarrow and Polars.
For an `mmcurate export` folder:
  - webdataset: every tar read with the `webdataset` package when it is installed and always with `tarfile`,
    the same keys in the same order; each key is the input row it says (its id equals the input row's id),
    image-text pairs have their image, `.txt` and `.json`; interleaved samples name image parts that exist;
    counts equal the manifest and `stats.json`;
  - llava: `llava.json` parses, has the manifest's row count, every `image` exists under `images/` and is
    named by `<image>` in the first human turn.
Usage: python check_hf_datasets.py OUT_DIR [OUT_DIR ...]   (exit 1 when a check fails)
"""
import glob
import io
import json
import os
import sys
import tarfile

import datasets
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

EMBEDDINGS = ("image_embedding", "text_embedding")


class Failed(Exception):
    pass


def expect(ok, message):
    if not ok:
        raise Failed(message)


def image_feature(f):
    if isinstance(f, datasets.Image):
        return f, False
    if isinstance(f, datasets.List) and isinstance(f.feature, datasets.Image):
        return f.feature, True
    return None, False


def shard_files(folder, manifest):
    return [os.path.join(folder, s["path"]) for s in manifest["shards"]]


def check_datasets(folder, files, manifest):
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=os.path.join(folder, ".hf-cache"))
    expect(len(ds) == manifest["rows"], f"datasets reads {len(ds)} rows, the manifest says {manifest['rows']}")
    cols = {k: image_feature(f) for k, f in ds.features.items()}
    cols = {k: v for k, v in cols.items() if v[0] is not None}
    holds_images = [n for n in ("image", "images") if n in ds.column_names]
    expect(sorted(cols) == sorted(holds_images), f"datasets gives Image features to {sorted(cols)}, expected {holds_images}")
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
    return f"datasets {datasets.__version__}: {len(ds)} rows, Image columns {sorted(cols)}, {decoded} images decoded, {urls} URL references"


def embedding_dim(pf):
    kv = pf.schema_arrow.metadata or {}
    raw = kv.get(b"mmcurate")
    if raw is None:
        return None
    return json.loads(raw).get("embedding_dim")


def as_matrix(column, dim, where):
    """An Arrow column of embeddings (BLOB of float16 bytes, or a list of floats) as an (n, dim) array; nulls dropped."""
    column = column.drop_null() if hasattr(column, "drop_null") else column.filter(column.is_valid())
    t = column.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or getattr(pa.types, "is_binary_view", lambda _: False)(t):
        expect(dim, f"{where}: embeddings as bytes but no embedding_dim in the 'mmcurate' key-value metadata")
        flat = np.frombuffer(b"".join(column.to_pylist()), dtype="<f2")
        expect(flat.size == len(column) * dim, f"{where}: {flat.size} float16 values for {len(column)} rows of dimension {dim}")
        return flat.reshape(len(column), dim).astype(np.float32), "float16 bytes"
    expect(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t), f"{where}: embeddings of type {t}, expected bytes or a list of floats")
    lengths = pc.list_value_length(column).to_numpy()
    n = len(column)
    d = int(lengths[0]) if n else (dim or 0)
    expect(n == 0 or (lengths == d).all(), f"{where}: lists of several lengths {sorted(set(lengths.tolist()))}")
    if dim:
        expect(d == dim or n == 0, f"{where}: lists of {d} numbers, embedding_dim says {dim}")
    flat = pc.list_flatten(column)
    vt = flat.type
    if pa.types.is_binary(vt) or pa.types.is_large_binary(vt) or pa.types.is_fixed_size_binary(vt):
        # Polars reads a FLOAT16 leaf as 2-byte binaries when the file has no ARROW:schema entry (mmcurate writes none)
        raw = b"".join(flat.to_pylist())
        expect(len(raw) == 2 * len(flat), f"{where}: list items of type {vt} that are not 2 bytes (float16)")
        return np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(n, d), f"list<{vt}> as float16"
    values = flat.to_numpy(zero_copy_only=False)
    return values.astype(np.float32).reshape(n, d), f"list<{t.value_type}>"


def check_arrow_polars(files, manifest):
    notes = {}
    ids_pa, ids_pl = [], []
    for f in files:
        pf = pq.ParquetFile(f)
        table = pf.read()
        frame = pl.read_parquet(f)
        expect(table.num_rows == frame.height, f"{f}: pyarrow reads {table.num_rows} rows, Polars {frame.height}")
        ids_pa += table.column("id").to_pylist()
        ids_pl += frame["id"].to_list()
        dim = embedding_dim(pf)
        for col in EMBEDDINGS:
            if col not in table.column_names:
                continue
            a, layout = as_matrix(table.column(col).combine_chunks(), dim, f"{f} {col} (pyarrow)")
            b, _ = as_matrix(frame[col].to_arrow(), dim, f"{f} {col} (Polars)")
            expect(np.array_equal(a, b), f"{f} {col}: pyarrow and Polars read different values")
            if len(a):
                norms = np.linalg.norm(a, axis=1)
                expect(np.allclose(norms, 1, atol=2e-2), f"{f} {col}: norms {norms.min():.4f}..{norms.max():.4f}, expected L2-normalised vectors")
            rows, _, _ = notes.get(col, (0, 0, ""))
            notes[col] = (rows + a.shape[0], a.shape[1], layout)
    expect(len(ids_pa) == manifest["rows"], f"pyarrow reads {len(ids_pa)} rows, the manifest says {manifest['rows']}")
    expect(ids_pa == ids_pl, "pyarrow and Polars read different ids")
    return f"pyarrow {pa.__version__} and Polars {pl.__version__}: {len(ids_pa)} rows" + (f"; embeddings as arrays: {', '.join(f'{c} {n}x{d} ({how})' for c, (n, d, how) in sorted(notes.items()))}" if notes else "")


def input_ids(manifest):
    """The ids of the exported dataset's rows, in row order."""
    src = manifest["export"]["input"]
    with open(os.path.join(src, "manifest.json")) as f:
        m = json.load(f)
    ids = []
    for s in m["shards"]:
        ids += pq.read_table(os.path.join(src, s["path"]), columns=["id"]).column("id").to_pylist()
    return ids


def tar_samples(path):
    """(key, {extension: bytes}) in order, as WebDataset groups a tar: the key is the name up to its first dot."""
    out = []
    with tarfile.open(path) as t:
        for m in t:
            base = os.path.basename(m.name)
            key, ext = base.split(".", 1)
            data = t.extractfile(m).read()
            if out and out[-1][0] == key:
                out[-1][1][ext] = data
            else:
                out.append((key, {ext: data}))
    return out


def read_with_webdataset(tars):
    try:
        import webdataset as wds
    except ImportError:
        return None
    ds = wds.WebDataset(tars, shardshuffle=False, empty_check=False)
    return [s["__key__"] for s in ds]


def check_webdataset(folder, manifest):
    tars = [os.path.join(folder, s["path"]) for s in manifest["shards"]]
    spp = manifest["export"]["samples_per_shard"]
    ids = input_ids(manifest)
    keys, kinds = [], {}
    for tar in tars:
        shard_digits = len(os.path.basename(tar)[: -len(".tar")])
        shard = int(os.path.basename(tar)[: -len(".tar")])
        for key, parts in tar_samples(tar):
            keys.append(key)
            expect("json" in parts, f"{tar}: sample {key} has no .json")
            meta = json.loads(parts["json"])
            row = shard * spp + (int(key[shard_digits:]) if len(key) > shard_digits else 0)
            expect(meta["key"] == key, f"{tar}: {key}.json says key {meta['key']}")
            expect(meta["id"] == ids[row], f"{tar}: {key} is input row {row} by its key, whose id is {ids[row]}, but its json says {meta['id']}")
            kinds[meta["kind"]] = kinds.get(meta["kind"], 0) + 1
            if meta["kind"] == "caption":
                images = [e for e in parts if e not in ("txt", "json")]
                expect(len(images) == 1 and "txt" in parts, f"{tar}: pair {key} has parts {sorted(parts)}, expected an image, txt and json")
                expect(parts["txt"].decode("utf-8") == meta["caption"], f"{tar}: {key}.txt differs from its json caption")
            elif meta["kind"] == "interleaved":
                named = [n for n in meta["images"] if n is not None]
                expect(sorted(named) == sorted(e for e in parts if e != "json"), f"{tar}: document {key} names images {named} but holds {sorted(parts)}")
                expect(len(meta["images"]) == len(meta["texts"]), f"{tar}: document {key} has {len(meta['texts'])} texts and {len(meta['images'])} images")
    expect(len(keys) == manifest["rows"], f"the tars hold {len(keys)} samples, the manifest says {manifest['rows']}")
    expect(len(set(keys)) == len(keys), "a key appears twice")
    with open(os.path.join(folder, "stats.json")) as f:
        stats = json.load(f)
    expect((stats["count"], stats["successes"]) == (manifest["read"], manifest["rows"]), f"stats.json counts {stats['count']}/{stats['successes']}, the manifest {manifest['read']}/{manifest['rows']}")
    wds_keys = read_with_webdataset(tars)
    if wds_keys is not None:
        expect(wds_keys == keys, "the webdataset package reads other keys than tarfile")
        reader = "webdataset and tarfile"
    else:
        reader = "tarfile (the webdataset package is not installed)"
    return f"{reader}: {len(keys)} samples in {len(tars)} tars, keys match the input rows; kinds {kinds}"


def check_llava(folder, manifest):
    with open(os.path.join(folder, "llava.json")) as f:
        entries = json.load(f)
    expect(len(entries) == manifest["rows"], f"llava.json holds {len(entries)} entries, the manifest says {manifest['rows']}")
    images = 0
    for e in entries:
        turns = e["conversations"]
        expect(turns and turns[0]["from"] == "human", f"entry {e['id']}: the first turn is not from the human")
        if "image" in e:
            p = os.path.join(folder, "images", e["image"])
            expect(os.path.isfile(p), f"entry {e['id']}: {p} is missing")
            expect("<image>" in turns[0]["value"], f"entry {e['id']}: the first question does not name <image>")
            images += 1
    return f"json: {len(entries)} conversations, {images} images, all there"


def check(folder):
    path = os.path.join(folder, "manifest.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        manifest = json.load(f)
    if manifest["stage"] == "export":
        fmt = manifest["export"]["format"]
        return [check_webdataset(folder, manifest) if fmt == "webdataset" else check_llava(folder, manifest)]
    files = shard_files(folder, manifest)
    if not files:
        return ["no shards"]
    return [check_datasets(folder, files, manifest), check_arrow_polars(files, manifest)]


failed = False
for folder in sys.argv[1:]:
    try:
        lines = check(folder)
    except Failed as err:
        print(f"FAIL {folder}: {err}")
        failed = True
        continue
    if lines is None:
        continue
    for line in lines:
        print(f"ok   {folder}: {line}")
sys.exit(1 if failed else 0)
