/**
 * The filter stage on real files: a LAION-style metadata sample (demo/data/laion-meta.jsonl, 12 rows, each
 * built to fail one filter or to pass), ingested into 3 shards once and shared by the tests.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { mainStderr, quietMain, shardSums } from './contract-helpers.js';
import { DEMO, ROOT, readHyparquet, readManifestOf, readRejectsOf, tmpDir } from './helpers.js';

let dir: string;
let laion: string;

before(async () => {
  dir = tmpDir('mmcurate-filter-');
  laion = path.join(dir, 'laion');
  assert.equal(await quietMain(['ingest', '--kind', 'caption', '--input', `laion=${DEMO}/laion-meta.jsonl`, '--shard-rows', '4', '--out', laion, '--quiet', '--workers', '1']), 0);
  assert.equal(readManifestOf(laion).shards.length, 3);
});

/** The row numbers (0-11, the line in laion-meta.jsonl) kept in a filter output, in order. */
async function keptLines(out: string): Promise<number[]> {
  const rows = [];
  for (const s of readManifestOf(out).shards) rows.push(...(await readHyparquet(path.join(out, s.path))));
  return rows.map((r) => Number(/(\d+)\.jpg$/.exec(String(r.url))![1]));
}

function reasons(out: string): Record<string, number> {
  return readManifestOf(out).rejected_by_reason;
}

const BUILTINS = ['--min-size', '200', '--max-aspect-ratio', '3', '--max-punsafe', '0.5', '--max-pwatermark', '0.5', '--caption-words', '3-', '--language', 'en'];

test('built-in filters: every row kept or rejected by the first filter it fails, counted per filter', async () => {
  const out = path.join(dir, 'builtins');
  assert.equal(await quietMain(['filter', '--input', laion, '--out', out, ...BUILTINS, '--quiet', '--workers', '1']), 0);
  const m = readManifestOf(out);
  assert.deepEqual([m.read, m.rows, m.rejected], [12, 3, 9]);
  assert.deepEqual(await keptLines(out), [0, 10, 11], 'aspect ratio exactly 3 (600x200) is kept');
  assert.deepEqual(reasons(out), {
    'missing_field:width': 1,
    'filtered:min-size': 1,
    'filtered:max-aspect-ratio': 1,
    'filtered:max-punsafe': 1,
    'missing_field:metadata.punsafe': 1,
    'filtered:max-pwatermark': 1,
    'filtered:caption-words': 1,
    'filtered:language': 2,
  });
  const filters = m.filters as { name: string; evaluated: number; passed: number; rejected: number; missing: number; invalid: number }[];
  assert.deepEqual(
    filters.map((f) => [f.name, f.evaluated, f.passed, f.rejected, f.missing]),
    [
      ['min-size', 12, 10, 1, 1],
      ['max-aspect-ratio', 10, 9, 1, 0],
      ['max-punsafe', 9, 7, 1, 1],
      ['max-pwatermark', 7, 6, 1, 0],
      ['caption-words', 6, 5, 1, 0],
      ['language', 5, 3, 2, 0],
    ],
  );
  assert.deepEqual(m.steps.map((s) => [s.name, s.in, s.out]), [['read', 12, 12], ['min-size', 12, 10], ['max-aspect-ratio', 10, 9], ['max-punsafe', 9, 7], ['max-pwatermark', 7, 6], ['caption-words', 6, 5], ['language', 5, 3]]);
  // every reject names its input shard and row, and the filter
  const rej = readRejectsOf(out);
  assert.equal(rej.length, 9);
  const lang = rej.filter((r) => r.reason === 'filtered:language').map((r) => `${r.file} ${r.location}: ${r.detail}`).sort();
  assert.deepEqual(lang.map((l) => l.replace(/ \(.*\)/, '')), ['data/part-00000-00000.parquet row 1: language de, not en', 'data/part-00000-00002.parquet row 1: language fr, not en']);
  assert.match(rej.find((r) => r.reason === 'filtered:max-aspect-ratio')!.detail, /aspect ratio 4\.000 > 3 \(1200x300\)/);
  assert.match(rej.find((r) => r.reason === 'filtered:caption-words')!.detail, /^1 words, outside 3-$/);
});

test('--on-missing keep lets rows without the field through, still counted as missing', async () => {
  const out = path.join(dir, 'keep');
  assert.equal(await quietMain(['filter', '--input', laion, '--out', out, ...BUILTINS, '--on-missing', 'keep', '--quiet', '--workers', '1']), 0);
  const m = readManifestOf(out);
  assert.deepEqual(await keptLines(out), [0, 7, 8, 10, 11]);
  assert.equal(m.read, m.rows + m.rejected);
  const f = m.filters as { name: string; missing: number; passed: number }[];
  assert.deepEqual(f.map((x) => [x.name, x.missing]), [['min-size', 1], ['max-aspect-ratio', 1], ['max-punsafe', 1], ['max-pwatermark', 0], ['caption-words', 0], ['language', 0]]);
  assert.equal(m.on_missing, 'keep');
});

