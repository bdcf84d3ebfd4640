import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { DEMO, readManifestOf, runMain, tmpDir } from './helpers.js';

// The package's own entry, resolved as a user's import is: through package.json "exports" (a self-reference)
type Api = typeof import('../src/index.js');
const PACKAGE = 'mmcurate';
let api: Api;
const dir = tmpDir();
const text = path.join(dir, 'text');

before(async () => {
  api = (await import(PACKAGE)) as Api;
});

test("import('mmcurate') runs a stage and returns the manifest it wrote, as the CLI does", async () => {
  const m = await api.ingest({ kind: 'text', input: [`books=${DEMO}/books.txt`], out: text, shardRows: 5, quiet: true });
  assert.deepEqual(m, readManifestOf(text));
  assert.equal(m.stage, 'ingest');
  assert.ok(m.rows > 5 && m.shards.length >= 2, `${m.rows} rows in ${m.shards.length} shards`);
  const cli = await runMain(['ingest', '--kind', 'text', '--input', `books=${DEMO}/books.txt`, '--shard-rows', '5', '--out', path.join(dir, 'text-cli'), '--quiet']);
  assert.equal(cli.code, 0, cli.stderr);
  const viaCli = readManifestOf(path.join(dir, 'text-cli'));
  assert.deepEqual(viaCli.shards.map((s) => s.sha256), m.shards.map((s) => s.sha256));
  for (const f of ['ingest', 'score', 'coreset', 'mix', 'audit', 'run', 'runStage'] as const) assert.equal(typeof api[f], 'function', f);
});

test('a bad option is refused with the CLI message before anything is written', async () => {
  const out = path.join(dir, 'never');
  const refused = async (p: Promise<unknown>, re: RegExp) => {
    await assert.rejects(p, (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2, e.message);
      assert.match(e.message, re);
      return true;
    });
  };
  await refused(api.score({ input: text, out, device: 'gpu' as 'cpu' }), /mmcurate score: unsupported --device "gpu". Should be one of: auto, cpu, cuda/);
  await refused(api.score({ input: text, out, keepTop: 1.5 }), /--keep-top must be a fraction in \(0, 1\], got 1.5/);
  await refused(api.ingest({ kind: 'text', input: [`${DEMO}/books.txt`], out, shardRows: 0 }), /--shard-rows must be at least 1, got 0/);
  await refused(api.ingest({ kind: 'text', input: [`${DEMO}/books.txt`], out, ...{ shardRowz: 5 } }), /mmcurate.ingest\(\): unknown option "shardRowz". Valid options: kind, input/);
  await refused(api.mix({ input: [`text=${text}`], ratio: 'text=1', onShort: 'grow', out }), /--on-short grow: expected one of shrink, upsample, error/);
  await refused(api.audit(text, { tolerance: -1 }), /--tolerance -1: expected percentage points >= 0/);
  assert.equal(existsSync(out), false);
  const cli = await runMain(['score', '--input', text, '--device', 'gpu', '--out', out]);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /mmcurate score: unsupported --device "gpu". Should be one of: auto, cpu, cuda/);
});

test('a pipeline whose third stage has a bad value is refused before the first stage runs (CLI and library)', async () => {
  const pl = path.join(dir, 'late-value.json');
  const out = path.join(dir, 'late-out');
  const stages = [
    { name: 'docs', stage: 'ingest', with: { kind: 'text', input: [`${DEMO}/books.txt`] } },
    { name: 'scored', stage: 'score', with: { input: '@docs', 'embed-text': true } },
    { name: 'mixture', stage: 'mix', with: { input: ['text=@scored'], ratio: 'text=1', by: 'pages' } },
  ];
  writeFileSync(pl, JSON.stringify({ name: 'late', stages }));
  const cli = await runMain(['run', pl, '--out', out]);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /\/stages\/2 \(mixture\): --by pages: expected one of samples, tokens/);
  assert.equal(existsSync(path.join(out, 'docs')), false, 'the first stage must not have run');
  stages[2] = { name: 'mixture', stage: 'coreset', with: { input: '@scored', recipe: 'semdedup', device: 'tpu' } } as never;
  writeFileSync(pl, JSON.stringify({ name: 'late', stages }));
  await assert.rejects(api.run(pl, { out }), /\/stages\/2 \(mixture\): mmcurate coreset: unsupported --device "tpu"/);
  assert.equal(existsSync(path.join(out, 'docs')), false, 'the first stage must not have run');
});

