import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cli, tmpDir, DEMO } from './helpers.js';
import { runCommand } from './mix-helpers.js';
import * as mix from '../src/mix/command.js';
import * as audit from '../src/audit/command.js';

test('the demo data: 45:45:10 holds to one sample, the audit passes and fails on a tampered copy, the seed reproduces the bytes', async () => {
  const dir = tmpDir('mmcurate-mix-demo-');
  const ingest: [string, string[]][] = [
    ['caption', [`captions=${DEMO}/captions.jsonl`, `wds=${DEMO}/wds`]],
    ['interleaved', [`${DEMO}/interleaved.jsonl`]],
    ['text', [`web=${DEMO}/web.jsonl.gz`, `books=${DEMO}/books.txt`]],
  ];
  for (const [kind, inputs] of ingest) {
    const r = cli(['ingest', '--kind', kind, '--input', ...inputs, '--out', path.join(dir, kind), '--quiet']);
    assert.equal(r.code, 0, r.stderr);
  }
  const argv = (out: string): string[] => [
    '--input',
    `caption=${path.join(dir, 'caption')}`,
    `interleaved=${path.join(dir, 'interleaved')}`,
    `text=${path.join(dir, 'text')}`,
    '--recipe',
    'mm1-pretrain',
    '--seed',
    '1',
    '--out',
    out,
    '--quiet',
  ];
  const a = path.join(dir, 'mix-a');
  const b = path.join(dir, 'mix-b');
  assert.equal((await runCommand(mix, argv(a))).code, 0);
  assert.equal((await runCommand(mix, argv(b))).code, 0);
  const m = JSON.parse(readFileSync(path.join(a, 'manifest.json'), 'utf8')) as { rows: number; kinds: Record<string, number> };
  for (const [k, ratio] of Object.entries({ caption: 0.45, interleaved: 0.45, text: 0.1 })) assert.ok(Math.abs(m.kinds[k]! - ratio * m.rows) <= 1, `${k}: ${m.kinds[k]} of ${m.rows}`);
  const bytes = (d: string): Buffer[] =>
    readdirSync(path.join(d, 'data'))
      .sort()
      .map((f) => readFileSync(path.join(d, 'data', f)));
  assert.deepEqual(bytes(b), bytes(a));
  const ok = await runCommand(audit, [a]);
  assert.equal(ok.code, 0, ok.stdout);
  // Tamper: flip one byte in the middle of the shard.
  const shard = path.join(b, 'data', readdirSync(path.join(b, 'data'))[0]!);
  const buf = readFileSync(shard);
  buf[Math.floor(buf.length / 2)] ^= 0x55;
  writeFileSync(shard, buf);
  const bad = await runCommand(audit, [b, '--json']);
  assert.equal(bad.code, 1);
  assert.match(JSON.parse(bad.stdout).failures.join('\n'), /sha256/);
});
