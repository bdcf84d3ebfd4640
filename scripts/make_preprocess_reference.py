#!/usr/bin/python3
"""Reference tensors for mmcurate's image preprocessing, made with PIL + numpy the way each model layout does it.

    npx tsc -p tsconfig.json      (the large JPEGs come from dist/test/preprocess-big-jpeg.js, see below)
    /usr/bin/python3 scripts/make_preprocess_reference.py [OUT_DIR]   (default test/fixtures/preprocess)

Writes small test images in the formats a web crawl brings (JPEG, PNG with alpha, grey, grey+alpha, palette with and
without transparency, 1-bit, 16-bit grey, CMYK JPEG, WebP, EXIF-rotated JPEG, GIFs, odd and tiny sizes) and, for each,
PIL's result in two orders. Both start from `Image.open` as it is: PIL does not apply EXIF orientation, and neither
open_clip's transform nor transformers' CLIPImageProcessor does (transformers' `load_image` helper would).

HF layout, transformers' CLIPImageProcessor (do_convert_rgb): convert("RGB") -> resize so the shortest edge is 224
with PIL BICUBIC (long edge int(224 * long / short)) -> centre crop 224 ((H - 224) // 2, zero padding if smaller).

OpenCLIP layout, open_clip's image_transform for eval: Resize(224, BICUBIC) -> CenterCrop(224) -> _convert_to_rgb ->
ToTensor -> Normalize. torchvision runs Resize as PIL's `Image.resize` on the image in its own mode, so a palette
("P") or bilevel ("1") image is resized with NEAREST whatever the filter, RGBA and LA are resized premultiplied,
CMYK is resized before its conversion and a 16-bit grey PNG (mode "I") is resized in 32-bit integers; CenterCrop
takes int(round((H - 224) / 2.0)). open_clip and torch are not needed: those transforms are reproduced here with PIL.

convert("RGB") drops alpha without compositing, gives a transparent palette entry its palette colour, converts CMYK
with Pillow's formula and clips a 16-bit grey value to 255 (mode "I": values above 255 become white).

Then float64 rescale by 1/255 -> float32 -> (x - mean) / std -> CHW. To keep the fixtures small the cropped uint8
image is stored as a lossless PNG (ref/NAME.png; ref/NAME.openclip.png where the OpenCLIP order differs) and the
test normalises it; one full float32 tensor (jpeg_rgb.f32.gz) and per-image statistics of every normalised tensor
(reference.json) check that last step too. The 1600x1200 and 4000x3000 JPEGs are not committed: the test makes them
from a formula with sharp (test/preprocess-big-jpeg.ts), and reference.json records their sha256 and PIL's crop.
Deterministic: fixed seeds; Pillow 9.4 (Debian 12's python3-pil).
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw

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


def crop_or_pad(arr, top, left):
    """A SIZE x SIZE window at (top, left); outside the image is zero (both libraries pad a too-small image so)."""
    H, W = arr.shape[:2]
    out = np.zeros((SIZE, SIZE) + arr.shape[2:], dtype=arr.dtype)
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(H, top + SIZE), min(W, left + SIZE)
    out[y0 - top:y1 - top, x0 - left:x1 - left] = arr[y0:y1, x0:x1]
    return out


def shortest_edge_size(w, h):
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(SIZE * long / short)
    return (SIZE, new_long) if w <= h else (new_long, SIZE)


def normalise(crop):
    x = (crop.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - MEAN) / STD
    return x.transpose(2, 0, 1).copy()


def hf_reference(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    ow, oh = shortest_edge_size(w, h)
    if (ow, oh) != (w, h):
        img = img.resize((ow, oh), resample=Image.BICUBIC)
    arr = np.array(img)  # H, W, 3 uint8
    H, W = arr.shape[:2]
    # transformers crops at (H - SIZE) // 2; a too-small image is padded around its centre first, which puts
    # the window at the same place: -ceil((SIZE - H) / 2)
    return crop_or_pad(arr, (H - SIZE) // 2, (W - SIZE) // 2)


def openclip_reference(path):
    img = Image.open(path)
    w, h = img.size
    ow, oh = shortest_edge_size(w, h)
    if (ow, oh) != (w, h):
        img = img.resize((ow, oh), resample=Image.BICUBIC)  # in the image's own mode, as torchvision does
    # convert("RGB") is per pixel: after the crop (open_clip's order) or before it, the same pixels
    arr = np.array(img.convert("RGB"))
    H, W = arr.shape[:2]

    def offset(n):  # torchvision's CenterCrop: pads (SIZE - n) // 2 first when too small, else round half to even
        return -((SIZE - n) // 2) if n < SIZE else int(round((n - SIZE) / 2.0))

    return crop_or_pad(arr, offset(H), offset(W))


def displayed_size(path):
    """The size ingest records: after EXIF orientation (the tensor itself ignores it, as PIL does)."""
    img = Image.open(path)
    w, h = img.size
    return (h, w) if img.getexif().get(0x0112, 1) >= 5 else (w, h)


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

    rgba = scene(240, 180, 14).convert("RGBA")
    yy, xx = np.mgrid[0:180, 0:240]
    a = (xx * 255 // 239).astype(np.uint8)  # alpha ramps 0 -> 255 left to right
    a[(yy // 20) % 4 == 1] = 0  # fully transparent bands over vivid colour
    a[(yy // 20) % 4 == 3] = 255
    rgba.putalpha(Image.fromarray(a))
    rgba.save(os.path.join(OUT, "rgba_varying.png"))
    add("rgba_varying.png", "RGBA PNG, alpha ramp 0-255 and transparent bands (OpenCLIP resizes premultiplied)")

    pal = scene(200, 160, 15).convert("P", palette=Image.ADAPTIVE, colors=16)
    pal.save(os.path.join(OUT, "palette_trns.png"), transparency=3)
    add("palette_trns.png", "palette PNG, entry 3 transparent (tRNS); PIL keeps its palette colour")

    pal.save(os.path.join(OUT, "palette_alpha.png"), transparency=bytes((255, 0, 64, 128, 192, 255, 0, 32) * 2))
    add("palette_alpha.png", "palette PNG with 16 alpha values in tRNS")

    gif = scene(160, 120, 16).convert("P", palette=Image.ADAPTIVE, colors=32)
    gif.save(os.path.join(OUT, "transparent.gif"), transparency=int(np.bincount(np.array(gif).ravel()).argmax()))
    add("transparent.gif", "GIF whose most used palette entry is transparent; PIL keeps its palette colour")

    scene(200, 150, 17).save(os.path.join(OUT, "rgb_trns.png"), transparency=(255, 255, 255))
    add("rgb_trns.png", "RGB PNG with a transparent colour (tRNS): PIL's mode stays RGB")

    grey16 = np.array(scene(150, 200, 18).convert("L"), dtype=np.uint16) * 3  # 0-765: PIL clips above 255
    Image.fromarray(grey16, "I;16").save(os.path.join(OUT, "grey16.png"))
    add("grey16.png", "16-bit grey PNG, values 0-765 (PIL mode I; convert clips to 255)")

    scene(120, 90, 19).convert("1").save(os.path.join(OUT, "bilevel.png"))
    add("bilevel.png", "1-bit PNG (PIL mode 1: OpenCLIP resizes it with NEAREST)")

    entries = []

    def record(name, note, path, extra=None):
        w, h = displayed_size(path)
        crop = hf_reference(path)
        oc = openclip_reference(path)
        tensor = normalise(crop)
        stem = os.path.splitext(name)[0]
        Image.fromarray(crop, "RGB").save(os.path.join(OUT, "ref", stem + ".png"), optimize=True)
        entry = {
            "file": name, "note": note, "width": w, "height": h, "ref": "ref/" + stem + ".png",
            "mean": float(tensor.mean(dtype=np.float64)), "l2": float(np.sqrt((tensor.astype(np.float64) ** 2).sum())),
            "first": [float(v) for v in tensor.reshape(-1)[:8]],
        }
        if not np.array_equal(oc, crop):
            Image.fromarray(oc, "RGB").save(os.path.join(OUT, "ref", stem + ".openclip.png"), optimize=True)
            entry["openclip_ref"] = "ref/" + stem + ".openclip.png"
        entry.update(extra or {})
        entries.append(entry)
        return tensor

    for name, note in cases:
        tensor = record(name, note, os.path.join(OUT, name))
        if name == "jpeg_rgb.jpg":
            with open(os.path.join(OUT, "jpeg_rgb.f32.gz"), "wb") as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
                    f.write(tensor.astype("<f4").tobytes())

    # Camera-sized JPEGs (libjpeg could shrink them on load), made by the test's own generator with sharp.
    gen = os.path.join(os.path.dirname(__file__), "..", "dist", "test", "preprocess-big-jpeg.js")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["node", gen, tmp], check=True)
        for w, h in ((1600, 1200), (4000, 3000)):
            name = f"big_{w}x{h}.jpg"
            with open(os.path.join(tmp, name), "rb") as f:
                sha = hashlib.sha256(f.read()).hexdigest()
            record(name, f"{w}x{h} JPEG from test/preprocess-big-jpeg.ts (not committed)", os.path.join(tmp, name),
                   {"generated": True, "sha256": sha})
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"size": SIZE, "mean": MEAN.tolist(), "std": STD.tolist(), "resample": "PIL BICUBIC",
                   "images": entries}, f, indent=1)
    print(f"wrote {len(entries)} reference images to {OUT}")


if __name__ == "__main__":
    main()
