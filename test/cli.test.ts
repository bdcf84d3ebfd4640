import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
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
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--map', 'captoin=alt', '--out', path.join(dir, 'x')], /caption records have no field "captoin"; the fields are caption, image, url/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--tasks', '1.5', '--out', path.join(dir, 'x')], /--tasks expects a whole number, got 1.5/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--workers', '-2', '--out', path.join(dir, 'x')], /--workers must be at least 1, got -2/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--shard-rows', '0', '--out', path.join(dir, 'x')], /--shard-rows must be at least 1/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--shard-mb', '0', '--out', path.join(dir, 'x')], /--shard-mb must be more than 0/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--format', 'imagefolder', '--out', path.join(dir, 'x')], /--format imagefolder takes a folder of images/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, `again=${DEMO}/captions.jsonl`, '--out', path.join(dir, 'x')], /captions.jsonl is given twice/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/books.txt`, '--format', 'txt', '--out', path.join(dir, 'x')], /plain text is a text corpus; use --kind text$/m],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--part-mb', '', '--out', path.join(dir, 'x')], /--part-mb expects a number, got ""/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--out', `${DEMO}/captions.jsonl`], /--out .*captions\.jsonl is a file; give a folder/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--out', `${DEMO}/captions.jsonl/sub`], /--out .*sub: .*captions\.jsonl is a file; give a folder/],
    [['run', path.join(ROOT, 'pipelines', 'demo.json'), 'second.json', '--out', path.join(dir, 'x')], /unexpected argument "second.json"; run takes one pipeline file/],
    [['run', path.join(ROOT, 'pipelines', 'demo.json'), '--from', '', '--out', path.join(dir, 'x')], /--from "": no such stage/],
    [['run', path.join(ROOT, 'pipelines', 'demo.json'), '--from', 'scored', '--out', path.join(dir, 'never-ran')], /--from scored: stage captions has not finished/],
    [['recipes', 'stray'], /unexpected argument "stray"/],
    [['demo', 'stray'], /unexpected argument "stray"/],
    [['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--part-mb', '0x10', '--out', path.join(dir, 'x')], /--part-mb expects a number, got "0x10"/],
    [['score', '--input', path.join(dir, 'a'), path.join(dir, 'b'), '--out', path.join(dir, 'x')], /mmcurate score: unexpected argument ".*b"; score reads one dataset/],
    [['score', '--input', path.join(dir, 'a'), '--emit-npy', 'no', '--out', path.join(dir, 'x')], /unexpected argument "no"/],
    [['score', '--input', path.join(dir, 'a'), '--shard-rows', '0', '--out', path.join(dir, 'x')], /--shard-rows must be at least 1/],
    [['coreset', '--input', path.join(dir, 'a'), path.join(dir, 'b'), '--recipe', 'semdedup', '--out', path.join(dir, 'x')], /mmcurate coreset: unexpected argument/],
    [['coreset', '--input', path.join(dir, 'a'), '--recipe', 'semdedup', '--shard-rows', '-1', '--out', path.join(dir, 'x')], /--shard-rows must be at least 1/],
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
  assert.match(r.stderr, /\/stages\/0\/stage: must be equal to one of the allowed values: ingest, score, coreset, mix, audit(, [a-z]+)*, got "ingset"/);
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

test('a pipeline checks every stage before the first runs; names, recipe names and @ in file names resolve as meant', async () => {
  const { loadPipeline, stageArgv } = await import('../src/pipeline/load.js');
  const pl = path.join(dir, 'late-typo.json');
  const out = path.join(dir, 'late-out');
  const first = { name: 'cap', stage: 'ingest', with: { kind: 'caption', input: [`${DEMO}/captions.jsonl`], strict: 'false' } };
  // the typo sits in the last stage: nothing may run
  writeFileSync(pl, JSON.stringify({ name: 'x', stages: [first, { name: 'sc', stage: 'score', with: { input: '@cap' } }, { name: 'cs', stage: 'coreset', with: { input: '@sc', recipe: 'semdedup', 'min-clip-scor': 0.2 } }] }));
  let r = cli(['run', pl, '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/stages\/2 \(cs\): mmcurate coreset: unknown flag --min-clip-scor/);
  assert.equal(existsSync(path.join(out, 'cap')), false, 'the first stage must not have run');
  writeFileSync(pl, JSON.stringify({ name: 'x', stages: [first, { name: 'sc', stage: 'mix', with: { input: ['caption=@cap'], total: 'many' } }] }));
  r = cli(['run', pl, '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/stages\/1 \(sc\): mmcurate mix: --total expects a number, got "many"/);
  for (const name of ['..', '.']) {
    writeFileSync(pl, JSON.stringify({ name: 'x', stages: [{ ...first, name }] }));
    r = cli(['run', pl, '--out', out]);
    assert.equal(r.code, 2, name);
    assert.match(r.stderr, /\/stages\/0\/name/);
  }
  writeFileSync(pl, JSON.stringify({ name: 'x', stages: [{ ...first, with: { ...first.with, help: true } }] }));
  r = cli(['run', pl, '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/stages\/0 \(cap\)\/with\/help: a stage cannot ask for help/);
  // a bundled recipe whose name has a dot, a file name with an @, "strict": "false" as a boolean
  writeFileSync(pl, JSON.stringify({ name: 'x', stages: [first, { name: 'mix', stage: 'mix', with: { input: ['caption=@cap', 'text=cat@2x.jsonl'], recipe: 'llava-1.5-sft' } }] }));
  const p = loadPipeline(pl);
  assert.deepEqual(stageArgv(p, 0, pl, out).slice(-3), ['--strict=false', '--out', path.join(out, 'cap')]);
  const argv = stageArgv(p, 1, pl, out);
  assert.deepEqual(argv.slice(0, 3), ['--input', `caption=${path.join(out, 'cap')}`, `text=${path.join(dir, 'cat@2x.jsonl')}`]);
  assert.ok(argv.includes('--recipe=llava-1.5-sft'), argv.join(' '));
  // a relative path without a dot or a slash is still relative to the pipeline file
  writeFileSync(pl, JSON.stringify({ name: 'x', stages: [{ name: 'cap', stage: 'ingest', with: { kind: 'caption', input: ['mydata', 'books=mydata2'] } }] }));
  assert.deepEqual(stageArgv(loadPipeline(pl), 0, pl, out).slice(0, 3), ['--kind=caption', '--input', path.join(dir, 'mydata')]);
  assert.equal(stageArgv(loadPipeline(pl), 0, pl, out)[3], `books=${path.join(dir, 'mydata2')}`);
});

test('two inputs that would share source, file name and so ids are refused, with the fix in the message', () => {
  const a = path.join(dir, 'y2023');
  const b = path.join(dir, 'y2024');
  for (const d of [a, b]) {
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, 'train.jsonl'), `{"url":"https://x.org/${path.basename(d)}.jpg","caption":"from ${d}"}\n`);
  }
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(a, 'train.jsonl'), path.join(b, 'train.jsonl'), '--out', path.join(dir, 'same-name')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /both become source "train", file "train.jsonl", so their records would share ids; name the sources, e.g. --input train-a=/);
  const ok = cli(['ingest', '--kind', 'caption', '--input', `t23=${path.join(a, 'train.jsonl')}`, `t24=${path.join(b, 'train.jsonl')}`, '--out', path.join(dir, 'named')]);
  assert.equal(ok.code, 0, ok.stderr);
  // a symbolic link to a file given too is the same file
  symlinkSync(path.join(a, 'train.jsonl'), path.join(dir, 'link.jsonl'));
  const twice = cli(['ingest', '--kind', 'caption', '--input', path.join(a, 'train.jsonl'), path.join(dir, 'link.jsonl'), '--out', path.join(dir, 'via-link')]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /link\.jsonl \(.*y2023\/train\.jsonl\) is given twice/);
});
