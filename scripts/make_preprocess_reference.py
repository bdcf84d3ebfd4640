#!/usr/bin/python3
"""Reference tensors for mmcurate's image preprocessing, made the way transformers' CLIPImageProcessor does it.

    /usr/bin/python3 scripts/make_preprocess_reference.py [OUT_DIR]   (default test/fixtures/preprocess)

Writes small test images in the formats a web crawl brings (JPEG, PNG with alpha, grey, grey+alpha, palette,
CMYK JPEG, WebP, EXIF-rotated JPEG, animated GIF, odd and tiny sizes) and, for each, PIL + numpy's result of:
open -> ImageOps.exif_transpose -> convert("RGB") -> resize so the shortest edge is 224 with PIL BICUBIC
(long edge int(224 * long / short)) -> centre crop 224 ((H - 224) // 2, zero padding if smaller) -> float64
rescale by 1/255 -> float32 -> (x - mean) / std -> CHW.

To keep the fixtures small the cropped uint8 image is stored as a lossless PNG (ref/NAME.png) and the test
normalises it; one full float32 tensor (jpeg_rgb.f32.gz) and per-image statistics of every normalised tensor
(reference.json) check that last step too. Deterministic: fixed seeds.
"""
import gzip
import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageOps

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "preprocess")
SIZE = 224
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def scene(w, h, seed):
    """A photo-like test card: gradients, noise, hard-edged shapes and thin lines (resampling stresses)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 127 + 100 * np.sin(x / (w / 6.0) + seed)
    g = 127 + 100 * np.cos(y / (h / 5.0))
    b = 127 + 80 * np.sin((x + y) / (w / 3.0))
    arr = np.stack([r, g, b], axis=-1) + rng.normal(0, 3, (h, w, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(8, max(9, w // 3)), y0 + rng.integers(8, max(9, h // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            d.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            d.rectangle([x0, y0, x1, y1], fill=colour)
    for k in range(0, w, 17):
        d.line([k, 0, w - k, h - 1], fill=(255, 255, 255), width=1)
    return img


def hf_reference(path):
    img = Image.open(path)
    img = ImageOps.exif_transpose(img)
    img = img.convert("RGB")
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(SIZE * long / short)
    ow, oh = (SIZE, new_long) if w <= h else (new_long, SIZE)
    if (ow, oh) != (w, h):
        img = img.resize((ow, oh), resample=Image.BICUBIC)
    arr = np.array(img)  # H, W, 3 uint8
    H, W = arr.shape[:2]
    top, left = (H - SIZE) // 2, (W - SIZE) // 2
    if top >= 0 and left >= 0:
        crop = arr[top:top + SIZE, left:left + SIZE]
    else:  # transformers pads a too-small image with zeros around its centre, then crops
        nh, nw = max(SIZE, H), max(SIZE, W)
        pad = np.zeros((nh, nw, 3), dtype=np.uint8)
        pt, pl = -(-(nh - H) // 2), -(-(nw - W) // 2)
        pad[pt:pt + H, pl:pl + W] = arr
        t, l = top + pt, left + pl
        crop = pad[max(0, t):max(0, t) + SIZE, max(0, l):max(0, l) + SIZE]
    x = (crop.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - MEAN) / STD
    return crop, x.transpose(2, 0, 1).copy(), (w, h)


def main():
    os.makedirs(os.path.join(OUT, "ref"), exist_ok=True)
    cases = []

    def add(name, note):
        cases.append((name, note))

    scene(320, 240, 1).save(os.path.join(OUT, "jpeg_rgb.jpg"), quality=90)
    add("jpeg_rgb.jpg", "baseline JPEG, landscape")

    rgba = scene(200, 150, 2).convert("RGBA")
    a = np.zeros((150, 200), dtype=np.uint8)
    yy, xx = np.mgrid[0:150, 0:200]
    a[((xx - 100) ** 2 / 70 ** 2 + (yy - 75) ** 2 / 50 ** 2) < 1] = 255
    a[(xx // 10) % 2 == 0] //= 2  # half-transparent stripes
    rgba.putalpha(Image.fromarray(a))
    rgba.save(os.path.join(OUT, "png_alpha.png"))
    add("png_alpha.png", "RGBA PNG; colour under transparent pixels must survive (PIL drops alpha)")

    scene(180, 260, 3).convert("L").save(os.path.join(OUT, "grey.png"))
    add("grey.png", "8-bit greyscale PNG, portrait")

    la = scene(150, 150, 4).convert("LA")
    la.putalpha(Image.fromarray((np.arange(150 * 150).reshape(150, 150) % 256).astype(np.uint8)))
    la.save(os.path.join(OUT, "grey_alpha.png"))
    add("grey_alpha.png", "greyscale + alpha PNG")

    scene(256, 256, 5).convert("P", palette=Image.ADAPTIVE, colors=32).save(os.path.join(OUT, "palette.png"))
    add("palette.png", "32-colour palette PNG")

    scene(240, 200, 6).convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=92)
    add("cmyk.jpg", "CMYK JPEG (Adobe, inverted); PIL converts with its naive formula")

    scene(300, 300, 7).save(os.path.join(OUT, "lossy.webp"), quality=85)
    add("lossy.webp", "lossy WebP, square")

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    scene(240, 160, 8).save(os.path.join(OUT, "exif_rot6.jpg"), quality=90, exif=exif)
    add("exif_rot6.jpg", "JPEG with EXIF orientation 6 (stored 240x160, shown 160x240)")

    scene(333, 97, 9).save(os.path.join(OUT, "odd_333x97.png"))
    add("odd_333x97.png", "odd size, aspect 3.4")

    scene(50, 40, 10).save(os.path.join(OUT, "tiny_50x40.png"))
    add("tiny_50x40.png", "tiny, upscaled 4.5x")

    scene(800, 600, 12).save(os.path.join(OUT, "large_800x600.jpg"), quality=70)
    add("large_800x600.jpg", "downscale by 2.7 (libvips path)")

    big = scene(480, 640, 13).convert("RGBA")
    big.putalpha(Image.fromarray(np.where((np.arange(480 * 640).reshape(640, 480) // 480) % 64 < 40, 255, 0).astype(np.uint8)))
    big.save(os.path.join(OUT, "alpha_480x640.webp"), quality=80)
    add("alpha_480x640.webp", "lossy WebP with alpha, downscaled (raw RGB then libvips)")

    frames = [scene(120, 90, 11 + k).convert("P", palette=Image.ADAPTIVE, colors=64) for k in range(3)]
    frames[0].save(os.path.join(OUT, "animated.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
    add("animated.gif", "3-frame GIF; the first frame is scored")

    entries = []
    for name, note in cases:
        crop, tensor, (w, h) = hf_reference(os.path.join(OUT, name))
        stem = os.path.splitext(name)[0]
        Image.fromarray(crop, "RGB").save(os.path.join(OUT, "ref", stem + ".png"), optimize=True)
        entries.append({
            "file": name, "note": note, "width": w, "height": h, "ref": "ref/" + stem + ".png",
            "mean": float(tensor.mean(dtype=np.float64)), "l2": float(np.sqrt((tensor.astype(np.float64) ** 2).sum())),
            "first": [float(v) for v in tensor.reshape(-1)[:8]],
        })
        if name == "jpeg_rgb.jpg":
            with open(os.path.join(OUT, "jpeg_rgb.f32.gz"), "wb") as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
                    f.write(tensor.astype("<f4").tobytes())
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"size": SIZE, "mean": MEAN.tolist(), "std": STD.tolist(), "resample": "PIL BICUBIC",
                   "images": entries}, f, indent=1)
    print(f"wrote {len(entries)} reference images to {OUT}")


if __name__ == "__main__":
    main()
