import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers.js';
import { runCommand } from './mix-helpers.js';
import { PIPELINES_DIR, loadRecipe, validateRecipe, normalisedRatios } from '../src/recipes/load.js';
import { describeRecipe, listRecipes } from '../src/recipes/registry.js';
import * as recipesCommand from '../src/recipes/command.js';
import { UsageError } from '../src/errors.js';

const dir = tmpDir('mmcurate-recipe-');

test('the shipped recipes validate, cite their source, and are listed one line each', async () => {
  const entries = listRecipes();
  const names = entries.map((e) => e.recipe?.name);
  for (const n of ['mm1-pretrain', 'mm1-pretrain-5-5-1', 'llava-1.5-sft', 'bunny-695k']) assert.ok(names.includes(n), `${n} listed`);
  assert.ok(!entries.some((e) => e.file.endsWith('demo.json')), 'a pipeline file is not a recipe');
  for (const e of entries) {
    assert.equal(e.error, undefined, `${e.file}: ${e.error}`);
    assert.ok(e.recipe!.citation.source.length > 10, `${e.file} cites a source`);
  }
  const r = await runCommand(recipesCommand, []);
  assert.equal(r.code, 0);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, entries.length);
  assert.match(r.stdout, /mm1-pretrain\s+caption:interleaved:text = 45:45:10 by samples — MM1/);
  assert.match(r.stdout, /llava-1.5-sft\s+caption:text = 624K:40K by samples, 10 sources with counts, total 664K — Improved Baselines/);
});

test('MM1 is 45:45:10 and 5:5:1; LLaVA-1.5 is counts per source with prompts; Bunny swaps ShareGPT for WizardLM', () => {
  const mm1 = normalisedRatios(loadRecipe('mm1-pretrain'));
  assert.deepEqual([...mm1.values()], [0.45, 0.45, 0.1]);
  const v = normalisedRatios(loadRecipe('mm1-pretrain-5-5-1'));
  assert.ok(Math.abs(v.get('text')! - 1 / 11) < 1e-12);
  const llava = loadRecipe('llava-1.5-sft');
  assert.equal(llava.counts, true);
  const src = Object.fromEntries(llava.kinds.flatMap((k) => k.sources.map((s) => [s.name, s])));
  assert.equal(src['vqav2']!.count, 83000);
  assert.deepEqual(src['vqav2']!.prompts, ['Answer the question using a single word or phrase.']);
  assert.deepEqual(src['a-okvqa']!.prompts, ["Answer with the option's letter from the given choices directly."]);
  assert.equal(src['refcoco']!.prompts!.length, 2);
  assert.equal(src['sharegpt']!.count, 40000);
  assert.equal(src['llava-instruct']!.prompts, undefined);
  const bunny = loadRecipe(path.join(PIPELINES_DIR, 'bunny-695k.json'));
  const bs = bunny.kinds.flatMap((k) => k.sources.map((s) => s.name));
  assert.ok(bs.includes('wizardlm-evol-instruct') && !bs.includes('sharegpt'));
});

function bad(obj: unknown, re: RegExp): void {
  assert.throws(() => validateRecipe(obj, 'r.json'), (e: unknown) => e instanceof UsageError && re.test(e.message), `expected ${re}`);
}

test('a bad recipe is refused with the JSON pointer, what was expected and what came', () => {
  const base = { name: 'x', citation: { source: 'a paper' } };
  bad({ ...base, kinds: { caption: { ratoi: 1 } } }, /recipe r\.json: \/kinds\/caption\/ratoi: unknown key "ratoi"; expected one of: ratio, sources/);
  bad({ ...base, kinds: { text: { ratio: -1 } } }, /\/kinds\/text\/ratio: expected a number >= 0, got -1/);
  bad({ ...base, kinds: { captions: { ratio: 1 } } }, /\/kinds\/captions: unknown name "captions"; expected one of caption, interleaved, text/);
  bad({ ...base, kinds: { text: { ratio: '10' } } }, /\/kinds\/text\/ratio: expected number, got "10"/);
  bad({ ...base, by: 'token', kinds: { text: { ratio: 1 } } }, /\/by: expected one of "samples", "tokens", got "token"/);
  bad({ name: 'x', kinds: { text: { ratio: 1 } } }, /\/citation: missing; it is required/);
  bad(base, /expected a "kinds" object \(a mixture\) or a "coreset" section/);
  bad({ ...base, kinds: { text: { ratio: 0 }, caption: { ratio: 0 } } }, /every ratio is 0/);
  bad({ ...base, kinds: { text: {} } }, /\/kinds\/text\/ratio: missing/);
  bad({ ...base, kinds: { text: { sources: { a: { count: 5 }, b: { weight: 1 } } } } }, /\/kinds\/text\/sources\/b\/count: missing; when one source has a count, every source needs one/);
  bad({ ...base, kinds: { text: { ratio: 3, sources: { a: { count: 5 } } } } }, /\/kinds\/text\/ratio: not allowed with counts/);
  bad({ ...base, by: 'tokens', kinds: { text: { sources: { a: { count: 5 } } } } }, /counts are samples/);
  bad({ ...base, kinds: { text: { ratio: 1, sources: { a: { prompt: [] } } } } }, /\/kinds\/text\/sources\/a\/prompt: expected a string or a non-empty list of strings, got \[\]/);
  bad({ ...base, kinds: { text: { ratio: 1, sources: { a: {} } }, caption: { ratio: 1, sources: { a: {} } } } }, /source "a" is also listed under/);
});

test('a coreset-only recipe validates (the coreset stage fills it in); recipes load by path or by name', () => {
  const r = loadRecipe('semdedup');
  assert.equal(r.kinds.length, 0);
  assert.ok(r.coreset);
  assert.match(describeRecipe(r), /semdedup\s+coreset — SemDeDup/);
  const f = path.join(dir, 'mine.json');
  writeFileSync(f, JSON.stringify({ name: 'mine', citation: { source: 's' }, kinds: { caption: { ratio: 2 }, text: { ratio: 1 } }, total: 30, seed: 'abc' }));
  const mine = loadRecipe(f);
  assert.equal(mine.total, 30);
  assert.equal(mine.seed, 'abc');
  assert.equal(mine.by, 'samples');
  assert.equal(mine.visualTokensPerImage, 144);
  assert.throws(() => loadRecipe('no-such-recipe'), /--recipe no-such-recipe: no such file, and no recipe of that name/);
  writeFileSync(f, '{ nope');
  assert.throws(() => loadRecipe(f), /not readable JSON/);
});
