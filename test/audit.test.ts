import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers.js';
import { captionRows, editManifest, interleavedRows, runCommand, textRows, writeDataset, writeTokenizer } from './mix-helpers.js';
import * as audit from '../src/audit/command.js';
import * as mix from '../src/mix/command.js';
import { auditDataset } from '../src/audit/audit.js';
import { openInputs } from '../src/mix/inputs.js';
import { planMix } from '../src/mix/plan.js';
import { selectRows } from '../src/mix/select.js';
import { kindStreams } from '../src/mix/order.js';
import { writeMixture } from '../src/mix/write.js';
import { parseInput } from '../src/mix/ratios.js';

const root = tmpDir('mmcurate-audit-');

test('audit of a plain dataset: duplicate ids and content, rejects by reason, score quantiles, JSON', async () => {
  const dir = path.join(root, 'caps');
  const rows = await captionRows('laion', 40, { clip: true });
  // Row 40 repeats row 0 entirely (same id, same content); row 41 repeats row 1's content under a new id.
  rows.push({ ...rows[0]! }, { ...rows[1]!, id: 'f'.repeat(32) });
  writeDataset(dir, 'caption', rows, {
    rejects: [
      { source: 'laion', reason: 'image_decode_failed' },
      { source: 'laion', reason: 'image_decode_failed' },
      { source: 'laion', reason: 'empty_text' },
    ],
  });
  const r = await runCommand(audit, [dir, '--json']);
  assert.equal(r.code, 0, r.stdout);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.rows, 42);
  assert.equal(rep.recipe, null);
  assert.deepEqual(rep.duplicates, { ids: 1, content: 2, expectedFromUpsampling: 0 });
  assert.deepEqual(rep.rejectsByReason, { image_decode_failed: 2, empty_text: 1 });
  const clip = rep.scores.clip_score;
  assert.equal(clip.count, 42);
  assert.ok(Math.abs(clip.min - 0.2) < 1e-9 && Math.abs(clip.max - 0.29) < 1e-9);
  assert.ok(clip.p05 <= clip.p25 && clip.p25 <= clip.p50 && clip.p50 <= clip.p75 && clip.p75 <= clip.p95);
  // 144 visual tokens per image plus the caption's estimate.
  assert.ok(rep.tokens.total > 42 * 144);
  const t = await runCommand(audit, [dir]);
  assert.match(t.stdout, /audit .*caps: PASS/);
  assert.match(t.stdout, /duplicates: 1 repeated id\(s\), 2 repeated content/);
  assert.match(t.stdout, /rejects: image_decode_failed=2 empty_text=1/);
  assert.match(t.stdout, /clip_score: n=42 min 0\.2000 .* max 0\.2900/);
  assert.match(t.stdout, /no recipe .* ratios are reported, not checked/);
});

test('a ratio off by more than the tolerance fails the audit, naming the kind', async () => {
  const caps = path.join(root, 'c');
  const docs = path.join(root, 'i');
  const text = path.join(root, 't');
  writeDataset(caps, 'caption', await captionRows('coco', 100));
  writeDataset(docs, 'interleaved', await interleavedRows('obelics', 100));
  writeDataset(text, 'text', textRows('web', 60));
  const out = path.join(root, 'mix');
  const m = await runCommand(mix, ['--input', `caption=${caps}`, `interleaved=${docs}`, `text=${text}`, '--recipe', 'mm1-pretrain', '--out', out, '--quiet']);
  assert.equal(m.code, 0, m.error);
  assert.equal((await runCommand(audit, [out])).code, 0, 'passes against its own recipe');
  // Against 5:5:1 the text share (22 of 222 = 9.91% vs 9.09%) is 1.8 samples and 0.82 points off.
  const r = await runCommand(audit, [out, '--recipe', 'mm1-pretrain-5-5-1']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /kind text: 9\.91% against 9\.09% in the recipe \(\+0\.82 pp, tolerance 0\.5 pp\)/);
  assert.equal((await runCommand(audit, [out, '--recipe', 'mm1-pretrain-5-5-1', '--tolerance', '1'])).code, 0, 'within a 1-point tolerance');
  const bad = await runCommand(audit, [path.join(root, 'nowhere')]);
  assert.equal(bad.code, 2);
  assert.match(bad.error!, /audit .*nowhere: no such folder/);
  const two = await runCommand(audit, [out, out]);
  assert.match(two.error!, /name one dataset folder/);
});

