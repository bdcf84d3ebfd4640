#!/usr/bin/python3
"""LAION-layout test data for the coreset benchmark: OUT/img_emb/img_emb_PPPP.npy and OUT/text_emb/text_emb_PPPP.npy,
float16, L2-normalised, rows drawn around C random centres with a share of near-duplicate rows (a copy of an
earlier row of the same part plus a little noise), the text vector a noisy copy of the image vector.
Usage: laion_like.py OUT N D C [ROWS_PER_PART] [DUP_SHARE]"""
import os
import sys

import numpy as np


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def main():
    out, n, d, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    per_part = int(sys.argv[5]) if len(sys.argv) > 5 else 250_000
    dup_share = float(sys.argv[6]) if len(sys.argv) > 6 else 0.4
    rng = np.random.default_rng(11)
    centres = unit(rng.standard_normal((c, d), dtype=np.float32))
    os.makedirs(os.path.join(out, "img_emb"), exist_ok=True)
    os.makedirs(os.path.join(out, "text_emb"), exist_ok=True)
    for p, start in enumerate(range(0, n, per_part)):
        m = min(per_part, n - start)
        img = unit(centres[rng.integers(0, c, m)] + 0.04 * rng.standard_normal((m, d), dtype=np.float32))
        copies = np.flatnonzero(rng.random(m) < dup_share)
        originals = rng.integers(0, m, copies.size)
        img[copies] = unit(img[originals] + 0.004 * rng.standard_normal((copies.size, d), dtype=np.float32))
        txt = unit(img + 0.05 * rng.standard_normal((m, d), dtype=np.float32))
        np.save(os.path.join(out, "img_emb", f"img_emb_{p:04d}.npy"), img.astype(np.float16))
        np.save(os.path.join(out, "text_emb", f"text_emb_{p:04d}.npy"), txt.astype(np.float16))
    print(f"wrote {n} rows in {p + 1} parts to {out}")


if __name__ == "__main__":
    main()
