import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readHyparquet, tmpDir } from './helpers.js';
import { captionRows, editManifest, interleavedRows, runCommand, textRows, writeDataset, writeTokenizer } from './mix-helpers.js';
import * as mix from '../src/mix/command.js';
import * as audit from '../src/audit/command.js';
import { auditDataset } from '../src/audit/audit.js';
import type { Manifest } from '../src/write/manifest.js';

const root = tmpDir('mmcurate-mix-');
const inputs = {
  caption: path.join(root, 'captions'),
  interleaved: path.join(root, 'interleaved'),
  text: path.join(root, 'text'),
};
writeDataset(inputs.caption, 'caption', [...(await captionRows('coco', 60, { clip: true })), ...(await captionRows('cc3m', 90, { clip: true }))], { shardRows: 40 });
writeDataset(inputs.interleaved, 'interleaved', await interleavedRows('obelics', 100), { shardRows: 64 });
writeDataset(inputs.text, 'text', [...textRows('web', 50), ...textRows('books', 30)]);
const INPUTS = ['--input', `caption=${inputs.caption}`, `interleaved=${inputs.interleaved}`, `text=${inputs.text}`];
const MM1 = ['--ratio', 'caption=45,interleaved=45,text=10'];

let n = 0;
const out = (): string => path.join(root, `out-${n++}`);
const manifest = (dir: string): Manifest & { mix: Record<string, any> } => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const shardBytes = (dir: string): Buffer[] =>
  readdirSync(path.join(dir, 'data'))
    .sort()
    .map((f) => readFileSync(path.join(dir, 'data', f)));

