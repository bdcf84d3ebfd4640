/**
 * mmcurate export: WebDataset tars read back with tar-stream and Python's tarfile (keys and bytes equal to
 * the input rows), the same bytes for any --tasks, resume after a lost shard, interleaved documents in
 * Megatron-Energon's layout, and LLaVA JSON from a real mixture (every `image` there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { extract } from 'tar-stream';
import { readHyparquet, readManifestOf, readRejectsOf, runMain, tmpDir } from './helpers.js';
import { captionRows, interleavedRows, runCommand, textRows, writeDataset, type Row } from './mix-helpers.js';
import * as mix from '../src/mix/command.js';
import { markerPath } from '../src/run/markers.js';

const root = tmpDir('mmcurate-export-');

// 25 caption rows over input shards of 7 rows (output shards of 5 cut across them); rows 6 and 17 have
// only a URL, so they cannot be exported
const capRows: Row[] = await captionRows('coco', 25, { clip: true, meta: (i) => ({ n: i }) });
for (const i of [6, 17]) capRows[i] = { ...capRows[i], image: { bytes: null, path: `https://example.com/${i}.jpg` }, url: `https://example.com/${i}.jpg` };
const captions = path.join(root, 'captions');
writeDataset(captions, 'caption', capRows, { shardRows: 7 });

const docRows = await interleavedRows('obelics', 9);
docRows[4] = { ...docRows[4], images: [null, { bytes: null, path: 'https://example.com/doc4.png' }, null] };
const docs = path.join(root, 'docs');
writeDataset(docs, 'interleaved', docRows, { shardRows: 4 });

/** Every entry of a tar, in order, read with tar-stream. */
async function readTar(file: string): Promise<{ name: string; data: Buffer; mtime: number; mode: number; uid: number }[]> {
  const out: { name: string; data: Buffer; mtime: number; mode: number; uid: number }[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.push({ name: entry.header.name, data: Buffer.concat(chunks), mtime: entry.header.mtime!.getTime(), mode: entry.header.mode!, uid: entry.header.uid! });
    }
  })();
  createReadStream(file).pipe(ex);
  await done;
  return out;
}

const tars = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tar')).sort();
/** The files that must not depend on --tasks: tars, their stats, llava.json and the images (not markers, plans or the manifest). */
const outputs = (dir: string): Record<string, Buffer> =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => !f.startsWith('_') && !f.startsWith('rejects') && f !== 'manifest.json' && statSync(path.join(dir, f)).isFile())
      .sort()
      .map((f) => [f, readFileSync(path.join(dir, f))]),
  );

