/**
 * `npm run bench:score` (figures, not a test): the score stage against a ViT-B/32-sized CLIP
 * (scripts/make_bench_clip.py, random weights, in .bench/clip-vit-b32).
 *   (a) end-to-end `mmcurate score` pairs/s vs the bare sessions (vision + text session.run on pre-made
 *       tensors, same batch), over BENCH_SCORE_BATCHES batches (default 30), bare and end to end alternating
 *       BENCH_SCORE_ROUNDS times (default 3): the ratio per pair with its spread; target >= 90%;
 *   (b) preprocessing images per CPU second on one core vs PIL + numpy doing the same decode/resize/crop/normalise
 *       (>= 1.5x) at 500x375, 1024x768, 1600x1200 and 4000x3000, alternating with it so both see the same machine
 *       load; PIL from MMCURATE_PIL_PYTHON, else .bench/venv-peers (Pillow from pip), else Debian's;
 *   (c) peak RSS of the scoring process.
 * Environment: BENCH_SCORE_BATCHES (default 30), BENCH_SCORE_BATCH (default 32), BENCH_SCORE_ROUNDS (default 3),
 * BENCH_SCORE_DEVICE (cpu), BENCH_SCORE_ONLY=preprocess (only (b), which needs only the model's preprocessor config)
 * or BENCH_SCORE_ONLY=e2e (only (a) and (c)).
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
import { load, peerPython, ROOT, spread, table, timeNode } from './util.js';

const MODEL = path.join(ROOT, '.bench', 'clip-vit-b32');
const BATCH = Number(process.env.BENCH_SCORE_BATCH ?? 32);
const N = BATCH * Number(process.env.BENCH_SCORE_BATCHES ?? 30);
const ROUNDS = Math.max(1, Number(process.env.BENCH_SCORE_ROUNDS ?? 3));
const PIL_PYTHON = peerPython('MMCURATE_PIL_PYTHON');
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
  /** Images per CPU second (all threads of the process), ours and PIL's, per round. */
  ours: number[];
  pil: number[];
  /** Images per wall-clock second, for comparison. */
  oursWall: number[];
  pilWall: number[];
  load: number[];
}