test('45:45:10 by samples: each kind within one sample, the audit passes, same seed gives the same bytes', async () => {
  const a = out();
  const r = await runCommand(mix, [...INPUTS, ...MM1, '--out', a, '--shard-rows', '50', '--quiet']);
  assert.equal(r.code, 0, r.error);
  const m = manifest(a);
  // obelics (100 = 45%) bounds the mixture: 222 rows.
  assert.equal(m.rows, 222);
  for (const [k, ratio] of [
    ['caption', 0.45],
    ['interleaved', 0.45],
    ['text', 0.1],
  ] as const) {
    assert.ok(Math.abs(m.kinds[k]! - ratio * m.rows) <= 1, `${k}: ${m.kinds[k]} of ${m.rows}`);
  }
  assert.equal(m.layout, 'mixture');
  assert.equal(m.shards.length, 5);
  assert.equal(m.mix.limited_by, 'obelics');
  assert.equal(m.mix.sources.obelics.epochs, 1);
  assert.deepEqual(m.columns, ['id', 'kind', 'source', 'texts', 'images', 'metadata', 'clip_score']);
  // The unified schema, read back: a caption is [image, text], a text document [text].
  const rows = (await Promise.all(m.shards.map((s) => readHyparquet(path.join(a, s.path))))).flat();
  const cap = rows.find((x) => x.kind === 'caption')!;
  assert.equal((cap.texts as unknown[])[0], null);
  assert.match(String((cap.texts as unknown[])[1]), /caption number/);
  assert.ok(((cap.images as { bytes: Uint8Array }[])[0]!.bytes as Uint8Array).length > 50);
  assert.equal(JSON.parse(String(cap.metadata)).image_format, 'png');
  assert.equal(typeof cap.clip_score, 'number');
  const txt = rows.find((x) => x.kind === 'text')!;
  assert.equal((txt.texts as unknown[]).length, 1);
  assert.equal(txt.clip_score, null);

  const report = await auditDataset(a);
  assert.equal(report.ok, true, report.failures.join('\n'));
  assert.equal(report.rows, 222);
  assert.ok(Math.abs(report.largestDeviation!.pp) < 1);
  assert.equal(report.duplicates.ids, 0);
  assert.equal(report.scores.clip_score!.count, 100);
  const ar = await runCommand(audit, [a]);
  assert.equal(ar.code, 0);
  assert.match(ar.stdout, /PASS/);

  const b = out();
  assert.equal((await runCommand(mix, [...INPUTS, ...MM1, '--out', b, '--shard-rows', '50', '--quiet'])).code, 0);
  assert.deepEqual(shardBytes(b), shardBytes(a), 'same seed and inputs: byte-identical shards');
  const c = out();
  assert.equal((await runCommand(mix, [...INPUTS, ...MM1, '--out', c, '--shard-rows', '50', '--seed', '7', '--quiet'])).code, 0);
  assert.notDeepEqual(shardBytes(c), shardBytes(a), 'another seed: another order');
  // A re-run into a finished mixture of the same spec is a no-op; a different one is refused.
  assert.equal((await runCommand(mix, [...INPUTS, ...MM1, '--out', b, '--shard-rows', '50', '--quiet'])).code, 0);
  const again = await runCommand(mix, [...INPUTS, ...MM1, '--out', b, '--seed', '3', '--quiet']);
  assert.equal(again.code, 2);
  assert.match(again.error!, /holds the output of a different mix run \(step select: spec\.what/);
});

test('--tasks N: map and write as rank tasks give the same rows in the same order, and the same accounting', async () => {
  const one = out();
  assert.equal((await runCommand(mix, [...INPUTS, ...MM1, '--out', one, '--shard-rows', '50', '--quiet'])).code, 0);
  const many = out();
  assert.equal((await runCommand(mix, [...INPUTS, ...MM1, '--out', many, '--shard-rows', '50', '--tasks', '3', '--quiet'])).code, 0);
  const plan = (dir: string, step: string) => JSON.parse(readFileSync(path.join(dir, '_plan', `${step}.json`), 'utf8')) as { world: number };
  assert.deepEqual([plan(many, 'map').world, plan(many, 'write').world], [3, 3]);
  assert.ok(readdirSync(path.join(many, 'data')).some((f) => f.startsWith('part-00002-')), 'the last writer wrote shards');
  const rows = async (dir: string) => (await Promise.all(manifest(dir).shards.map((s) => readHyparquet(path.join(dir, s.path))))).flat();
  const a = await rows(one), b = await rows(many);
  assert.deepEqual(b.map((r) => r.id), a.map((r) => r.id), 'the same rows in the same order');
  assert.deepEqual(b.map((r) => r.metadata), a.map((r) => r.metadata));
  const ma = manifest(one), mb = manifest(many);
  assert.deepEqual([mb.rows, mb.kinds, mb.sources, mb.mix.prompts, mb.mix.spec_hash], [ma.rows, ma.kinds, ma.sources, ma.mix.prompts, ma.mix.spec_hash]);
  assert.equal(existsSync(path.join(many, '_work')), false, 'the shuffle files are gone once the manifest is written');
  const report = await auditDataset(many);
  assert.equal(report.ok, true, report.failures.join('\n'));
});

test('a second mix on the same --out while one runs is refused naming it; the first one finishes', async () => {
  const a = out();
  const first = runCommand(mix, [...INPUTS, ...MM1, '--out', a, '--quiet']);
  // the first run holds the lock from its start; the second one, started on the next turn, must not touch its files
  await new Promise((r) => setImmediate(r));
  const second = await runCommand(mix, [...INPUTS, ...MM1, '--out', a, '--quiet']);
  assert.equal(second.code, 2);
  assert.match(second.error!, /is in use by another run \(mmcurate mix .*pid \d+/);
  assert.equal((await first).code, 0);
  assert.equal(manifest(a).rows, 222);
});

test('the audit fails on a tampered copy: a changed byte, a missing shard, an extra shard, a wrong row count', async () => {
  const a = out();
  assert.equal((await runCommand(mix, [...INPUTS, ...MM1, '--out', a, '--shard-rows', '100', '--quiet'])).code, 0);
  const shard = path.join(a, manifest(a).shards[0]!.path);
  const original = readFileSync(shard);

  const flipped = Buffer.from(original);
  flipped[100] = flipped[100]! ^ 0xff;
  writeFileSync(shard, flipped);
  let r = await runCommand(audit, [a, '--json']);
  assert.equal(r.code, 1);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.ok, false);
  assert.match(rep.manifest.problems.join('\n'), /part-00000-00000\.parquet: sha256 [0-9a-f]+…, the manifest says/);

  writeFileSync(shard, original);
  editManifest(a, (m) => (m.shards[1]!.rows += 1));
  r = await runCommand(audit, [a]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /part-00000-00001\.parquet: 100 rows, the manifest says 101/);
  editManifest(a, (m) => (m.shards[1]!.rows -= 1));
  assert.equal((await runCommand(audit, [a])).code, 0, 'restored: passes again');

  writeFileSync(path.join(a, 'data', 'part-00009-00000.parquet'), original);
  r = await runCommand(audit, [a]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /part-00009-00000\.parquet: a shard in data\/ that the manifest does not list/);
  // The extra shard's rows are counted too: the ratios and the manifest's counts no longer hold.
  assert.match(r.stdout, /manifest\.json: rows 222, the shards hold 322/);

  rmSync(path.join(a, 'data', 'part-00009-00000.parquet'));
  renameSync(shard, `${shard}.moved`);
  r = await runCommand(audit, [a]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /part-00000-00000\.parquet: listed in the manifest but missing/);
  renameSync(`${shard}.moved`, shard);
  assert.equal((await runCommand(audit, [a])).code, 0);
});

test('upsample repeats the short source (epochs in the manifest); error refuses; nothing is left in --out', async () => {
  const a = out();
  const r = await runCommand(mix, [...INPUTS, ...MM1, '--total', '400', '--on-short', 'upsample', '--out', a, '--quiet']);
  assert.equal(r.code, 0, r.error);
  const m = manifest(a);
  assert.equal(m.rows, 400);
  assert.equal(m.kinds.interleaved, 180);
  assert.equal(m.mix.sources.obelics.epochs, 1.8);
  assert.equal(m.mix.sources.obelics.rows, 180);
  const rep = await auditDataset(a);
  assert.equal(rep.ok, true, rep.failures.join('\n'));
  // obelics: 80 repeats; captions pooled 150 rows for 180 samples: 30 repeats.
  assert.equal(rep.duplicates.expectedFromUpsampling, 110);
  assert.equal(rep.duplicates.ids, 110);
  assert.equal(rep.duplicates.content, 110);

  const b = out();
  const e = await runCommand(mix, [...INPUTS, ...MM1, '--total', '400', '--on-short', 'error', '--out', b, '--quiet']);
  assert.equal(e.code, 2);
  assert.match(e.error!, /source "obelics" \(interleaved\) is short: it holds 100 samples, the mixture needs 180 of a total of 400/);
  assert.equal(existsSync(b), false);
  assert.deepEqual(
    readdirSync(root).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('bad input: exit 2 naming the value or the folder, and no --out left behind', async () => {
  const noManifest = path.join(root, 'raw');
  writeDataset(noManifest, 'text', textRows('raw', 5));
  rmSync(path.join(noManifest, 'manifest.json'));
  const lying = path.join(root, 'lying');
  writeDataset(lying, 'text', textRows('lie', 20));
  editManifest(lying, (m) => (m.shards[0]!.sha256 = '0'.repeat(64)));
  const miscounted = path.join(root, 'miscounted');
  writeDataset(miscounted, 'text', textRows('mc', 20));
  editManifest(miscounted, (m) => (m.sources['mc']!.kept = 25));
  const cases: [string[], RegExp][] = [
    [[...INPUTS, '--ratio', 'caption45', '--out'], /--ratio "caption45": "caption45" is not KIND=NUMBER/],
    [[...INPUTS, '--ratio', 'caption=-1,text=2', '--out'], /--ratio caption=-1: expected a number >= 0, got -1/],
    [[...INPUTS, '--ratio', 'caption=0,interleaved=0,text=0', '--out'], /every ratio is 0/],
    [['--input', `caption=${inputs.caption}`, ...MM1, '--out'], /kind interleaved has a ratio of 45 but no input; add --input interleaved=DIR/],
    [['--input', `caption=${inputs.caption}`, `text=${noManifest}`, '--ratio', 'caption=1,text=1', '--out'], /--input text=.*raw: not an mmcurate output \(no manifest\.json\)/],
    [['--input', `caption=${inputs.caption}`, `text=${lying}`, '--ratio', 'caption=1,text=1', '--out'], /--input text=.*lying: the manifest in .*lying disagrees with its shards: data\/part-00000-00000\.parquet: sha256/],
    [['--input', `caption=${inputs.caption}`, `text=${miscounted}`, '--ratio', 'caption=1,text=1', '--out'], /disagrees with its shards: source "mc" has 20 rows, the manifest says 25/],
    [['--input', `caption=${inputs.text}`, '--ratio', 'caption=1', '--out'], /holds text records, but it is given as caption; use --input text=/],
    [['--input', `caption=${path.join(root, 'nope')}`, '--ratio', 'caption=1', '--out'], /--input caption=.*nope: no such folder/],
    [[...INPUTS, '--recipe', 'llava-1.5-sft', '--out'], /recipe .*llava-1\.5-sft\.json names source "llava-instruct" \(caption\), but no --input holds it \(the caption inputs hold: coco, cc3m\)/],
    [[...INPUTS, ...MM1, '--on-short', 'grow', '--out'], /--on-short grow: expected one of shrink, upsample, error/],
    [[...INPUTS, ...MM1, '--recipe', 'mm1-pretrain', '--out'], /give --ratio or --recipe, not both/],
    [[...INPUTS, '--recipe', 'llava-1.5-sft', '--by', 'tokens', '--out'], /counts are samples/],
  ];
  for (const [argv, re] of cases) {
    const o = out();
    const r = await runCommand(mix, [...argv, o, '--quiet']);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.error}`);
    assert.match(r.error!, re);
    assert.equal(existsSync(o), false, `${o} must not exist`);
  }
});

test('by tokens with a tokenizer.json: each kind within one document of its token budget', async () => {
  // A real (tiny) WordLevel tokenizer, loaded by @huggingface/tokenizers.
  const tok = path.join(root, 'tokenizer.json');
  writeTokenizer(tok);
  const a = out();
  const r = await runCommand(mix, [...INPUTS, ...MM1, '--by', 'tokens', '--tokenizer', tok, '--visual-tokens', '64', '--out', a, '--quiet']);
  assert.equal(r.code, 0, r.error);
  const m = manifest(a);
  assert.match(m.mix.tokens, /^tokenizer:tokenizer\.json@[0-9a-f]{12}$/);
  const total = m.mix.total.planned;
  for (const [k, ratio] of Object.entries({ caption: 0.45, interleaved: 0.45, text: 0.1 })) {
    const got = m.mix.kinds[k].tokens;
    assert.ok(got <= ratio * total + 1e-6 && ratio * total - got < 200, `${k}: ${got} tokens, budget ${ratio * total}`);
  }
  const rep = await auditDataset(a, { tokenizer: tok });
  assert.equal(rep.by, 'tokens');
  assert.equal(rep.ok, true, rep.failures.join('\n'));
  assert.equal(rep.tokens.total, m.mix.total.realized);
  // The estimate is used (and named) when no tokenizer is given.
  const b = out();
  assert.equal((await runCommand(mix, [...INPUTS, ...MM1, '--by', 'tokens', '--out', b, '--quiet'])).code, 0);
  assert.equal(manifest(b).mix.tokens, 'estimate:chars/4');
  assert.equal((await auditDataset(b)).ok, true);
});

test('by tokens, upsample: only short sources repeat, and the notes give the manifest\'s epochs', async () => {
  // captions are short for the budget; the text kind is not: "short" (12 rows of ~3 tokens) and "long"
  // (40 rows of ~100). The top-up fills text from "short" once "long"'s next row no longer fits: it may
  // take all of short's rows but never one twice.
  const text = path.join(root, 'short-long');
  writeDataset(text, 'text', [...textRows('short', 12, () => 1), ...textRows('long', 40, () => 60)]);
  const caps = path.join(root, 'few-caps');
  writeDataset(caps, 'caption', await captionRows('few', 7));
  for (const total of [20000, 20300, 21000]) {
    const a = out();
    const r = await runCommand(mix, ['--input', `caption=${caps}`, `text=${text}`, '--ratio', 'caption=80,text=20', '--by', 'tokens', '--total', String(total), '--on-short', 'upsample', '--out', a]);
    assert.equal(r.code, 0, r.error);
    const m = manifest(a);
    for (const [name, s] of Object.entries(m.mix.sources) as [string, any][]) {
      if (s.planned <= s.available_tokens) assert.ok(s.rows <= s.available_rows, `total ${total}: ${name} holds ${s.available_tokens} tokens for ${s.planned} planned, yet ${s.rows} rows of ${s.available_rows}`);
      assert.equal(s.epochs, Math.round((s.rows / s.available_rows) * 1000) / 1000);
    }
    assert.ok(m.mix.sources.few.epochs > 1);
    const noted: Record<string, number> = {};
    for (const note of m.mix.notes as string[]) {
      const x = /^source "(.+)" repeated: ([\d.]+) epochs/.exec(note);
      if (x) noted[x[1]!] = Number(x[2]);
    }
    assert.deepEqual(
      noted,
      Object.fromEntries((Object.entries(m.mix.sources) as [string, any][]).filter(([, s]) => s.rows > s.available_rows).map(([n, s]) => [n, s.epochs])),
      'one note per repeated source, with the epochs the manifest records',
    );
    assert.match(r.stdout, /note: source "few" repeated: [\d.]+ epochs \(\d+ rows of 7; [\d,]+ of [\d,]+ tokens\)/);
    const rep = await auditDataset(a);
    assert.equal(rep.ok, true, rep.failures.join('\n'));
    assert.equal(rep.duplicates.ids, rep.duplicates.expectedFromUpsampling);
  }
});

test('by tokens, a --total smaller than one document of each kind is refused, not written empty', async () => {
  const o = out();
  const r = await runCommand(mix, [...INPUTS, ...MM1, '--by', 'tokens', '--total', '100', '--out', o, '--quiet']);
  assert.equal(r.code, 2, r.error);
  assert.match(r.error!, /--total 100 tokens selects no rows: it is smaller than one document of each kind \(token budgets: caption 45 \(its smallest document \d+\), interleaved 45 \(its smallest document \d+\), text 10 \(its smallest document \d+\)\); raise --total/);
  assert.equal(existsSync(o), false);
});

test('a recipe with counts per source and response-format prompts (LLaVA-style)', async () => {
  const vqa = path.join(root, 'vqa');
  const conv = (i: number) => ({ conversations: [{ from: 'human', value: `<image>\nWhat color is square ${i}?` }, { from: 'gpt', value: 'Red' }] });
  writeDataset(vqa, 'caption', [...(await captionRows('vqav2', 40, { meta: conv })), ...(await captionRows('llava-instruct', 30))]);
  const recipe = path.join(root, 'sft.json');
  writeFileSync(
    recipe,
    JSON.stringify({
      name: 'tiny-sft',
      citation: { source: 'test' },
      on_short: 'error',
      kinds: {
        caption: { sources: { vqav2: { count: 20, prompt: 'Answer the question using a single word or phrase.' }, 'llava-instruct': { count: 30 } } },
        text: { sources: { web: { count: 10 } } },
      },
    }),
  );
  const text = path.join(root, 'webonly');
  writeDataset(text, 'text', textRows('web', 12));
  const a = out();
  const r = await runCommand(mix, ['--input', `caption=${vqa}`, `text=${text}`, '--recipe', recipe, '--out', a, '--quiet']);
  assert.equal(r.code, 0, r.error);
  const m = manifest(a);
  assert.equal(m.rows, 60);
  assert.deepEqual(
    Object.fromEntries(Object.entries(m.mix.sources).map(([k, v]: [string, any]) => [k, v.rows])),
    { vqav2: 20, 'llava-instruct': 30, web: 10 },
  );
  assert.deepEqual(m.mix.prompts, { vqav2: { applied: 20, recorded: 0 } });
  const rows = (await Promise.all(m.shards.map((s) => readHyparquet(path.join(a, s.path))))).flat();
  const q = JSON.parse(String(rows.find((x) => x.source === 'vqav2')!.metadata));
  assert.match(q.metadata.conversations[0].value, /\?\nAnswer the question using a single word or phrase\.$/);
  assert.equal(q.metadata.conversations[1].value, 'Red');
  const rep = await auditDataset(a);
  assert.equal(rep.ok, true, rep.failures.join('\n'));
  assert.ok(Math.abs(rep.sources.find((s) => s.name === 'vqav2')!.target! - 20 / 60) < 1e-12);
  // Asking for more than a source holds under on_short: error names it.
  const e = await runCommand(mix, ['--input', `caption=${vqa}`, `text=${text}`, '--recipe', recipe, '--total', '120', '--out', out(), '--quiet']);
  assert.equal(e.code, 2);
  assert.match(e.error!, /source "llava-instruct" \(caption\) is short: it holds 30 samples, the mixture needs 60/);
  // An input source the recipe does not name is refused too.
  const extra = await runCommand(mix, ['--input', `caption=${inputs.caption}`, `text=${text}`, '--recipe', recipe, '--out', out(), '--quiet']);
  assert.match(extra.error!, /names source "vqav2" \(caption\), but no --input holds it/);
  const weighted = await runCommand(mix, ['--input', `caption=${vqa}:2`, `text=${text}`, '--recipe', recipe, '--out', out(), '--quiet']);
  assert.match(weighted.error!, /source "vqav2": the input gives a weight \(2\) but recipe .*sft\.json already sets its share; drop the :weight/);
});

test('input weights inside a recipe kind that pools its sources are recorded and audited', async () => {
  const a = out();
  const r = await runCommand(mix, ['--input', `caption=${inputs.caption}:3`, `interleaved=${inputs.interleaved}`, `text=${inputs.text}`, '--recipe', 'mm1-pretrain', '--out', a, '--quiet']);
  assert.equal(r.code, 0, r.error);
  const m = manifest(a);
  assert.deepEqual(m.mix.recipe.kinds.caption.sources, { coco: { weight: 3 }, cc3m: { weight: 3 } });
  assert.equal(m.mix.sources.coco.rows, 50);
  assert.equal(m.mix.sources.cc3m.rows, 50);
  const rep = await auditDataset(a);
  assert.equal(rep.ok, true, rep.failures.join('\n'));
  assert.ok(Math.abs(rep.sources.find((s) => s.name === 'coco')!.target! - 0.225) < 1e-12);
});
