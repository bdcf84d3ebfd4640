// The tokenizer yields the ids the model's tokenizer.json defines: start/end tokens, lower-casing, padding,
// truncation at the context length. Expected ids come from tokenizer.json itself and from an independent
// CLIP BPE in scripts/make_test_clip.py (tokenizer_expected.json).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { TEST_MODEL_DIR } from '../src/score/model.js';
import { loadTokenizer } from '../src/score/tokenizer.js';

const tokJson = JSON.parse(readFileSync(TEST_MODEL_DIR + 'tokenizer.json', 'utf8'));
const vocab: Record<string, number> = tokJson.model.vocab;
const SOT = vocab['<|startoftext|>'];
const EOT = vocab['<|endoftext|>'];

describe('tokenizer', () => {
  test('start/end tokens and whole-word ids straight from tokenizer.json, lower-cased', async () => {
    const tok = await loadTokenizer(TEST_MODEL_DIR);
    assert.deepEqual(tok.prefix, [SOT]);
    assert.deepEqual(tok.suffix, [EOT]);
    assert.deepEqual(tok.encode('A  Red CIRCLE').ids, [SOT, vocab['a</w>'], vocab['red</w>'], vocab['circle</w>'], EOT]);
  });

  test('ids equal an independent CLIP BPE over the same vocab and merges', async () => {
    const tok = await loadTokenizer(TEST_MODEL_DIR);
    const expected = JSON.parse(readFileSync(TEST_MODEL_DIR + 'tokenizer_expected.json', 'utf8'));
    for (const s of expected.samples) assert.deepEqual(tok.encode(s.text).ids, s.ids, JSON.stringify(s.text));
  });

  test('padding to the context length (77) with the pad token, and the attention mask', async () => {
    const tok = await loadTokenizer(TEST_MODEL_DIR);
    assert.equal(tok.contextLength, 77);
    assert.equal(tok.padId, EOT); // tokenizer_config.json: pad_token <|endoftext|>
    const b = tok.encodeBatch(['a red circle', '']);
    assert.equal(b.ids.length, 2 * 77);
    const row0 = Array.from(b.ids.subarray(0, 77), Number);
    assert.deepEqual(row0.slice(0, 5), [SOT, vocab['a</w>'], vocab['red</w>'], vocab['circle</w>'], EOT]);
    assert.ok(row0.slice(5).every((id) => id === EOT));
    assert.deepEqual(Array.from(b.attentionMask.subarray(0, 7), Number), [1, 1, 1, 1, 1, 0, 0]);
    assert.deepEqual(Array.from(b.ids.subarray(77, 79), Number), [SOT, EOT]);
    assert.equal(b.truncated, 0);
  });

  test('truncation at the context length keeps the end token', async () => {
    const tok = await loadTokenizer(TEST_MODEL_DIR);
    const long = Array.from({ length: 100 }, (_, i) => (i % 2 ? 'red' : 'square')).join(' ');
    const e = tok.encode(long);
    assert.equal(e.truncated, true);
    assert.equal(e.ids.length, 77);
    assert.equal(e.ids[0], SOT);
    assert.equal(e.ids[76], EOT);
    assert.equal(e.ids[75], vocab['square</w>']); // the 75th word kept is the 75th of the text
    const b = tok.encodeBatch([long]);
    assert.equal(b.truncated, 1);
    assert.ok(Array.from(b.attentionMask, Number).every((m) => m === 1));
  });

  test('a context length from the caller (e.g. a text model with a fixed input shape) wins', async () => {
    const tok = await loadTokenizer(TEST_MODEL_DIR, { contextLength: 8 });
    const e = tok.encode('a red circle on a white background');
    assert.equal(e.ids.length, 8);
    assert.equal(e.ids[7], EOT);
  });

  test('a missing tokenizer.json is an error naming the file', async () => {
    await assert.rejects(loadTokenizer('/nonexistent-model'), /\/nonexistent-model\/tokenizer.json: cannot read it/);
  });
});
