#!/usr/bin/env python3
"""The Python peer of `npm run bench -- download`: what img2dataset does per URL, in one process.

Reads a JSONL of {url, caption}; fetches with aiohttp (a connection pool of --concurrency, no cap per host:
the benchmark has one host) or, when aiohttp is missing, threads + urllib; decodes and resizes with PIL as
img2dataset's resizer does in its default mode (border, 256: alpha matted onto white, the longer side scaled
to 256 with area filtering down / Lanczos up, padded with white to a square) and encodes JPEG quality 95;
writes the kept images into a tar (img2dataset's webdataset layout: KEY.jpg + KEY.txt). Decodes run in a
thread pool of one thread per core (PIL releases the GIL while it decodes and resizes).

Prints one JSON line: {"read": N, "kept": K, "failed": {reason: n}, "client": "aiohttp"|"urllib"}.
"""
import argparse
import asyncio
import concurrent.futures
import io
import json
import os
import tarfile
import threading
import urllib.request

from PIL import Image

SIZE = 256


def resize_border(body):
    img = Image.open(io.BytesIO(body))
    img.load()
    if img.mode in ('RGBA', 'LA') or (img.mode == 'P' and 'transparency' in img.info):
        rgba = img.convert('RGBA')
        bg = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba).convert('RGB')
    elif img.mode != 'RGB':
        img = img.convert('RGB')
    w, h = img.size
    scale = SIZE / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    img = img.resize((nw, nh), Image.BOX if scale < 1 else Image.LANCZOS)
    canvas = Image.new('RGB', (SIZE, SIZE), (255, 255, 255))
    canvas.paste(img, ((SIZE - nw) // 2, (SIZE - nh) // 2))
    out = io.BytesIO()
    canvas.save(out, format='JPEG', quality=95)
    return out.getvalue()


class Sink:
    """The tar and the counts; one lock, since writes come from the decode threads."""

    def __init__(self, path):
        self.tar = tarfile.open(path, 'w')
        self.lock = threading.Lock()
        self.kept = 0
        self.failed = {}

    def add(self, key, jpg, caption):
        with self.lock:
            for name, data in ((f'{key}.jpg', jpg), (f'{key}.txt', caption.encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                self.tar.addfile(info, io.BytesIO(data))
            self.kept += 1

    def fail(self, reason):
        with self.lock:
            self.failed[reason] = self.failed.get(reason, 0) + 1


def process(sink, key, body, caption):
    try:
        sink.add(key, resize_border(body), caption)
    except Exception:  # noqa: BLE001 - any decode failure is a failed image, as in img2dataset
        sink.fail('image_decode_failed')


async def run_aiohttp(rows, args, sink):
    import aiohttp

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(args.concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    conn = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=0)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:

        async def one(i, row):
            async with sem:
                try:
                    async with session.get(row['url']) as r:
                        if r.status != 200:
                            sink.fail(f'http_{r.status}')
                            return
                        body = await r.read()
                except asyncio.TimeoutError:
                    sink.fail('timeout')
                    return
                except aiohttp.ClientError:
                    sink.fail('connection_failed')
                    return
            await loop.run_in_executor(pool, process, sink, f'{i:09d}', body, row.get('caption', ''))

        await asyncio.gather(*(one(i, row) for i, row in enumerate(rows)))
    pool.shutdown()


def run_threads(rows, args, sink):
    def one(item):
        i, row = item
        try:
            with urllib.request.urlopen(row['url'], timeout=args.timeout) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            sink.fail(f'http_{e.code}')
            return
        except Exception:  # noqa: BLE001
            sink.fail('connection_failed')
            return
        process(sink, f'{i:09d}', body, row.get('caption', ''))

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        list(pool.map(one, enumerate(rows)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--input', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--concurrency', type=int, default=256)
    ap.add_argument('--timeout', type=float, default=10)
    ap.add_argument('--client', choices=['auto', 'aiohttp', 'urllib'], default='auto')
    args = ap.parse_args()
    with open(args.input) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    sink = Sink(args.out)
    client = args.client
    if client == 'auto':
        try:
            import aiohttp  # noqa: F401

            client = 'aiohttp'
        except ImportError:
            client = 'urllib'
    if client == 'aiohttp':
        asyncio.run(run_aiohttp(rows, args, sink))
    else:
        run_threads(rows, args, sink)
    sink.tar.close()
    print(json.dumps({'read': len(rows), 'kept': sink.kept, 'failed': sink.failed, 'client': client}))


if __name__ == '__main__':
    main()