// The new stages through the library and the CLI: the same manifest, less the command line (an options object
// becomes --flag=value) and the output folder's own path.
const captions = path.join(dir, 'captions');
function sameManifest(libOut: string, cliOut: string): void {
  const norm = (d: string) => {
    const { command: _c, ...m } = readManifestOf(d);
    return JSON.parse(JSON.stringify(m).split(d).join('OUT')) as unknown;
  };
  assert.deepEqual(norm(libOut), norm(cliOut));
}
/** The codecs of a dataset's first shard, less image bytes' (stored as they are). */
async function codecs(d: string): Promise<string[]> {
  const meta = await parquetMetadataAsync(await asyncBufferFromFile(path.join(d, readManifestOf(d).shards[0]!.path)));
  return [...new Set(meta.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data!.codec)))].filter((c) => c !== 'UNCOMPRESSED');
}

test('filter, dedup and exportDataset write what their commands write', async () => {
  const cap = await runMain(['ingest', '--kind', 'caption', '--input', `coco=${DEMO}/captions.jsonl`, '--shard-rows', '20', '--out', captions, '--quiet']);
  assert.equal(cap.code, 0, cap.stderr);
  const lib = path.join(dir, 'lib'), cli = path.join(dir, 'cli');

  const f = await api.filter({ input: captions, minSize: 64, captionWords: '4-', where: ['jpeg=image.format == "jpeg"'], compression: 'gzip', out: path.join(lib, 'filtered'), quiet: true });
  assert.ok(f.rows > 0 && f.rejected > 0, `filter kept ${f.rows}, rejected ${f.rejected}`);
  assert.deepEqual(f, readManifestOf(path.join(lib, 'filtered')));
  const fc = await runMain(['filter', '--input', captions, '--min-size', '64', '--caption-words', '4-', '--where', 'jpeg=image.format == "jpeg"', '--compression', 'gzip', '--out', path.join(cli, 'filtered'), '--quiet']);
  assert.equal(fc.code, 0, fc.stderr);
  sameManifest(path.join(lib, 'filtered'), path.join(cli, 'filtered'));
  assert.deepEqual(await codecs(path.join(lib, 'filtered')), ['GZIP']);

  const d = await api.dedup({ input: [text, text], exact: 'text', compression: 'snappy', out: path.join(lib, 'dedup'), quiet: true });
  assert.equal(d.rejected_by_reason.duplicate, readManifestOf(text).rows, 'the second copy of every row is a duplicate');
  const dc = await runMain(['dedup', '--input', text, '--input', text, '--exact', 'text', '--compression', 'snappy', '--out', path.join(cli, 'dedup'), '--quiet']);
  assert.equal(dc.code, 0, dc.stderr);
  sameManifest(path.join(lib, 'dedup'), path.join(cli, 'dedup'));
  assert.deepEqual(await codecs(path.join(lib, 'dedup')), ['SNAPPY']);

  const e = await api.exportDataset({ input: path.join(lib, 'filtered'), format: 'webdataset', samplesPerShard: 10, out: path.join(lib, 'wds'), quiet: true });
  assert.equal(e.stage, 'export');
  const ec = await runMain(['export', path.join(lib, 'filtered'), '--format', 'webdataset', '--samples-per-shard', '10', '--out', path.join(cli, 'wds'), '--quiet']);
  assert.equal(ec.code, 0, ec.stderr);
  sameManifest(path.join(lib, 'wds'), path.join(cli, 'wds'));

  const figures = await api.report(path.join(lib, 'filtered'), { out: path.join(lib, 'filtered.html'), samples: 2, quiet: true });
  assert.ok(existsSync(path.join(lib, 'filtered.html')));
  // the figures are --json's (thumbnails counted, not inlined), drawn from the manifest just written
  assert.equal(typeof figures.thumbs, 'number');
  const funnel = figures.funnel.filter((s) => s.stage === 'filter');
  assert.deepEqual([funnel[0]?.in, funnel.at(-1)?.out, funnel.map((s) => s.step).includes('jpeg')], [f.read, f.rows, true], JSON.stringify(figures.funnel));
  for (const fn of ['filter', 'dedup', 'download', 'exportDataset', 'report'] as const) assert.equal(typeof api[fn], 'function', fn);
});

