/**
 * The text-quality rules on real files: one document built to fail each rule (and only that one first), one
 * good document that passes them all; exact counts per rule, C4's cleaned text, interleaved text judged too.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { quietMain } from './contract-helpers.js';
import { readHyparquet, readManifestOf, readRejectsOf, tmpDir } from './helpers.js';

const GOOD = [
  'The river flows through the old town and past the mill that was built in the last century.',
  'Every spring the water rises with the melting snow, and the meadows along the banks turn green.',
  'Visitors walk the towpath to see the herons that have nested in the willows for many years.',
  'A small museum near the bridge tells the story of the boatmen who carried grain to the coast.',
].join('\n');

const words = (n: number, make: (i: number) => string) => Array.from({ length: n }, (_, i) => make(i)).join(' ');
const letters = (i: number) => String.fromCharCode(97 + (i % 26)) + String.fromCharCode(97 + Math.floor(i / 26));

/** id -> [text, the rule it is built to fail first (undefined: passes)] */
const DOCS: Record<string, [string, string | undefined]> = {
  good: [GOOD, undefined],
  short: ['The mill and the river are old.', 'gopher:word_count'],
  long_words: [`The ${words(55, (i) => `extraordinarily${letters(i)}`)} and more.`, 'gopher:mean_word_length'],
  hashes: [`${GOOD}\n${words(12, (i) => `#tag${letters(i)}`)}`, 'gopher:hash_ratio'],
  bullets: [Array.from({ length: 10 }, (_, i) => `• the ${letters(i)} item and that is with water`).join('\n'), 'gopher:bullet_lines'],
  ellipsis_lines: [GOOD.split('\n').map((l, i) => (i < 2 ? l.replace(/\.$/, '...') : l)).join('\n'), 'gopher:ellipsis_lines'],
  numbers: [`${GOOD}\n${words(40, (i) => String(1000 + i))}`, 'gopher:alpha_words'],
  no_stop_words: [words(60, (i) => `river${letters(i)}`), 'gopher:stop_words'],
};

const REPEATS: Record<string, [string, string | undefined]> = {
  good: [GOOD, undefined],
  dup_lines: [[...GOOD.split('\n'), ...Array.from({ length: 4 }, () => 'The same line comes back again and again here.')].join('\n'), 'gopher:dup_line_frac'],
  dup_paras: [[GOOD, 'A paragraph that repeats.', 'A paragraph that repeats.', 'A paragraph that repeats.'].join('\n\n'), 'gopher:dup_para_frac'],
  top_2_gram: [words(60, () => 'buy now'), 'gopher:top_2_gram'],
};

const C4_DOCS: Record<string, [string, string | undefined]> = {
  good: [`Welcome to our river page\n${GOOD}\nPlease enable JavaScript to see the map of the river.\nThis site uses cookies to count its many visitors.`, undefined],
  lorem: [`${GOOD}\nLorem ipsum dolor sit amet, consectetur adipiscing elit.`, 'c4:lorem_ipsum'],
  code: [`${GOOD}\nfunction flow() { return the river to the sea; }.`, 'c4:curly_bracket'],
  thin: ['Home | About | Contact\nThe river flows through the old town.\nshort line.', 'c4:too_few_sentences'],
};

let dir: string;

async function ingestText(name: string, docs: Record<string, [string, string | undefined]>): Promise<string> {
  const file = path.join(dir, `${name}.jsonl`);
  writeFileSync(file, Object.entries(docs).map(([id, [text]]) => JSON.stringify({ doc: id, text })).join('\n') + '\n');
  const out = path.join(dir, `${name}-in`);
  assert.equal(await quietMain(['ingest', '--kind', 'text', '--input', `web=${file}`, '--out', out, '--quiet', '--workers', '1']), 0);
  return out;
}

/** Which rule rejected which document (by its doc field, kept in metadata), and which were kept. */
async function outcome(input: string, flag: string): Promise<{ rejected: Record<string, string>; kept: Record<string, string>; out: string }> {
  const out = path.join(dir, `${path.basename(input)}-${flag.replace(/^--/, '')}`);
  assert.equal(await quietMain(['filter', '--input', input, '--out', out, flag, '--quiet', '--workers', '1']), 0);
  const m = readManifestOf(out);
  assert.equal(m.read, m.rows + m.rejected);
  const inRows = await readHyparquet(path.join(input, readManifestOf(input).shards[0]!.path));
  const docOf = new Map(inRows.map((r) => [String(r.id), JSON.parse(String(r.metadata)).doc as string]));
  const rejected = Object.fromEntries(readRejectsOf(out).map((r) => [docOf.get(String(r.id))!, r.reason]));
  const kept: Record<string, string> = {};
  for (const s of m.shards) for (const r of await readHyparquet(path.join(out, s.path))) kept[docOf.get(String(r.id))!] = String(r.text);
  return { rejected, kept, out };
}

function expected(docs: Record<string, [string, string | undefined]>): Record<string, string> {
  return Object.fromEntries(Object.entries(docs).filter(([, [, r]]) => r).map(([id, [, r]]) => [id, r!]));
}

before(() => {
  dir = tmpDir('mmcurate-filter-text-');
});

test('--gopher-quality: each rule rejects the document built to fail it, counted per rule', async () => {
  const { rejected, kept, out } = await outcome(await ingestText('quality', DOCS), '--gopher-quality');
  assert.deepEqual(rejected, expected(DOCS));
  assert.deepEqual(Object.keys(kept), ['good']);
  const f = readManifestOf(out).filters as { name: string; evaluated: number; rejected: number }[];
  assert.deepEqual(f.map((x) => [x.name, x.evaluated, x.rejected]), [
    ['gopher:word_count', 8, 1],
    ['gopher:mean_word_length', 7, 1],
    ['gopher:hash_ratio', 6, 1],
    ['gopher:ellipsis_ratio', 5, 0],
    ['gopher:bullet_lines', 5, 1],
    ['gopher:ellipsis_lines', 4, 1],
    ['gopher:alpha_words', 3, 1],
    ['gopher:stop_words', 2, 1],
  ]);
});

test('--gopher-repetition: duplicate lines, paragraphs and n-grams, with Table A1 thresholds', async () => {
  const { rejected, kept, out } = await outcome(await ingestText('repetition', REPEATS), '--gopher-repetition');
  assert.deepEqual(rejected, expected(REPEATS));
  assert.deepEqual(Object.keys(kept), ['good']);
  const f = readManifestOf(out).filters as { name: string; spec: string }[];
  assert.equal(f.length, 4 + 3 + 6);
  assert.equal(f.find((x) => x.name === 'gopher:dup_10_gram')!.spec, 'characters in duplicated 10-grams <= 0.1');
  assert.match(readRejectsOf(out).find((r) => r.reason === 'gopher:dup_line_frac')!.detail, /duplicate line fraction 0\.375 > 0\.3/);
});

test('--c4: page rules reject, line rules clean the text that is kept', async () => {
  const { rejected, kept } = await outcome(await ingestText('c4', C4_DOCS), '--c4');
  assert.deepEqual(rejected, expected(C4_DOCS));
  assert.equal(kept.good, GOOD, 'the heading (no terminal punctuation), the javascript line and the cookie notice are gone');
});

test('the text-quality pipeline file runs on its sample: rules, then an exact and a near copy removed by dedup', async () => {
  const { ROOT } = await import('./helpers.js');
  const out = path.join(dir, 'pipeline');
  assert.equal(await quietMain(['run', path.join(ROOT, 'pipelines', 'text-quality.json'), '--out', out]), 0);
  const m = readManifestOf(path.join(out, 'quality'));
  assert.deepEqual([m.read, m.rows], [9, 4]);
  assert.deepEqual(m.rejected_by_reason, { 'gopher:word_count': 1, 'gopher:stop_words': 1, 'gopher:bullet_lines': 1, 'c4:lorem_ipsum': 1, 'c4:curly_bracket': 1 });
  // page 7 is page 0 in capitals with doubled spaces; page 8 is page 1 with one word changed
  const exact = readManifestOf(path.join(out, 'exact'));
  assert.deepEqual([exact.read, exact.rows, exact.rejected_by_reason], [4, 3, { duplicate: 1 }]);
  const near = readManifestOf(path.join(out, 'near'));
  assert.deepEqual([near.read, near.rows, near.rejected_by_reason], [3, 2, { near_duplicate: 1 }]);
});

test('interleaved documents are judged on their text segments joined, and never rewritten', async () => {
  const file = path.join(dir, 'docs.jsonl');
  const doc = (texts: string[]) => ({ texts: [...texts, null], images: [...texts.map(() => null), 'https://example.com/a.jpg'] });
  writeFileSync(file, [doc(GOOD.split('\n')), doc(['The mill and the river are old.'])].map((d) => JSON.stringify(d)).join('\n') + '\n');
  const input = path.join(dir, 'docs-in');
  assert.equal(await quietMain(['ingest', '--kind', 'interleaved', '--input', `obelics=${file}`, '--out', input, '--quiet', '--workers', '1']), 0);
  const out = path.join(dir, 'docs-out');
  assert.equal(await quietMain(['filter', '--input', input, '--out', out, '--gopher-quality', '--c4', '--quiet', '--workers', '1']), 0);
  const m = readManifestOf(out);
  assert.deepEqual(m.rejected_by_reason, { 'gopher:word_count': 1 });
  const [kept] = await readHyparquet(path.join(out, m.shards[0]!.path));
  assert.deepEqual(kept!.texts, [...GOOD.split('\n'), null]);
});