/** PIL + numpy doing exactly what preprocess.ts does; prints images per CPU second and per wall second. */
function pilScript(cfg: { mean: number[]; std: number[] }, reps: number): string {
  return `
import sys, time, numpy as np, PIL
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
print(n / (time.process_time() - c), n / (time.perf_counter() - t), PIL.__version__)
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
    ['JPEG 4000x3000', 4000, 3000],
  ];
  const card = path.join(ROOT, 'test', 'fixtures', 'preprocess', 'large_800x600.jpg');
  const rows: PreRow[] = [];
  const rounds = 4;
  for (const [label, w, h] of classes) {
    const files: string[] = [];
    const count = w * h > 4e6 ? 6 : 12;
    const reps = w * h > 4e6 ? 1 : 2;
    for (let i = 0; i < count; i++) {
      const f = path.join(dir, `pre_${w}_${i}.jpg`);
      await sharp(card).rotate(90 * (i % 2)).resize(w, h, { fit: 'cover' }).modulate({ hue: i * 29 }).jpeg({ quality: 85 }).toFile(f);
      files.push(f);
    }
    const bytes = files.map((f) => readFileSync(f));
    const n = reps * bytes.length;
    const row: PreRow = { label, ours: [], pil: [], oursWall: [], pilWall: [], load: [] };
    for (let round = 0; round < rounds; round++) {
      row.load.push(load());
      sharp.concurrency(1);
      for (const b of bytes.slice(0, 2)) await preprocessImage(b, cfg); // warm-up
      const c = process.cpuUsage();
      const t = performance.now();
      for (let r = 0; r < reps; r++) for (const b of bytes) await preprocessImage(b, cfg);
      const wall = (performance.now() - t) / 1000;
      const used = process.cpuUsage(c);
      row.ours.push(n / ((used.user + used.system) / 1e6));
      row.oursWall.push(n / wall);
      sharp.concurrency(0);
      const py = spawnSync(PIL_PYTHON, ['-c', pilScript(cfg, reps), ...files], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
      if (py.status !== 0) throw new Error(`the PIL peer (${PIL_PYTHON}) failed: ${py.stderr.slice(-500)}`);
      const [pc, pw, version] = py.stdout.trim().split(' ');
      pilVersion = version!;
      row.pil.push(Number(pc));
      row.pilWall.push(Number(pw));
    }
    rows.push(row);
  }
  return rows;
}

let pilVersion = '?';

function preRow(p: PreRow): string[] {
  const ratio = p.ours.map((o, i) => o / p.pil[i]!);
  const wall = p.oursWall.map((o, i) => o / p.pilWall[i]!);
  return [
    `preprocess 1 core, ${p.label}: ours / Pillow ${pilVersion} + numpy, images per CPU second (per-round ratio: median (min-max); wall-clock ratio after it)`,
    `${spread(p.ours, 1)} / ${spread(p.pil, 1)}: ${spread(ratio)}x (wall ${spread(wall)}x); load ${p.load.map((l) => l.toFixed(1)).join('/')}`,
    '>= 1.5x',
  ];
}

async function benchBare(files: string[]): Promise<{ rate: number; cpuRate: number; loadS: number }> {
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
  const c = process.cpuUsage();
  const t = performance.now();
  for (let b = 0; b < batches; b++) {
    await model.embedImages(pixels, BATCH);
    await model.embedTexts(texts);
  }
  const rate = (batches * BATCH) / ((performance.now() - t) / 1000);
  const used = process.cpuUsage(c);
  await model.close();
  return { rate, cpuRate: (batches * BATCH) / ((used.user + used.system) / 1e6), loadS };
}

export async function benchScore(): Promise<string> {
  const haveModel = existsSync(path.join(MODEL, 'onnx', 'vision_model.onnx'));
  if (ONLY === 'preprocess') {
    // Only the preprocessor config is needed; the bench model copies the test model's.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmcurate-bench-pre-'));
    try {
      const rows = (await benchPreprocess(tmp, haveModel ? MODEL : path.join(ROOT, 'models', 'test-clip'))).map(preRow);
      return ['## score: preprocessing only', '', table(['measure', 'value', 'target'], rows), ''].join('\n');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (!haveModel) {
    return `## score\n\nSkipped: no ViT-B/32-sized model in ${MODEL}. Build it with \`/usr/bin/python3 scripts/make_bench_clip.py\` (Debian torch + onnx, ~600 MB, git-ignored).\n`;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmcurate-bench-score-'));
  try {
    mkdirSync(path.join(tmp, 'raw'));
    const files = await makeImages(path.join(tmp, 'raw'), N);
    writeFileSync(
      path.join(tmp, 'raw', 'captions.jsonl'),
      files.map((f, i) => JSON.stringify({ image: path.basename(f), caption: `a photo of a red circle on a white background, number ${i}` })).join('\n') + '\n',
    );
    await ingest({ kind: 'caption', inputs: [path.join(tmp, 'raw', 'captions.jsonl')], out: path.join(tmp, 'ds'), quiet: true, workers: 1 });

    const pre = ONLY === 'e2e' ? [] : await benchPreprocess(path.join(tmp, 'raw'), MODEL);

    // End to end in its own process (for its peak RSS): Parquet in, decode, preprocess, both towers, Parquet out.
    const script = path.join(tmp, 'e2e.mjs');
    const cmd = pathToFileURL(path.join(ROOT, 'dist', 'src', 'score', 'command.js')).href;
    writeFileSync(script, `const { score } = await import(${JSON.stringify(cmd)});
const c = process.cpuUsage();
const t = performance.now();
await score({ input: ${JSON.stringify(path.join(tmp, 'ds'))}, out: ${JSON.stringify(path.join(tmp, 'out'))}, model: ${JSON.stringify(MODEL)}, device: ${JSON.stringify(DEVICE)}, batch: ${BATCH}, quiet: true });
const u = process.cpuUsage(c);
process.stdout.write(JSON.stringify({ wall: (performance.now() - t) / 1000, cpu: (u.user + u.system) / 1e6 }));\n`);
    // The machine may be shared: bare and end to end alternate, and each end-to-end run is compared with the bare
    // run just before it.
    type E2E = { rate: number; cpuRate: number; rateWithLoad: number; loadS: number; waitMs: number; rss: number; rows: number; provider: string };
    const bare: Awaited<ReturnType<typeof benchBare>>[] = [];
    const e2e: E2E[] = [];
    const loads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      loads.push(load());
      bare.push(await benchBare(files));
      rmSync(path.join(tmp, 'out'), { recursive: true, force: true });
      const run = timeNode(script);
      const { wall, cpu } = JSON.parse(run.stdout.trim()) as { wall: number; cpu: number };
      const manifest = JSON.parse(readFileSync(path.join(tmp, 'out', 'manifest.json'), 'utf8')) as { rows: number; model: { provider: string } };
      const runLog = JSON.parse(readFileSync(path.join(tmp, 'out', 'run-log.json'), 'utf8')) as { timings_ms: Record<string, number> };
      const loadS = (runLog.timings_ms.model_load ?? 0) / 1000;
      e2e.push({ rate: manifest.rows / (wall - loadS), cpuRate: manifest.rows / cpu, rateWithLoad: manifest.rows / wall, loadS, waitMs: runLog.timings_ms.model_waiting_for_input ?? NaN, rss: run.peakRssBytes, rows: manifest.rows, provider: manifest.model.provider });
      process.stderr.write(`score bench round ${round + 1}/${ROUNDS}: bare ${bare.at(-1)!.rate.toFixed(2)} pairs/s, end to end ${e2e.at(-1)!.rate.toFixed(2)} pairs/s, load ${loads.at(-1)!.toFixed(1)}\n`);
    }
    const ratio = e2e.map((e, i) => (100 * e.rate) / bare[i]!.rate);
    const cpuRatio = e2e.map((e, i) => (100 * e.cpuRate) / bare[i]!.cpuRate);
    const cpuName = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}`;
    return [
      `## score (ViT-B/32-sized CLIP, random weights; ${e2e[0]!.provider.toUpperCase()}; ${cpuName}; batch ${BATCH}, ${N / BATCH} batches = ${N} caption pairs, ${ROUNDS} rounds)`,
      '',
      table(
        ['measure', 'value: median (min-max) over the rounds', 'target'],
        [
          ['bare sessions: vision + text session.run on pre-made tensors (pairs/s)', spread(bare.map((b) => b.rate)), ''],
          ['mmcurate score end to end, model load excluded (pairs/s)', spread(e2e.map((e) => e.rate)), ''],
          ['end to end / bare, per round (%)', spread(ratio, 1), '>= 90%'],
          ['the same per CPU second (pairs per CPU s; end to end includes the model load)', `${spread(e2e.map((e) => e.cpuRate))} / ${spread(bare.map((b) => b.cpuRate))} = ${spread(cpuRatio, 1)}%`, ''],
          ['load average (1 min) at each round', loads.map((l) => l.toFixed(1)).join('/'), ''],
          ['model load in the scoring process (s), excluded above', spread(e2e.map((e) => e.loadS)), ''],
          ['end to end including the model load (pairs/s)', spread(e2e.map((e) => e.rateWithLoad)), ''],
          ['model loop waiting for input (ms, whole run)', spread(e2e.map((e) => e.waitMs), 0), ''],
          ...pre.map(preRow),
          ['peak RSS of the scoring process (MiB)', spread(e2e.map((e) => e.rss / 2 ** 20), 0), ''],
        ],
      ),
      '',
    ].join('\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write((await benchScore()) + '\n');
