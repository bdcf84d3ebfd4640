/**
 * Hostile input: records nested past any parser's stack, lines of many megabytes, and image paths that point
 * out of the dataset (../, absolute paths, links), at devices, FIFOs and folders. Each becomes a reject with a
 * reason; none stops the run, hangs it, or copies a file from outside into a shard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { duck, readHyparquet, runMain, tmpDir, DEMO } from './helpers.js';
import { toRecord } from '../src/ingest/map.js';
import { MAX_DEPTH } from '../src/ingest/depth.js';
import type { Manifest } from '../src/write/manifest.js';

const dir = tmpDir();
const manifest = (d: string): Manifest => JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8')) as Manifest;
type Reject = { file: string; location: string; reason: string; detail: string };
const rejects = (d: string): Reject[] => {
  try {
    return readdirSync(path.join(d, 'rejects')).flatMap((f) => readFileSync(path.join(d, 'rejects', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Reject));
  } catch {
    return [];
  }
};
const byLine = (d: string): Record<string, Reject> => Object.fromEntries(rejects(d).map((r) => [r.location, r]));
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
const rows = async (out: string): Promise<Record<string, unknown>[]> => (await Promise.all(manifest(out).shards.map((s) => readHyparquet(path.join(out, s.path))))).flat();

test('a record nested 20,000 levels deep is a too_deep reject, not the end of the run; 512 levels are kept', async () => {
  const f = path.join(dir, 'deep.jsonl');
  // `meta` adds one level to the record's own: 511 inside it make a record exactly MAX_DEPTH deep
  writeFileSync(
    f,
    [
      JSON.stringify({ text: 'first' }),
      `{"text": "deep", "meta": ${nested(20_000)}}`,
      `{"text": "at the limit", "meta": ${nested(MAX_DEPTH - 1)}}`,
      `{"text": "one past it", "meta": ${nested(MAX_DEPTH)}}`,
      JSON.stringify({ text: 'last' }),
    ].join('\n') + '\n',
  );
  const out = path.join(dir, 'deep-out');
  const r = await runMain(['ingest', '--kind', 'text', '--input', f, '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.equal(m.rows, 3);
  assert.deepEqual(m.rejected_by_reason, { too_deep: 2 });
  const rj = byLine(out);
  assert.equal(rj['line 2']!.reason, 'too_deep');
  assert.equal(rj['line 4']!.reason, 'too_deep');
  assert.match(rj['line 2']!.detail, /more than 512 levels/);
  assert.deepEqual((await rows(out)).map((x) => x.text).sort(), ['at the limit', 'first', 'last']);
});

test('a record that overflows the stack while it is mapped (a value no reader checked) is rejected as too_deep', () => {
  // fields as the Parquet reader gives them (not from JSON text): the metadata is serialised from the value
  let deep: unknown = [];
  for (let i = 0; i < 50_000; i++) deep = [deep];
  const item = { file: 'x.parquet', location: 'row 0', key: 'row 0', baseDir: dir, fields: { text: 'x', meta: deep } };
  const m = toRecord('text', 'x', item, { map: {}, maxPixels: 1, limit: (fn) => fn(), paths: { allowOutside: false, maxBytes: 1 } });
  assert.ok(!(m instanceof Promise) && 'reason' in m);
  assert.equal(m.reason, 'too_deep');
});

test('a WebDataset sample whose KEY.json nests past the limit is a too_deep reject; the other samples are kept', async () => {
  const { pack } = await import('tar-stream');
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const jpg = readFileSync(path.join(DEMO, 'images', '000_red_circle.jpg'));
  const members: [string, Buffer | string][] = [
    ['000.jpg', jpg],
    ['000.txt', 'a red circle'],
    ['000.json', JSON.stringify({ url: 'https://x/0.jpg' })],
    ['001.jpg', jpg],
    ['001.txt', 'a red circle, deep'],
    ['001.json', `{"url": "https://x/1.jpg", "deep": ${nested(MAX_DEPTH)}}`],
  ];
  for (const [name, body] of members) p.entry({ name }, body);
  p.finalize();
  await new Promise<void>((resolve) => p.on('end', () => resolve()));
  const tar = path.join(dir, 'deep.tar');
  writeFileSync(tar, Buffer.concat(chunks));
  const out = path.join(dir, 'deep-tar-out');
  const r = await runMain(['ingest', '--kind', 'caption', '--input', tar, '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(manifest(out).rows, 1);
  assert.deepEqual(rejects(out).map((x) => [x.location, x.reason]), [['key 001', 'too_deep']]);
  assert.match(rejects(out)[0]!.detail, /^001\.json nests more than 512 levels/);
});

test('a line over --max-line-mb is a line_too_long reject naming it; the lines after it are read; lines spanning many chunks are read exactly', async () => {
  const big = 'é'.repeat(600_000) + '😀'.repeat(300_000); // 2.4 MB of multi-byte characters, cut anywhere by chunks
  const under = 'ü'.repeat(200_000) + '€'.repeat(100_000); // 0.7 MB
  const lines = [JSON.stringify({ text: 'before' }), JSON.stringify({ text: big }), JSON.stringify({ text: under }), JSON.stringify({ text: 'after' })];
  const plain = path.join(dir, 'long.jsonl');
  writeFileSync(plain, lines.join('\n') + '\n');
  // gzip streams come in small chunks: a line spans dozens of them
  writeFileSync(path.join(dir, 'longgz.jsonl.gz'), gzipSync(lines.join('\n')));
  const out = path.join(dir, 'long-out');
  const r = await runMain(['ingest', '--kind', 'text', '--input', plain, path.join(dir, 'longgz.jsonl.gz'), '--max-line-mb', '1', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.equal(m.sources.long!.kept, 3);
  assert.equal(m.sources.longgz!.kept, 3);
  const rj = rejects(out);
  assert.equal(rj.length, 2);
  for (const x of rj) {
    assert.equal(x.reason, 'line_too_long');
    assert.equal(x.location, 'line 2');
    assert.match(x.detail, /^line 2 is 2\.\d+ MiB \(\d+ bytes\), over the limit of 1 MiB/);
  }
  const texts = (await rows(out)).map((x) => x.text as string);
  assert.equal(texts.filter((t) => t === under).length, 2, 'a line under the limit that spans chunks is read whole');
  assert.equal(texts.filter((t) => t === 'after').length, 2);
});

test('plain text: an over-long line is its own reject by line, and rejects the paragraph that holds it', async () => {
  const f = path.join(dir, 'long.txt');
  writeFileSync(f, `short one\n${'x'.repeat(1_500_000)}\nshort two\n\npara a\n${'y'.repeat(1_500_000)}\npara a end\n\npara b\n`);
  const lineOut = path.join(dir, 'long-txt-line');
  assert.equal((await runMain(['ingest', '--kind', 'text', '--input', f, '--max-line-mb', '1', '--out', lineOut, '--quiet'])).code, 0);
  assert.equal(manifest(lineOut).rows, 5);
  assert.deepEqual(rejects(lineOut).map((x) => [x.location, x.reason]), [['line 2', 'line_too_long'], ['line 6', 'line_too_long']]);
  const paraOut = path.join(dir, 'long-txt-para');
  assert.equal((await runMain(['ingest', '--kind', 'text', '--input', f, '--text-split', 'paragraph', '--max-line-mb', '1', '--out', paraOut, '--quiet'])).code, 0);
  assert.deepEqual((await rows(paraOut)).map((x) => x.text), ['para b']);
  const rj = rejects(paraOut);
  assert.deepEqual(rj.map((x) => [x.location, x.reason]), [['line 1', 'line_too_long'], ['line 5', 'line_too_long']]);
  assert.match(rj[1]!.detail, /^the paragraph holds line 6 is/);
});

/** A dataset folder with one image inside, and around it what a hostile record might point at. */
function hostileTree(name: string): { data: string; outsidePng: Buffer } {
  const root = path.join(dir, name);
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'sub'), { recursive: true });
  mkdirSync(path.join(root, 'other'));
  copyFileSync(path.join(DEMO, 'images', '000_red_circle.jpg'), path.join(data, 'sub', 'in.jpg'));
  copyFileSync(path.join(DEMO, 'images', '001_green_star.png'), path.join(root, 'other', 'out.png'));
  execFileSync('mkfifo', [path.join(data, 'fifo.jpg')]);
  mkdirSync(path.join(data, 'dir.jpg'));
  symlinkSync('../other/out.png', path.join(data, 'link-out.png'));
  symlinkSync('../other/none.png', path.join(data, 'dangling-out.png'));
  symlinkSync('sub/in.jpg', path.join(data, 'link-in.jpg'));
  symlinkSync('../other', path.join(data, 'otherdir'));
  return { data, outsidePng: readFileSync(path.join(root, 'other', 'out.png')) };
}