test('a new stage refuses a bad value with the CLI message, in a call and late in a pipeline', async () => {
  const out = path.join(dir, 'never-new');
  await assert.rejects(api.filter({ input: text, out, onMissing: 'drop' as 'keep' }), /mmcurate filter: unsupported --on-missing "drop". Should be one of: reject, keep/);
  await assert.rejects(api.dedup({ input: text, out, near: 'text', threshold: 2 }), /--threshold 2: expected a Jaccard similarity in \(0, 1\]/);
  await assert.rejects(api.download({ input: text, out, encodeFormat: 'png', encodeQuality: 95 }), /for png it is the compression level, 0-9/);
  await assert.rejects(api.exportDataset({ input: text, out, format: 'llava', captionPrompt: ' ' }), /--caption-prompt must not be blank/);
  assert.equal(existsSync(out), false);
  const pl = path.join(dir, 'late-filter.json');
  const plOut = path.join(dir, 'late-filter-out');
  const stages = [
    { name: 'docs', stage: 'ingest', with: { kind: 'text', input: [`${DEMO}/books.txt`] } },
    { name: 'unique', stage: 'dedup', with: { input: ['@docs'], exact: 'text' } },
    { name: 'long', stage: 'filter', with: { input: '@unique', where: ['long=length(text) >'] } },
  ];
  writeFileSync(pl, JSON.stringify({ name: 'late', stages }));
  const cli = await runMain(['run', pl, '--out', plOut]);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /\/stages\/2 \(long\): --where long="length\(text\) >": not a valid expression/);
  await assert.rejects(api.run(pl, { out: plOut }), /\/stages\/2 \(long\): --where long="length\(text\) >": not a valid expression/);
  assert.equal(existsSync(path.join(plOut, 'docs')), false, 'the first stage must not have run');
});

// Compile-time checks: `tsc` fails the build when an option the types should refuse is accepted.
export function typeChecks(a: Api): void {
  // @ts-expect-error out is required
  void a.ingest({ kind: 'text', input: ['x'] });
  // @ts-expect-error kind is one of caption | interleaved | text
  void a.ingest({ kind: 'video', input: ['x'], out: 'y' });
  // @ts-expect-error shardRows is a number
  void a.score({ input: 'x', out: 'y', shardRows: '5' });
  // @ts-expect-error no such option
  void a.coreset({ input: 'x', out: 'y', clusters: 5 });
  void a.mix({ input: 'caption=x', ratio: 'caption=1', out: 'y', total: 10 });
  // @ts-expect-error device is auto | cpu | cuda
  void a.score({ input: 'x', out: 'y', device: 'gpu' });
  // @ts-expect-error dedup's input is required
  void a.dedup({ exact: 'text', out: 'y' });
  // @ts-expect-error exact is image | caption | text | url | image+caption
  void a.dedup({ input: 'x', exact: 'pixels', out: 'y' });
  // @ts-expect-error onMissing is reject | keep
  void a.filter({ input: 'x', out: 'y', onMissing: 'drop' });
  // @ts-expect-error format is webdataset | llava
  void a.exportDataset({ input: 'x', format: 'tfrecord', out: 'y' });
  // @ts-expect-error compression is zstd | snappy | gzip
  void a.download({ input: 'x', out: 'y', compression: 'lz4' });
  void a.report('x', { out: 'x/report.html', samples: 4 });
}
