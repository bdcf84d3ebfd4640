import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cli, tmpDir, DEMO } from './helpers.js';

test('audit reports a shard whose pages no longer decode, instead of crashing', () => {
  const dir = tmpDir();
  assert.equal(cli(['ingest', '--kind', 'text', '--input', `${DEMO}/web.jsonl.gz`, '--out', path.join(dir, 'text')]).code, 0);
  assert.equal(cli(['mix', '--input', `text=${path.join(dir, 'text')}`, '--ratio', 'text=1', '--out', path.join(dir, 'mix')]).code, 0);
  const m = JSON.parse(readFileSync(path.join(dir, 'mix', 'manifest.json'), 'utf8')) as { shards: { path: string }[] };
  const shard = path.join(dir, 'mix', m.shards[0]!.path);
  const bytes = readFileSync(shard);
  for (let i = 8; i < Math.min(bytes.length - 64, 400); i++) bytes[i] ^= 0x5a; // scramble the first pages, keep the footer
  writeFileSync(shard, bytes);
  const r = cli(['audit', path.join(dir, 'mix')]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /FAIL/);
  assert.match(r.stdout, new RegExp(`${m.shards[0]!.path}: sha256`));
  assert.doesNotMatch(r.stderr, /^error:/m);
});
