import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
}