test('writing through many small buckets gives the same bytes as one bucket', async () => {
  const caps = path.join(root, 'c');
  const text = path.join(root, 't');
  const { datasets, sources } = await openInputs([parseInput(`caption=${caps}`), parseInput(`text=${text}`)]);
  const plan = planMix({
    by: 'samples',
    ratios: new Map([
      ['caption', 3],
      ['text', 1],
    ]),
    sources: sources.map((s) => ({ kind: s.kind, name: s.name, available: s.rows.length })),
    total: 150,
    onShort: 'upsample',
  });
  const sel = selectRows(
    plan,
    sources.map((s) => ({ rows: s.rows.length })),
    5,
  );
  const streams = kindStreams(
    ['caption', 'text'],
    plan.sources.map((s) => s.kind),
    sel,
    5,
  );
  const bytes = async (bucketBytes: number | undefined, name: string): Promise<Buffer[]> => {
    const outDir = path.join(root, name);
    await writeMixture({ outDir, datasets, sources, streams, prompts: [], seed: 5, columns: [], maxShardRows: 60, ...(bucketBytes ? { bucketBytes } : {}) });
    return readdirSync(path.join(outDir, 'data'))
      .sort()
      .map((f) => readFileSync(path.join(outDir, 'data', f)));
  };
  const one = await bytes(undefined, 'w1');
  const many = await bytes(1, 'w2');
  assert.equal(one.length, 3);
  assert.deepEqual(many, one);
  const rep = await auditDataset(path.join(root, 'w1')).catch((e: Error) => e);
  assert.ok(rep instanceof Error && /no manifest\.json/.test(rep.message), 'writeMixture alone writes no manifest');
});


test('a token mixture is audited with the counting its manifest records; a tokenizer gone or changed is refused', async () => {
  const caps = path.join(root, 'tk-caps');
  const text = path.join(root, 'tk-text');
  writeDataset(caps, 'caption', await captionRows('coco', 40));
  // Long words: the estimate (chars / 4) counts about 3x what the tokenizer does, so the two disagree.
  writeDataset(text, 'text', textRows('web', 60, (i) => 20 + (i % 10)));
  const tokDir = path.join(root, 'tok');
  mkdirSync(tokDir, { recursive: true });
  const tok = path.join(tokDir, 'tokenizer.json');
  writeTokenizer(tok);
  const out = path.join(root, 'tk-mix');
  const m = await runCommand(mix, ['--input', `caption=${caps}`, `text=${text}`, '--ratio', 'caption=1,text=1', '--by', 'tokens', '--tokenizer', tok, '--visual-tokens', '16', '--out', out, '--quiet']);
  assert.equal(m.code, 0, m.error);
  const recorded = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).mix;

  // No --tokenizer: the recorded one is loaded, and the audit agrees with the mix (the estimate would FAIL it).
  const rep = await auditDataset(out);
  assert.equal(rep.ok, true, rep.failures.join('\n'));
  assert.equal(rep.tokens.method, recorded.tokens);
  assert.equal(rep.tokens.total, recorded.total.realized);
  assert.equal((await runCommand(audit, [out])).code, 0);
  assert.match(recorded.tokens, /^tokenizer:tokenizer\.json@[0-9a-f]{12}$/);
  assert.equal(recorded.tokenizer.file, tok);
  assert.match(recorded.tokenizer.sha256, /^[0-9a-f]{64}$/);

  // The same file changed: refused (exit 2) naming it, saying to pass --tokenizer; with it, the audit runs.
  writeTokenizer(tok, '\n');
  let r = await runCommand(audit, [out]);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.error!, /audit .*tk-mix: the mixture was counted with tokenizer .*tok\/tokenizer\.json \(sha256 [0-9a-f]{12}…\), which has changed since .*; pass --tokenizer/);
  assert.equal((await runCommand(audit, [out, '--tokenizer', tok])).code, 0);
  rmSync(tok);
  r = await runCommand(audit, [out]);
  assert.equal(r.code, 2);
  assert.match(r.error!, /counted with tokenizer .*tok\/tokenizer\.json, which no longer exists; pass --tokenizer with the same tokenizer\.json/);
  // A manifest that names the tokenizer but not where it is (written before mix.tokenizer) is refused too.
  writeTokenizer(tok);
  editManifest(out, (mf) => delete (mf.mix as Record<string, unknown>).tokenizer);
  r = await runCommand(audit, [out]);
  assert.equal(r.code, 2);
  assert.match(r.error!, /counted with tokenizer tokenizer\.json \(sha256 [0-9a-f]{12}…\), but its manifest does not record where the file is; pass --tokenizer/);
  assert.equal((await runCommand(audit, [out, '--tokenizer', tok])).code, 0);
});

test('a coreset-only recipe is refused by the audit as by mix (exit 2)', async () => {
  const out = path.join(root, 'mix');
  const r = await runCommand(audit, [out, '--recipe', 'bunny-laion-2m']);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.error!, /recipe .*bunny-laion-2m\.json: has no kinds to mix \(a coreset-only recipe\); use it with mmcurate coreset/);
  const m = await runCommand(mix, ['--input', `caption=${path.join(root, 'c')}`, '--recipe', 'bunny-laion-2m', '--out', path.join(root, 'never'), '--quiet']);
  assert.equal(m.code, 2);
  assert.equal(m.error, r.error, 'the same refusal in both commands');
});

test('a dataset with no rows: a warning, and a failure against a recipe', async () => {
  const dir = path.join(root, 'empty');
  writeDataset(dir, 'caption', []);
  const r = await runCommand(audit, [dir]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /warning: the dataset holds no rows/);
  assert.deepEqual(JSON.parse((await runCommand(audit, [dir, '--json'])).stdout).warnings, ['the dataset holds no rows']);
  const withRecipe = await runCommand(audit, [dir, '--recipe', 'mm1-pretrain']);
  assert.equal(withRecipe.code, 1, withRecipe.stdout);
  assert.match(withRecipe.stdout, /the dataset holds no rows: there is nothing to check the recipe's ratios against/);
});
