/**
 * `npm run bench:score` (figures, not a test): the score stage against a ViT-B/32-sized CLIP
 * (scripts/make_bench_clip.py, random weights, in .bench/clip-vit-b32).
 *   (a) end-to-end `mmcurate score` rows/s vs the bare sessions (vision + text session.run on pre-made
 *       tensors, same batch): the target is >= 85% of the bare model;
 *   (b) preprocessing images per CPU second on one core vs PIL + numpy doing the same decode/resize/crop/normalise
 *       (>= 1.5x), alternating with it so both see the same machine load;
 *   (c) peak RSS of the scoring process.
 * Environment: BENCH_SCORE_N (pairs, default 96), BENCH_SCORE_BATCH (default 32), BENCH_SCORE_DEVICE (cpu),
 * BENCH_SCORE_ONLY=preprocess (only (b): a minute instead of several).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { ingest } from '../src/ingest/command.js';
import { loadModel } from '../src/score/model.js';
import { preprocessImage } from '../src/score/preprocess.js';
import { ROOT, table, timeNode } from './util.js';

const MODEL = path.join(ROOT, '.bench', 'clip-vit-b32');
const N = Number(process.env.BENCH_SCORE_N ?? 96);
const BATCH = Number(process.env.BENCH_SCORE_BATCH ?? 32);
const DEVICE = (process.env.BENCH_SCORE_DEVICE ?? 'cpu') as 'cpu' | 'cuda' | 'auto';
const ONLY = process.env.BENCH_SCORE_ONLY;

/** Web-photo-like JPEGs at typical sizes, cut from the preprocessing fixtures' test cards. */
async function makeImages(dir: string, n: number): Promise<string[]> {
  const cards = ['large_800x600.jpg', 'jpeg_rgb.jpg', 'lossy.webp', 'exif_rot6.jpg'].map((f) => path.join(ROOT, 'test', 'fixtures', 'preprocess', f));
  const sizes = [
    [640, 480],
    [500, 375],
    [800, 600],
    [375, 500],
    [1024, 768],
    [300, 300],
  ];
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const [w, h] = sizes[i % sizes.length]!;
    const file = path.join(dir, `img_${i}.jpg`);
    await sharp(cards[i % cards.length]!)
      .rotate(90 * (i % 4))
      .resize(w, h, { fit: 'cover' })
      .modulate({ hue: (i * 37) % 360 })
      .jpeg({ quality: 85 })
      .toFile(file);
    files.push(file);
  }
  return files;
}

interface PreRow {
  label: string;
  /** Images per CPU second (all threads of the process), ours and PIL's. */
  ours: number;
  pil: number;
  /** Images per wall-clock second, for comparison. */
  oursWall: number;
  pilWall: number;
}

/** PIL + numpy doing exactly what preprocess.ts does; prints images per CPU second and per wall second. */
function pilScript(cfg: { mean: number[]; std: number[] }, reps: number): string {
  return `
import sys, time, numpy as np
from PIL import Image, ImageOps
files = sys.argv[1:]
mean = np.array(${JSON.stringify(cfg.mean)}, dtype=np.float32); std = np.array(${JSON.stringify(cfg.std)}, dtype=np.float32)
def pre(f):
    im = ImageOps.exif_transpose(Image.open(f)).convert("RGB")
    w, h = im.size; s = 224
    ow, oh = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)
    im = im.resize((ow, oh), resample=Image.BICUBIC)
    a = np.asarray(im); t, l = (oh - 224) // 2, (ow - 224) // 2
    a = a[t:t + 224, l:l + 224]
    x = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    return ((x - mean) / std).transpose(2, 0, 1).copy()
for f in files[:3]: pre(f)
c = time.process_time(); t = time.perf_counter()
for r in range(${reps}):
    for f in files: pre(f)
n = ${reps} * len(files)
print(n / (time.process_time() - c), n / (time.perf_counter() - t))
`;
}

/**
 * Images per CPU second on one core: ours (sharp with one libvips thread, images one at a time; CPU time of
 * every thread of the process, so the libuv and libvips threads count) vs PIL + numpy (process CPU time). The
 * two alternate a few times so that both see the same load on a shared machine; wall-clock rates are kept too.
 */