const HOSTILE = [
  ['sub/in.jpg', 'inside'],
  ['../other/out.png', 'up and out, exists'],
  ['../other/none.png', 'up and out, missing'],
  ['/etc/passwd', 'absolute'],
  ['/proc/self/environ', 'proc'],
  ['/dev/zero', 'endless'],
  ['fifo.jpg', 'a fifo'],
  ['dir.jpg', 'a folder'],
  ['link-out.png', 'a link out'],
  ['dangling-out.png', 'a dangling link out'],
  ['link-in.jpg', 'a link inside'],
  ['otherdir/out.png', 'through a linked folder, exists'],
  ['otherdir/none.png', 'through a linked folder, missing'],
  ['missing.jpg', 'missing inside'],
] as const;

test('image paths stay inside the input file\'s folder: ../, absolute paths and links out are image_path_outside, existing or not; FIFOs, folders and devices are not files', { timeout: 120_000 }, async () => {
  const { data, outsidePng } = hostileTree('paths');
  writeFileSync(path.join(data, 'x.jsonl'), HOSTILE.map(([image, caption]) => JSON.stringify({ image, caption })).join('\n') + '\n');
  const out = path.join(dir, 'paths-out');
  const r = await runMain(['ingest', '--kind', 'caption', '--input', path.join(data, 'x.jsonl'), '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const rj = byLine(out);
  const reason = (caption: string): string => rj[`line ${HOSTILE.findIndex((h) => h[1] === caption) + 1}`]?.reason ?? 'kept';
  assert.deepEqual(
    Object.fromEntries(HOSTILE.map(([, c]) => [c, reason(c)])),
    {
      inside: 'kept',
      'up and out, exists': 'image_path_outside',
      'up and out, missing': 'image_path_outside',
      absolute: 'image_path_outside',
      proc: 'image_path_outside',
      endless: 'image_path_outside',
      'a fifo': 'image_not_a_file',
      'a folder': 'image_not_a_file',
      'a link out': 'image_path_outside',
      'a dangling link out': 'image_path_outside',
      'a link inside': 'kept',
      'through a linked folder, exists': 'image_path_outside',
      'through a linked folder, missing': 'image_path_outside',
      'missing inside': 'image_missing',
    },
  );
  // an outside path's existence does not show: the same words for a file that is there and one that is not
  const detail = (c: string): string => rj[`line ${HOSTILE.findIndex((h) => h[1] === c) + 1}`]!.detail;
  assert.equal(detail('up and out, exists').replace('out.png', 'X'), detail('up and out, missing').replace('none.png', 'X'));
  assert.equal(detail('a link out').replace('link-out', 'X'), detail('a dangling link out').replace('dangling-out', 'X'));
  for (const row of await rows(out)) assert.notDeepEqual(Buffer.from((row.image as { bytes: Uint8Array }).bytes), outsidePng);
});

test('--allow-paths-outside reads anywhere, still only regular files and at most --max-image-mb; --image-root widens the folder', { timeout: 120_000 }, async () => {
  const { data } = hostileTree('paths2');
  writeFileSync(path.join(data, 'x.jsonl'), HOSTILE.map(([image, caption]) => JSON.stringify({ image, caption })).join('\n') + '\n');
  const anywhere = path.join(dir, 'paths2-anywhere');
  const r = await runMain(['ingest', '--kind', 'caption', '--input', path.join(data, 'x.jsonl'), '--allow-paths-outside', '--out', anywhere, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const rj = byLine(anywhere);
  assert.equal(rj['line 2'], undefined, '../other/out.png is read');
  assert.equal(rj['line 6']!.reason, 'image_not_a_file');
  assert.match(rj['line 6']!.detail, /\/dev\/zero is a character device/);
  assert.equal(rj['line 7']!.reason, 'image_not_a_file');
  assert.equal(rj['line 5']!.reason, 'image_decode_failed', '/proc/self/environ is read (a regular file), and is no image');

  // a file larger than the limit, and one that claims 0 bytes and gives more (/proc)
  writeFileSync(path.join(data, 'big.jsonl'), [JSON.stringify({ image: 'sub/in.jpg', caption: 'over' }), JSON.stringify({ image: '/proc/self/maps', caption: 'proc' })].join('\n') + '\n');
  const small = path.join(dir, 'paths2-small');
  const r2 = await runMain(['ingest', '--kind', 'caption', '--input', path.join(data, 'big.jsonl'), '--allow-paths-outside', '--max-image-mb', '0.001', '--out', small, '--quiet', '--allow-empty']);
  assert.equal(r2.code, 0, r2.stderr);
  const rj2 = byLine(small);
  assert.equal(rj2['line 1']!.reason, 'image_too_large');
  assert.match(rj2['line 1']!.detail, /^sub\/in\.jpg is \d+ bytes, over the limit of 1049 bytes per image file \(--max-image-mb\)/);
  assert.equal(rj2['line 2']!.reason, 'image_too_large');
  assert.match(rj2['line 2']!.detail, /gave more than/);

  const widened = path.join(dir, 'paths2-root');
  const r3 = await runMain(['ingest', '--kind', 'caption', '--input', path.join(data, 'x.jsonl'), '--image-root', path.dirname(data), '--out', widened, '--quiet']);
  assert.equal(r3.code, 0, r3.stderr);
  const rj3 = byLine(widened);
  assert.equal(rj3['line 2'], undefined, '../other/out.png is inside --image-root');
  assert.equal(rj3['line 3']!.reason, 'image_missing', 'and a missing file there is just missing');
  assert.equal(rj3['line 4']!.reason, 'image_path_outside');
  assert.equal(rj3['line 9'], undefined, 'a link to a file inside --image-root is followed');
});

test('interleaved documents: the same rule for each image path', async () => {
  const { data } = hostileTree('paths3');
  const doc = (image: string) => JSON.stringify({ texts: ['a picture', null], images: [null, image] });
  writeFileSync(path.join(data, 'docs.jsonl'), [doc('sub/in.jpg'), doc('../other/out.png'), doc('/etc/passwd'), doc('fifo.jpg')].join('\n') + '\n');
  const out = path.join(dir, 'paths3-out');
  const r = await runMain(['ingest', '--kind', 'interleaved', '--input', path.join(data, 'docs.jsonl'), '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(manifest(out).rows, 1);
  assert.deepEqual(rejects(out).map((x) => [x.location, x.reason]), [['line 2', 'image_path_outside'], ['line 3', 'image_path_outside'], ['line 4', 'image_not_a_file']]);
  assert.match(rejects(out)[0]!.detail, /^\.\.\/other\/out\.png: outside /);
});

test('HF datasets Parquet with {bytes: null, path}: relative paths resolve against the working directory, or --image-root; a source rejected whole exits 1 unless --allow-empty', async () => {
  const ds = path.join(dir, 'hfds');
  mkdirSync(path.join(ds, 'real'), { recursive: true });
  mkdirSync(path.join(ds, 'meta'));
  const names = readdirSync(path.join(DEMO, 'images')).filter((n) => n.endsWith('.jpg')).slice(0, 5);
  names.forEach((n, i) => copyFileSync(path.join(DEMO, 'images', n), path.join(ds, 'real', `r00${i}.jpg`)));
  const pq = path.join(ds, 'meta', 'train.parquet');
  await duck(`COPY (SELECT {'bytes': NULL::BLOB, 'path': 'real/r00' || i || '.jpg'} AS image, 'picture ' || i AS text FROM range(${names.length}) t(i)) TO '${pq}' (FORMAT parquet)`);

  // as `datasets` reads it: from the dataset's folder as the working directory
  const fromCwd = path.join(dir, 'hf-cwd');
  const r = await runMain(['ingest', '--kind', 'caption', '--input', pq, '--out', fromCwd, '--quiet'], { cwd: ds });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(manifest(fromCwd).rows, names.length);
  const first = (await rows(fromCwd)).find((x) => x.text === 'picture 0')!;
  assert.deepEqual(Buffer.from((first.image as { bytes: Uint8Array }).bytes), readFileSync(path.join(ds, 'real', 'r000.jpg')));
  assert.equal((first.image as { path: string }).path, 'real/r000.jpg');

  // from anywhere, with --image-root naming that folder
  const fromRoot = path.join(dir, 'hf-root');
  const r2 = await runMain(['ingest', '--kind', 'caption', '--input', pq, '--image-root', ds, '--out', fromRoot, '--quiet'], { cwd: dir });
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(manifest(fromRoot).rows, names.length);

  // from elsewhere without it: every row is missing, said loudly, exit 1
  const lost = path.join(dir, 'hf-lost');
  const r3 = await runMain(['ingest', '--kind', 'caption', '--input', pq, '--out', lost, '--quiet'], { cwd: dir });
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /error: source "train": all 5 of its records were rejected, every one for the same reason, image_missing/);
  assert.match(r3.stderr, /working directory/);
  assert.match(r3.stderr, /--allow-empty/);
  assert.equal(manifest(lost).rejected, names.length, 'the manifest and rejects are written all the same');
  const r4 = await runMain(['ingest', '--kind', 'caption', '--input', pq, '--out', path.join(dir, 'hf-lost-ok'), '--quiet', '--allow-empty'], { cwd: dir });
  assert.equal(r4.code, 0, r4.stderr);
  assert.match(r4.stderr, /warning: source "train": all 5/);

  // a path that climbs out of the working directory is outside, as for JSONL
  const pq2 = path.join(ds, 'meta', 'escape.parquet');
  await duck(`COPY (SELECT {'bytes': NULL::BLOB, 'path': '../r000.jpg'} AS image, 'x' AS text) TO '${pq2}' (FORMAT parquet)`);
  const esc = path.join(dir, 'hf-escape');
  const r5 = await runMain(['ingest', '--kind', 'caption', '--input', pq2, '--out', esc, '--quiet', '--allow-empty'], { cwd: ds });
  assert.equal(r5.code, 0, r5.stderr);
  assert.equal(rejects(esc)[0]!.reason, 'image_path_outside');
});

test('--image-root must be a folder', async () => {
  const r = await runMain(['ingest', '--kind', 'caption', '--input', path.join(DEMO, 'captions.jsonl'), '--image-root', path.join(dir, 'nope'), '--out', path.join(dir, 'nope-out')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--image-root .*nope: no such folder/);
});
