import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { cli, tmpDir, DEMO, ROOT } from './helpers.js';
import { COMMANDS } from '../src/cli/commands.js';
import { spawnSync } from 'node:child_process';

const dir = tmpDir();

test('every command has --help and exits 0', () => {
  for (const name of Object.keys(COMMANDS)) {
    const r = cli([name, '--help']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`mmcurate ${name}`));
  }
  assert.equal(cli(['--help']).code, 0);
});

test('bad usage exits 2 with a message naming the problem', () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command "frobnicate". Should be one of: ingest/],
    [['ingest', '--kind', 'video', '--input', 'x', '--out', 'y'], /unsupported --kind "video". Should be one of: caption, interleaved, text/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`], /--out is required/],
    [['ingest', '--kind', 'caption', '--inptu', 'x'], /unknown flag --inptu. Valid flags: --kind, --input/],
    [['ingest', '--kind', 'caption', '--input', '/nonexistent/file.jsonl', '--out', path.join(dir, 'x')], /no such file or folder/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--format', 'xml', '--out', path.join(dir, 'x')], /unsupported --format "xml"/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--map', 'caption', '--out', path.join(dir, 'x')], /--map caption: expected FIELD=VALUE/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('a pipeline file is validated and errors name the bad key', () => {
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ name: 'x', stages: [{ name: 'a', stage: 'ingset', with: {} }] }));
  let r = cli(['run', bad, '--out', path.join(dir, 'o')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/stages\/0\/stage: must be equal to one of the allowed values: ingest, score, coreset, mix, audit, got "ingset"/);
  writeFileSync(bad, JSON.stringify({ name: 'x', stages: [{ name: 'a', stage: 'ingest', with: { kind: 'caption', input: 'nope.jsonl', colour: 'red' } }] }));
  r = cli(['run', bad, '--out', path.join(dir, 'o')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/stages\/0 \(a\): mmcurate ingest: unknown flag --colour/);
  writeFileSync(bad, JSON.stringify({ name: 'x', stages: [{ name: 'a', stage: 'ingest', with: { kind: 'caption', input: '@later' } }] }));
  r = cli(['run', bad, '--out', path.join(dir, 'o')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /"@later" refers to no earlier stage/);
});

test('record types are generated from the schemas and up to date', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-types.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