test('--where expressions over columns, metadata fields and image size; a missing field is an outcome', async () => {
  const out = path.join(dir, 'where');
  const code = await quietMain(['filter', '--input', laion, '--out', out, '--where', 'safe=metadata.punsafe < 0.5', 'aligned=metadata.similarity >= 0.35', '--where=wide=image.width >= 640 and url ~= "^https://"', '--quiet']);
  assert.equal(code, 0);
  assert.deepEqual(await keptLines(out), [6, 9, 10]);
  assert.deepEqual(reasons(out), { 'filtered:safe': 1, 'missing_field:metadata.punsafe': 1, 'filtered:aligned': 5, 'missing_field:image.width': 1, 'filtered:wide': 1 });
  const m = readManifestOf(out);
  assert.deepEqual((m.filters as { name: string; spec: string }[]).map((f) => f.spec), ['metadata.punsafe < 0.5', 'metadata.similarity >= 0.35', 'image.width >= 640 and url ~= "^https://"']);
  const miss = readRejectsOf(out).find((r) => r.reason === 'missing_field:image.width')!;
  assert.equal(`${miss.file} ${miss.location}`, 'data/part-00000-00002.parquet row 0');
  assert.match(miss.detail, /filter wide .* needs image\.width/);
  // exists() asks about the field itself: no missing outcome there
  const ex = path.join(dir, 'exists');
  assert.equal(await quietMain(['filter', '--input', laion, '--out', ex, '--where', 'tagged=exists(metadata.punsafe)', '--quiet', '--workers', '1']), 0);
  assert.deepEqual(reasons(ex), { 'filtered:tagged': 1 });
  // a value of the wrong type is invalid, not a crash
  const bad = path.join(dir, 'invalid');
  assert.equal(await quietMain(['filter', '--input', laion, '--out', bad, '--where', 'odd=text > 3', '--quiet', '--workers', '1']), 0);
  assert.deepEqual(reasons(bad), { 'invalid_value:odd': 12 });
});