async function exportTo(args: string[]): Promise<string> {
  const out = path.join(root, `out-${Math.random().toString(36).slice(2, 8)}`);
  const r = await runMain(['export', ...args, '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

const wds1 = await exportTo([captions, '--format', 'webdataset', '--samples-per-shard', '5', '--tasks', '1']);

test('webdataset: img2dataset layout, keys and bytes equal to the input rows, rejects accounted', async () => {
  assert.deepEqual(tars(wds1), ['00000.tar', '00001.tar', '00002.tar', '00003.tar', '00004.tar']);
  const entries = (await Promise.all(tars(wds1).map((t) => readTar(path.join(wds1, t))))).flat();
  const exported = capRows.map((r, i) => ({ r, i })).filter(({ i }) => i !== 6 && i !== 17);
  assert.equal(entries.length, exported.length * 3);
  for (const [n, { r, i }] of exported.entries()) {
    // img2dataset's key: the shard number (5 digits), then the place in the shard (ceil(log10(5)) = 1 digit)
    const key = String(Math.floor(i / 5)).padStart(5, '0') + String(i % 5);
    const [img, txt, js] = entries.slice(n * 3, n * 3 + 3);
    assert.deepEqual([img!.name, txt!.name, js!.name], [`${key}.png`, `${key}.txt`, `${key}.json`]);
    assert.deepEqual(new Uint8Array(img!.data), (r.image as { bytes: Uint8Array }).bytes);
    assert.equal(txt!.data.toString('utf8'), r.text);
    const meta = JSON.parse(js!.data.toString('utf8'));
    assert.equal(meta.key, key);
    assert.equal(meta.id, r.id);
    assert.equal(meta.caption, r.text);
    assert.equal(meta.clip_score, r.clip_score);
    assert.deepEqual([meta.width, meta.height, meta.source], [8, 8, 'coco']);
    assert.deepEqual(meta.metadata, { n: i });
  }
  // fixed headers: the same bytes on any machine
  assert.ok(entries.every((e) => e.mtime === 0 && e.mode === 0o644 && e.uid === 0));
  const m = readManifestOf(wds1);
  assert.deepEqual([m.read, m.rows, m.rejected], [25, 23, 2]);
  assert.deepEqual(m.rejected_by_reason, { no_image_bytes: 2 });
  assert.deepEqual(m.shards.map((s) => s.rows), [5, 4, 5, 4, 5]);
  const { createHash } = await import('node:crypto');
  for (const s of m.shards) {
    const b = readFileSync(path.join(wds1, s.path));
    assert.deepEqual([b.length, createHash('sha256').update(b).digest('hex')], [s.bytes, s.sha256]);
  }
  const rej = readRejectsOf(wds1);
  assert.deepEqual(rej.map((x) => [x.file, x.location, x.reason, x.key]), [
    ['data/part-00000-00000.parquet', 'row 6', 'no_image_bytes', '000011'],
    ['data/part-00000-00002.parquet', 'row 3', 'no_image_bytes', '000032'],
  ]);
  assert.deepEqual(JSON.parse(readFileSync(path.join(wds1, '00001_stats.json'), 'utf8')), { count: 5, successes: 4, failed_to_export: 1, status_dict: { no_image_bytes: 1, success: 4 } });
  assert.deepEqual(JSON.parse(readFileSync(path.join(wds1, 'stats.json'), 'utf8')), { count: 25, successes: 23, failed_to_export: 2, shards: 5, status_dict: { no_image_bytes: 2, success: 23 } });
});

test('webdataset: Python tarfile reads the same members and bytes', async (t) => {
  const py = spawnSync('python3', ['-c', 'import sys, tarfile, hashlib\nfor f in sys.argv[1:]:\n  with tarfile.open(f) as t:\n    for m in t:\n      print(m.name, m.size, hashlib.sha256(t.extractfile(m).read()).hexdigest())', ...tars(wds1).map((f) => path.join(wds1, f))], { encoding: 'utf8' });
  if (py.error || py.status === null) {
    t.skip('python3 is not installed here: the tarfile cross-check is skipped');
    return;
  }
  assert.equal(py.status, 0, py.stderr);
  const { createHash } = await import('node:crypto');
  const ours = (await Promise.all(tars(wds1).map((f) => readTar(path.join(wds1, f))))).flat().map((e) => `${e.name} ${e.data.length} ${createHash('sha256').update(e.data).digest('hex')}`);
  assert.deepEqual(py.stdout.trim().split('\n'), ours);
});

test('webdataset: --tasks 3 writes the same bytes as --tasks 1', async () => {
  const wds3 = await exportTo([captions, '--format', 'webdataset', '--samples-per-shard', '5', '--tasks', '3']);
  assert.deepEqual(outputs(wds3), outputs(wds1));
  assert.ok(Object.keys(outputs(wds1)).length >= 11);
  assert.deepEqual(readRejectsOf(wds3), readRejectsOf(wds1));
});

test('webdataset: a lost shard and a lost marker are written again, the same bytes', async () => {
  const dir = await exportTo([captions, '--format', 'webdataset', '--samples-per-shard', '5', '--tasks', '2']);
  const before = outputs(dir);
  rmSync(path.join(dir, '00003.tar'));
  rmSync(markerPath(dir, 'export', 0));
  rmSync(path.join(dir, 'manifest.json'));
  const r = await runMain(['export', captions, '--format', 'webdataset', '--samples-per-shard', '5', '--tasks', '2', '--out', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /00003\.tar is gone; its task runs again/);
  assert.deepEqual(outputs(dir), before);
  assert.deepEqual([readManifestOf(dir).rows, readManifestOf(dir).read], [23, 25]);
});

test('webdataset: interleaved documents as Megatron-Energon interleaved samples', async () => {
  const dir = await exportTo([docs, '--format', 'webdataset']);
  const entries = await readTar(path.join(dir, '00000.tar'));
  const byKey = new Map<string, Map<string, Buffer>>();
  for (const e of entries) {
    const dot = e.name.indexOf('.');
    const k = e.name.slice(0, dot);
    if (!byKey.has(k)) byKey.set(k, new Map());
    byKey.get(k)!.set(e.name.slice(dot + 1), e.data);
  }
  assert.equal(byKey.size, 8);
  assert.equal(byKey.has('000000004'), false);
  for (const [i, r] of docRows.entries()) {
    if (i === 4) continue;
    const parts = byKey.get(`00000${String(i).padStart(4, '0')}`)!;
    const meta = JSON.parse(parts.get('json')!.toString('utf8'));
    assert.deepEqual(meta.texts, r.texts);
    assert.deepEqual(meta.images, [null, '0.png', null]);
    assert.deepEqual(new Uint8Array(parts.get('0.png')!), ((r.images as unknown[])[1] as { bytes: Uint8Array }).bytes);
  }
  const m = readManifestOf(dir);
  assert.deepEqual([m.read, m.rows, m.kinds], [9, 8, { interleaved: 8 }]);
  assert.deepEqual(readRejectsOf(dir).map((x) => [x.location, x.reason]), [['row 0', 'no_image_bytes']]);
});

test('llava: a mixture\'s instruction rows, captions and text conversations; llava.json parses, every image exists', async () => {
  // a real mixture: VQA rows with conversations (the recipe appends a response-format prompt), plain captions,
  // ShareGPT-like text conversations and plain web text (no instruction form: rejected)
  const conv = (i: number) => ({ conversations: [{ from: 'human', value: `What color is square ${i}?` }, { from: 'gpt', value: 'Red' }] });
  const cap = path.join(root, 'sft-captions');
  writeDataset(cap, 'caption', [...(await captionRows('vqav2', 12, { meta: conv })), ...(await captionRows('laion', 8))]);
  const txt = path.join(root, 'sft-text');
  const chat = (i: number) => ({ conversations: [{ role: 'user', content: `hello ${i}` }, { role: 'assistant', content: 'hi' }] });
  writeDataset(txt, 'text', [...textRows('sharegpt', 5).map((r, i) => ({ ...r, metadata: JSON.stringify(chat(i)) })), ...textRows('web', 3)]);
  const recipe = path.join(root, 'sft.json');
  writeFileSync(recipe, JSON.stringify({ name: 'tiny-sft', citation: { source: 'test' }, on_short: 'error', kinds: { caption: { sources: { vqav2: { count: 12, prompt: 'Answer the question using a single word or phrase.' }, laion: { count: 8 } } }, text: { sources: { sharegpt: { count: 5 }, web: { count: 3 } } } } }));
  const mixed = path.join(root, 'mixture');
  const r = await runCommand(mix, ['--input', `caption=${cap}`, `text=${txt}`, '--recipe', recipe, '--out', mixed, '--quiet']);
  assert.equal(r.code, 0, r.error);
  const mixRows = (await Promise.all(readManifestOf(mixed).shards.map((s) => readHyparquet(path.join(mixed, s.path))))).flat();

  const a = await exportTo([mixed, '--format', 'llava', '--samples-per-shard', '6', '--tasks', '1']);
  const b = await exportTo([mixed, '--format', 'llava', '--samples-per-shard', '6', '--tasks', '3']);
  assert.deepEqual(outputs(b), outputs(a));
  assert.equal(existsSync(path.join(a, '_work')), false);
  const list = JSON.parse(readFileSync(path.join(a, 'llava.json'), 'utf8')) as { id: string; image?: string; conversations: { from: string; value: string }[] }[];
  assert.equal(list.length, 25);
  for (const e of list) {
    const i = Number(e.id.slice(0, 5)) * 6 + Number(e.id.slice(5));
    const row = mixRows[i]!;
    const meta = JSON.parse(String(row.metadata));
    if (row.kind === 'caption') {
      assert.equal(e.image, `${e.id.slice(0, 5)}/${e.id}.png`);
      assert.deepEqual(new Uint8Array(readFileSync(path.join(a, 'images', e.image!))), ((row.images as unknown[])[0] as { bytes: Uint8Array }).bytes);
    } else assert.equal(e.image, undefined);
    if (row.source === 'vqav2') {
      assert.match(e.conversations[0]!.value, /^<image>\nWhat color is square \d+\?\nAnswer the question using a single word or phrase\.$/);
      assert.deepEqual(e.conversations[1], { from: 'gpt', value: 'Red' });
    } else if (row.source === 'laion') {
      assert.match(e.conversations[0]!.value, /^<image>\n[A-Z].*\.$/);
      assert.deepEqual(e.conversations[1], { from: 'gpt', value: (row.texts as string[])[1] });
    } else {
      assert.equal(row.source, 'sharegpt');
      assert.deepEqual(e.conversations, [{ from: 'human', value: meta.metadata.conversations[0].content }, { from: 'gpt', value: 'hi' }]);
    }
  }
  const m = readManifestOf(a);
  assert.deepEqual([m.read, m.rows, m.rejected, m.rejected_by_reason], [28, 25, 3, { no_conversation: 3 }]);
  assert.deepEqual(m.shards.map((s) => s.path), ['llava.json']);
});

test('llava: an interleaved document is rejected, with the reason and what to do', async () => {
  const dir = await exportTo([docs, '--format', 'llava']);
  const m = readManifestOf(dir);
  assert.deepEqual([m.read, m.rows], [9, 0]);
  assert.equal(readFileSync(path.join(dir, 'llava.json'), 'utf8'), '[]\n');
  assert.ok(readRejectsOf(dir).every((x) => x.reason === 'interleaved_document' || x.reason === 'no_image_bytes'));
  assert.match(readRejectsOf(dir).find((x) => x.reason === 'interleaved_document')!.detail, /--format webdataset/);
});

test('usage errors name the flag and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [[captions, '--out', path.join(root, 'x')], /--format is required/],
    [[captions, '--format', 'tfrecord', '--out', path.join(root, 'x')], /unsupported --format "tfrecord"/],
    [[captions, '--format', 'webdataset'], /--out is required/],
    [[path.join(root, 'nope'), '--format', 'webdataset', '--out', path.join(root, 'x')], /no such folder/],
    [[captions, '--format', 'webdataset', '--caption-prompt', 'Describe.', '--out', path.join(root, 'x')], /--caption-prompt is for --format llava/],
    [[wds1, '--format', 'llava', '--out', path.join(root, 'x')], /is itself an export \(webdataset\); export the dataset it was made from/],
  ];
  for (const [args, re] of cases) {
    const r = await runMain(['export', ...args, '--quiet']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('pipelines: an export stage runs after the stage it names (--tasks passed on), and the shipped MM1 WebDataset pipeline checks', async () => {
  const { ROOT } = await import('./helpers.js');
  const file = path.join(root, 'pipe.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'export-pipe',
      stages: [
        { name: 'books', stage: 'ingest', with: { kind: 'text', input: [`books=${path.join(ROOT, 'demo', 'data', 'books.txt')}`] } },
        { name: 'wds', stage: 'export', with: { input: '@books', format: 'webdataset', 'samples-per-shard': 8 } },
      ],
    }),
  );
  const out = path.join(root, 'pipe-out');
  const r = await runMain(['run', file, '--out', out, '--tasks', '2']);
  assert.equal(r.code, 0, r.stderr);
  const m = readManifestOf(path.join(out, 'wds'));
  const rows = readManifestOf(path.join(out, 'books')).rows;
  assert.deepEqual([m.read, m.rows, m.rejected, m.kinds], [rows, rows, 0, { text: rows }]);
  assert.deepEqual(m.tasks, { world: 2 });
  assert.equal(tars(path.join(out, 'wds')).length, Math.ceil(rows / 8));
  const first = await readTar(path.join(out, 'wds', '00000.tar'));
  assert.deepEqual(first.slice(0, 2).map((e) => e.name), ['000000.txt', '000000.json']);

  const { loadPipeline, stageArgv } = await import('../src/pipeline/load.js');
  const { COMMANDS } = await import('../src/cli/commands.js');
  const shipped = path.join(ROOT, 'pipelines', 'mm1-pretrain-webdataset.json');
  const p = loadPipeline(shipped);
  assert.equal(p.stages.at(-1)!.stage, 'export');
  for (const [i, s] of p.stages.entries()) (await COMMANDS[s.stage]!.load()).check?.(stageArgv(p, i, shipped, path.join(root, 'never')));
});
