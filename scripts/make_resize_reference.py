#!/usr/bin/env python3
"""Reference outputs for `mmcurate download`'s resize modes, made with PIL (Pillow) the way img2dataset's
resizer.py makes them with OpenCV + albumentations: alpha matted onto white; keep_ratio/center_crop scale the
smaller side to the size, keep_ratio_largest/border the larger one (Python's round, as albumentations'
py3round); area-like filtering down (PIL BOX ~ cv2.INTER_AREA), Lanczos up; center_crop cuts the centre square
(offsets floor((w - S) / 2)), border pads with white (top = int((S - h) / 2)); resize_only_if_bigger never
scales up.

Writes test/fixtures/resize/: the inputs (PNG) and one PNG per case, plus cases.json. Run from the
repository root: python3 scripts/make_resize_reference.py
"""
import json
import os

import numpy as np
from PIL import Image

OUT = os.path.join('test', 'fixtures', 'resize')
S = 64


def picture(w, h, alpha=False):
    y, x = np.mgrid[0:h, 0:w]
    disc = (x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 3) ** 2
    r = np.round(255 * x / w)
    g = np.round(255 * y / h)
    b = np.where(disc, 230, 40)
    # a checker of 6-pixel squares: fine detail that a wrong filter or an off-by-one offset shows
    b = np.where(((x // 6) + (y // 6)) % 2 == 0, b, b // 2)
    ch = [r, g, b]
    if alpha:
        ch.append(np.where(x < w / 4, 0, np.where(x < w / 2, 128, 255)))
    return Image.fromarray(np.stack(ch, axis=-1).astype(np.uint8), 'RGBA' if alpha else 'RGB')


def matte(img):
    if img.mode != 'RGBA':
        return img
    a = np.asarray(img).astype(np.float64)
    alpha = a[:, :, 3:4]
    rgb = alpha / 255 * a[:, :, :3] + 255 - alpha
    return Image.fromarray(np.rint(rgb.clip(0, 255)).astype(np.uint8), 'RGB')


def resize(img, mode, only_if_bigger, S=S):
    img = matte(img)
    w, h = img.size
    if mode == 'no':
        return img
    small = mode in ('keep_ratio', 'center_crop')
    side = min(w, h) if small else max(w, h)
    down = side > S
    if only_if_bigger and not down:
        return img
    scale = S / side
    nw, nh = round(w * scale), round(h * scale)
    img = img.resize((nw, nh), Image.BOX if down else Image.LANCZOS)
    if mode == 'center_crop':
        x1, y1 = (nw - S) // 2, (nh - S) // 2
        img = img.crop((x1, y1, x1 + S, y1 + S))
    elif mode == 'border':
        top, left = int((S - nh) / 2.0), int((S - nw) / 2.0)
        canvas = Image.new('RGB', (S, S), (255, 255, 255))
        canvas.paste(img, (left, top))
        img = canvas
    return img


def main():
    os.makedirs(OUT, exist_ok=True)
    inputs = {'wide': picture(300, 200), 'small': picture(40, 30), 'alpha': picture(90, 120, alpha=True)}
    files = {}
    for name, img in inputs.items():
        files[name] = f'{name}.png'
        img.save(os.path.join(OUT, files[name]))
    # a JPEG: mmcurate scales web JPEGs down through another decoder and resizer than PNGs (src/download/image.ts)
    picture(320, 240).save(os.path.join(OUT, 'photo.jpg'), quality=90)
    inputs['photo'] = Image.open(os.path.join(OUT, 'photo.jpg')).convert('RGB')
    files['photo'] = 'photo.jpg'
    cases = []
    for name in inputs:
        for mode in ('no', 'keep_ratio', 'keep_ratio_largest', 'center_crop', 'border'):
            for only in (False, True):
                if only and name != 'small':
                    continue
                if mode == 'no' and name in ('wide', 'photo'):
                    continue  # unscaled copies of the larger inputs: bytes in the repository for nothing
                out = resize(inputs[name], mode, only)
                file = f'{name}-{mode}{"-only-bigger" if only else ""}.png'
                out.save(os.path.join(OUT, file))
                cases.append({'input': files[name], 'mode': mode, 'size': S, 'resize_only_if_bigger': only, 'reference': file, 'width': out.size[0], 'height': out.size[1]})
    # the JPEG at 200: scaled by less than 2, so no DCT-domain shrink applies and the TurboJPEG/zune-jpeg + box path does
    for mode in ('keep_ratio', 'keep_ratio_largest', 'center_crop', 'border'):
        out = resize(inputs['photo'], mode, False, 200)
        file = f'photo-{mode}-200.png'
        out.save(os.path.join(OUT, file))
        cases.append({'input': 'photo.jpg', 'mode': mode, 'size': 200, 'resize_only_if_bigger': False, 'reference': file, 'width': out.size[0], 'height': out.size[1]})
    with open(os.path.join(OUT, 'cases.json'), 'w') as f:
        json.dump(cases, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
