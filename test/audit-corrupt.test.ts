import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cli, runMain, tmpDir, DEMO } from './helpers.js';

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

test('a manifest that lists shards outside its folder fails the audit naming them; score refuses it', async () => {
  // two copies of one dataset: `a`'s manifest pointed at `b`'s shards would otherwise agree with them
  const dir = tmpDir();
  for (const d of ['a', 'b']) assert.equal((await runMain(['ingest', '--kind', 'text', '--input', `${DEMO}/web.jsonl.gz`, '--out', path.join(dir, d), '--quiet'])).code, 0);
  const file = path.join(dir, 'a', 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8')) as { shards: { path: string }[]; rejects: { path: string }[] };
  const listed = m.shards[0]!.path;
  m.shards[0]!.path = `../b/${listed}`;
  m.rejects = m.rejects.map((r) => ({ ...r, path: `${dir}/b/${r.path}` }));
  writeFileSync(file, JSON.stringify(m));
  rmSync(path.join(dir, 'a', 'data'), { recursive: true });
  rmSync(path.join(dir, 'a', 'rejects'), { recursive: true, force: true });
  const r = await runMain(['audit', path.join(dir, 'a')]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, new RegExp(`\\.\\./b/${listed}: listed in the manifest as a shard but outside the dataset folder`));
  assert.match(r.stdout, /rejects-00000\.jsonl: listed in the manifest as a rejects file but an absolute path/);
  const s = await runMain(['score', '--input', path.join(dir, 'a'), '--out', path.join(dir, 'scored')]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /the manifest lists the shard \.\.\/b\/.*outside the dataset folder/);
});