test('a bad expression or flag is a usage error before any work, naming the --where and the column', async () => {
  const out = path.join(dir, 'never');
  const cases: [string[], RegExp][] = [
    [['--where', 'bad=clip_score >= '], /--where bad="clip_score >=": not a valid expression at column 14: expected .* got 'EndOfExpression'/],
    [['--where', 'bad=metadata.punsafe <> 0.5'], /--where bad="metadata\.punsafe <> 0\.5": not a valid expression at column 19/],
    [['--where', 'f=shout(text)'], /--where f="shout\(text\)": Unknown function: shout \(functions: abs.*words/],
    [['--where', 'r=text ~= "(["'], /--where r="text ~= "\(\[""/],
    [['--where', 'noname'], /expected NAME="EXPRESSION"/],
    [['--where', 'a=x > 1', 'a=x < 2'], /--where a=\.\.\. is given twice/],
    [['--caption-words', '5-2'], /--caption-words expects MIN-MAX/],
    [['--language', 'english'], /--language takes ISO 639-1 codes/],
    [['--language', 'xx'], /--language xx: not a language the identifier knows/],
    [['--max-punsafe', '5'], /--max-punsafe is a probability/],
    [['--on-missing', 'drop', '--min-size', '2'], /unsupported --on-missing "drop". Should be one of: reject, keep/],
    [[], /no filter given/],
  ];
  for (const [flags, re] of cases) {
    const r = await mainStderr(['filter', '--input', laion, '--out', out, ...flags, '--quiet']);
    assert.equal(r.code, 2, flags.join(' '));
    assert.match(r.stderr, re, flags.join(' '));
  }
  assert.equal(existsSync(out), false, 'nothing was written');
});

test('--tasks 1 and --tasks 3 write the same files with the same bytes', async () => {
  const runs: string[] = [];
  for (const t of ['1', '3']) {
    const out = path.join(dir, `tasks-${t}`);
    assert.equal(await quietMain(['filter', '--input', laion, '--out', out, ...BUILTINS, '--where', 'safe=metadata.punsafe < 0.5', '--tasks', t, '--quiet', '--workers', '1']), 0);
    runs.push(out);
  }
  const [a, b] = runs as [string, string];
  assert.deepEqual(shardSums(a), shardSums(b));
  assert.equal(shardSums(a).length, 2, 'shard 1 of the input keeps nothing and writes no file');
  const rejects = (d: string) => readManifestOf(d).rejects.map((r) => `${r.path} ${readFileSync(path.join(d, r.path), 'utf8')}`);
  assert.deepEqual(rejects(a), rejects(b));
  const strip = (d: string) => ({ ...readManifestOf(d), command: [], tasks: {} });
  assert.deepEqual(strip(a), strip(b));
  // the image embedding metadata an earlier stage wrote goes on: the key-value entry is carried
  // a lost output shard is written again, byte for byte, by the task that owns it
  const first = shardSums(b)[0]!.split(' ')[0]!;
  rmSync(path.join(b, first));
  assert.equal(await quietMain(['filter', '--input', laion, '--out', b, ...BUILTINS, '--where', 'safe=metadata.punsafe < 0.5', '--tasks', '3', '--quiet', '--workers', '1']), 0);
  assert.deepEqual(shardSums(b), shardSums(a));
  const { openParquet } = await import('../src/io/parquet.js');
  const pf = await openParquet(path.join(a, readManifestOf(a).shards[0]!.path));
  assert.equal(JSON.parse(pf.kv.mmcurate!).stage, 'filter');
});

test('text and interleaved records: the same expressions and built-ins over their text and metadata', async () => {
  const texts = path.join(dir, 'texts.jsonl');
  writeFileSync(texts, [
    { text: 'The committee published its annual report on the state of the river basin.', lang: 'en' },
    { text: 'Der Ausschuss veröffentlichte seinen Jahresbericht über den Zustand des Flussgebiets.', lang: 'de' },
    { text: 'short one', lang: 'en' },
    { text: 'A second English document about the migration of birds along the coast.' },
  ].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const ti = path.join(dir, 'text-in');
  assert.equal(await quietMain(['ingest', '--kind', 'text', '--input', `web=${texts}`, '--out', ti, '--quiet', '--workers', '1']), 0);
  const to = path.join(dir, 'text-out');
  assert.equal(await quietMain(['filter', '--input', ti, '--out', to, '--language', 'en', '--caption-words', '4-', '--where', 'tagged=metadata.lang == "en"', '--on-missing', 'keep', '--quiet', '--workers', '1']), 0);
  assert.deepEqual(reasons(to), { 'filtered:caption-words': 1, 'filtered:tagged': 1 });
  assert.equal(readManifestOf(to).rows, 2);

  const docs = path.join(dir, 'docs.jsonl');
  const doc = (n: number, lang: string, text: string) => ({
    texts: [text, ...Array.from({ length: n }, () => null)],
    images: [null, ...Array.from({ length: n }, (_, i) => `https://example.com/${lang}/${i}.jpg`)],
    general_metadata: JSON.stringify({ lang }),
  });
  writeFileSync(docs, [doc(1, 'en', 'A photo essay about lighthouses on the northern coast.'), doc(3, 'en', 'Three pictures of the harbour at dawn, with fishing boats.'), doc(2, 'fr', 'Deux photos du port au lever du soleil, avec les bateaux de pêche.')].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const ii = path.join(dir, 'docs-in');
  assert.equal(await quietMain(['ingest', '--kind', 'interleaved', '--input', `obelics=${docs}`, '--out', ii, '--quiet', '--workers', '1']), 0);
  const io = path.join(dir, 'docs-out');
  assert.equal(await quietMain(['filter', '--input', ii, '--out', io, '--where', 'pictures=num_images >= 2', '--language', 'en', '--quiet', '--workers', '1']), 0);
  assert.deepEqual(reasons(io), { 'filtered:pictures': 1, 'filtered:language': 1 });
  const m = readManifestOf(io);
  assert.deepEqual([m.layout, m.rows], ['interleaved', 1]);
  const r = await mainStderr(['filter', '--input', ii, '--out', path.join(dir, 'never2'), '--min-size', '100']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--min-size and --max-aspect-ratio judge a caption pair's image; interleaved records hold several images/);
});

test('the LAION safety and DataComp basic recipes run as pipeline files', async () => {
  const out = path.join(dir, 'recipes');
  assert.equal(await quietMain(['run', path.join(ROOT, 'pipelines', 'laion-safety.json'), '--out', out]), 0);
  assert.deepEqual(await keptLines(path.join(out, 'safe')), [0, 1, 2, 3, 4, 8, 9, 10, 11]);
  assert.equal(await quietMain(['run', path.join(ROOT, 'pipelines', 'datacomp-basic.json'), '--out', out]), 0);
  assert.deepEqual(await keptLines(path.join(out, 'basic')), [0, 5, 6, 7, 10, 11]);
  assert.deepEqual(reasons(path.join(out, 'basic')), { 'missing_field:width': 1, 'filtered:min-size': 1, 'filtered:max-aspect-ratio': 1, 'filtered:caption-words': 1, 'filtered:language': 2 });
});