async function benchPreprocess(dir: string, cfgDir: string): Promise<PreRow[]> {
  const model = await loadModel(cfgDir, { device: 'cpu', log: () => {} });
  const cfg = model.preprocess;
  await model.close();
  const classes: [string, number, number][] = [
    ['JPEG 500x375', 500, 375],
    ['JPEG 1024x768', 1024, 768],
    ['JPEG 1600x1200', 1600, 1200],
  ];
  const card = path.join(ROOT, 'test', 'fixtures', 'preprocess', 'large_800x600.jpg');
  const rows: PreRow[] = [];
  const reps = 2;
  const rounds = 4;
  for (const [label, w, h] of classes) {
    const files: string[] = [];
    for (let i = 0; i < 12; i++) {
      const f = path.join(dir, `pre_${w}_${i}.jpg`);
      await sharp(card).rotate(90 * (i % 2)).resize(w, h, { fit: 'cover' }).modulate({ hue: i * 29 }).jpeg({ quality: 85 }).toFile(f);
      files.push(f);
    }
    const bytes = files.map((f) => readFileSync(f));
    const n = reps * bytes.length;
    let cpu = 0;
    let wall = 0;
    let pilCpu = 0;
    let pilWall = 0;
    for (let round = 0; round < rounds; round++) {
      sharp.concurrency(1);
      for (const b of bytes.slice(0, 3)) await preprocessImage(b, cfg); // warm-up
      const c = process.cpuUsage();
      const t = performance.now();
      for (let r = 0; r < reps; r++) for (const b of bytes) await preprocessImage(b, cfg);
      wall += (performance.now() - t) / 1000;
      const used = process.cpuUsage(c);
      cpu += (used.user + used.system) / 1e6;
      sharp.concurrency(0);
      const py = spawnSync('/usr/bin/python3', ['-c', pilScript(cfg, reps), ...files], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
      if (py.status !== 0) {
        process.stderr.write(`PIL reference failed: ${py.stderr.slice(-500)}\n`);
        pilCpu = pilWall = NaN;
        break;
      }
      const [pc, pw] = py.stdout.trim().split(' ').map(Number);
      pilCpu += n / pc!;
      pilWall += n / pw!;
    }
    const total = rounds * n;
    rows.push({ label, ours: total / cpu, pil: total / pilCpu, oursWall: total / wall, pilWall: total / pilWall });
  }
  return rows;
}

function preRow(p: PreRow): string[] {
  return [
    `preprocess 1 core, ${p.label}: ours / PIL+numpy (images per CPU second; wall-clock ratio in brackets)`,
    `${p.ours.toFixed(1)} / ${p.pil.toFixed(1)} = ${(p.ours / p.pil).toFixed(2)}x (${(p.oursWall / p.pilWall).toFixed(2)}x)`,
    '>= 1.5x',
  ];
}

async function benchBare(files: string[]): Promise<{ rate: number; loadS: number }> {
  const t0 = performance.now();
  const model = await loadModel(MODEL, { device: DEVICE, log: () => {} });
  const loadS = (performance.now() - t0) / 1000;
  const plane = 3 * 224 * 224;
  const pixels = new Float32Array(BATCH * plane);
  for (let i = 0; i < BATCH; i++) {
    const r = await preprocessImage(readFileSync(files[i % files.length]!), model.preprocess);
    if (r.ok) pixels.set(r.pixels, i * plane);
  }
  const texts = Array.from({ length: BATCH }, (_, i) => `a photo of a red circle on a white background, number ${i}`);
  const tokens = model.tokenizer.encodeBatch(texts);
  void tokens;
  await model.embedImages(pixels, BATCH); // warm-up
  await model.embedTexts(texts);
  const batches = Math.ceil(N / BATCH);
  const t = performance.now();
  for (let b = 0; b < batches; b++) {
    await model.embedImages(pixels, BATCH);
    await model.embedTexts(texts);
  }
  const rate = (batches * BATCH) / ((performance.now() - t) / 1000);
  await model.close();
  return { rate, loadS };
}

export async function benchScore(): Promise<string> {
  if (!existsSync(path.join(MODEL, 'onnx', 'vision_model.onnx'))) {
    return `## score\n\nSkipped: no ViT-B/32-sized model in ${MODEL}. Build it with \`/usr/bin/python3 scripts/make_bench_clip.py\` (Debian torch + onnx, ~600 MB, git-ignored).\n`;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmcurate-bench-score-'));
  try {
    mkdirSync(path.join(tmp, 'raw'));
    if (ONLY === 'preprocess') {
      const rows = (await benchPreprocess(path.join(tmp, 'raw'), MODEL)).map(preRow);
      return ['## score: preprocessing only', '', table(['measure', 'value', 'target'], rows), ''].join('\n');
    }
    const files = await makeImages(path.join(tmp, 'raw'), N);
    writeFileSync(
      path.join(tmp, 'raw', 'captions.jsonl'),
      files.map((f, i) => JSON.stringify({ image: path.basename(f), caption: `a photo of a red circle on a white background, number ${i}` })).join('\n') + '\n',
    );
    await ingest({ kind: 'caption', inputs: [path.join(tmp, 'raw', 'captions.jsonl')], out: path.join(tmp, 'ds'), quiet: true, workers: 1 });

    const pre = await benchPreprocess(path.join(tmp, 'raw'), MODEL);
    const bare = await benchBare(files);

    // End to end in its own process (for its peak RSS): Parquet in, decode, preprocess, both towers, Parquet out.
    const script = path.join(tmp, 'e2e.mjs');
    const cmd = pathToFileURL(path.join(ROOT, 'dist', 'src', 'score', 'command.js')).href;
    writeFileSync(script, `const { score } = await import(${JSON.stringify(cmd)});
const t = performance.now();
await score({ input: ${JSON.stringify(path.join(tmp, 'ds'))}, out: ${JSON.stringify(path.join(tmp, 'out'))}, model: ${JSON.stringify(MODEL)}, device: ${JSON.stringify(DEVICE)}, batch: ${BATCH}, quiet: true });
process.stdout.write(String((performance.now() - t) / 1000));\n`);
    const run = timeNode(script);
    const wall = Number(run.stdout.trim());
    const manifest = JSON.parse(readFileSync(path.join(tmp, 'out', 'manifest.json'), 'utf8')) as { rows: number; model: { provider: string } };
    const runLog = JSON.parse(readFileSync(path.join(tmp, 'out', 'run-log.json'), 'utf8')) as { timings_ms: Record<string, number> };
    // The machine may be shared: measure the bare model again after the end-to-end run and use the mean.
    const bare2 = await benchBare(files);
    const bareRate = (bare.rate + bare2.rate) / 2;
    const loadS = (runLog.timings_ms.model_load ?? 0) / 1000;
    const e2e = manifest.rows / (wall - loadS);
    const cpu = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}`;
    return [
      `## score (ViT-B/32-sized CLIP, random weights; ${manifest.model.provider.toUpperCase()}; ${cpu}; batch ${BATCH}, ${N} caption pairs)`,
      '',
      table(
        ['measure', 'value', 'target'],
        [
          ['bare sessions: vision + text session.run on pre-made tensors (pairs/s; before, after)', `${bareRate.toFixed(2)} (${bare.rate.toFixed(2)}, ${bare2.rate.toFixed(2)})`, ''],
          ['mmcurate score end to end, model load excluded (pairs/s)', e2e, ''],
          ['end to end / bare', `${((100 * e2e) / bareRate).toFixed(1)}%`, '>= 85%'],
          ['model load in the scoring process (s), excluded above', loadS, ''],
          ['end to end including the model load (pairs/s)', manifest.rows / wall, ''],
          ['model loop waiting for input (ms, whole run)', runLog.timings_ms.model_waiting_for_input ?? NaN, ''],
          ...pre.map(preRow),
          ['peak RSS of the scoring process (MiB)', run.peakRssBytes / 2 ** 20, ''],
        ],
      ),
      '',
    ].join('\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write((await benchScore()) + '\n');
