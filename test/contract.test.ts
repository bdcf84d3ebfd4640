/**
 * The stage contract: plans on disk, markers as the one test of "done", --tasks N, the task command, status,
 * the lock and the temp sweep. Real runs of the demo pipeline; no backend needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pendingRanks, pipelineJobs, runOneTask, taskArgv, upstreamUnfinished } from '../src/run/jobs.js';
import { acquireLock, STALE_MS } from '../src/run/lock.js';
import { markerPath, markerState } from '../src/run/markers.js';
import { runStatus } from '../src/run/status-command.js';
import { sweepTemps, tmpName, FOREIGN_TEMP_AGE_MS } from '../src/write/atomic.js';
import { DEMO, readHyparquet, ROOT, tmpDir } from './helpers.js';
import { DEMO_PIPELINE, localReference, mainStderr, quietMain, shardSums } from './contract-helpers.js';

const BIN = path.join(ROOT, 'bin', 'mmcurate');

test('task by task, in any order, gives the bytes of the local run with the same --tasks', async () => {
  const ref = await localReference();
  assert.ok(ref.sums.length >= 8, 'every stage wrote shards');
  const out = path.join(tmpDir(), 'run');
  const jobs = await pipelineJobs(DEMO_PIPELINE, out, 4);
  assert.deepEqual(
    jobs.map((j) => `${j.stage}/${j.step}x${j.world}`),
    ['captions/ingestx4', 'captions/manifestx1', 'interleaved/ingestx4', 'interleaved/manifestx1', 'text/ingestx4', 'text/manifestx1', 'scored/scorex4', 'scored/manifestx1', 'coreset/trainx1', 'coreset/assignx4', 'coreset/dedupx4', 'coreset/bandsx1', 'coreset/writex4', 'coreset/manifestx1', 'mixture/selectx1', 'mixture/mapx4', 'mixture/writex4', 'mixture/manifestx1'],
  );
  assert.deepEqual(jobs.skipped, ['audit']);
  for (const j of jobs) {
    // ranks in reverse: nothing may depend on the order a scheduler picks
    for (const r of pendingRanks(j).reverse()) assert.equal(await quietMain(taskArgv(j, r)), 0, `${j.stage}/${j.step}/${r}`);
    assert.deepEqual(pendingRanks(j), []);
  }
  assert.deepEqual(shardSums(out), ref.sums);
  // an already-done task is a no-op that succeeds
  const before = readFileSync(markerPath(path.join(out, 'scored'), 'score', 2), 'utf8');
  assert.equal(await quietMain(taskArgv(jobs[6]!, 2)), 0);
  assert.equal(readFileSync(markerPath(path.join(out, 'scored'), 'score', 2), 'utf8'), before);
  // status reads the same markers: all done
  assert.equal(await quietMain(['status', out]), 0);
  const st = runStatus(out);
  assert.ok(st.every((s) => s.total !== null && s.done === s.total), JSON.stringify(st));
  // the same pipeline into the same folder with another --tasks is another run
  await assert.rejects(pipelineJobs(DEMO_PIPELINE, out, 2), /holds another pipeline run \(tasks: 4 -> 2/);
});

test('two clean runs of the same pipeline give byte-identical shards and manifests (what varies is in run-log.json)', async () => {
  const ref = await localReference();
  const manifests = (o: string) => ['captions', 'interleaved', 'text', 'scored', 'coreset', 'mixture'].map((st) => readFileSync(path.join(o, st, 'manifest.json'), 'utf8'));
  const first = manifests(ref.out);
  const copy = path.join(path.dirname(ref.out), 'first');
  renameSync(ref.out, copy);
  try {
    assert.equal(await quietMain(['run', DEMO_PIPELINE, '--out', ref.out, '--tasks', '4', '--no-report']), 0);
    assert.deepEqual(shardSums(ref.out), ref.sums);
    assert.deepEqual(manifests(ref.out), first);
    assert.ok(existsSync(path.join(ref.out, 'coreset', 'run-log.json')) && existsSync(path.join(ref.out, 'scored', 'run-log.json')));
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

test('a task refuses while earlier steps are unfinished; the rank comes from Slurm or Kubernetes; status counts', async () => {
  const out = path.join(tmpDir(), 'run');
  const jobs = await pipelineJobs(DEMO_PIPELINE, out, 2);
  const cap = jobs[0]!.dir;
  // the manifest step before the ingest ranks: refused, naming what is missing
  const refused = await mainStderr(['task', cap, '--step', 'manifest', '--rank', '0']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /cannot run manifest task 0 yet: step ingest has 2 unfinished task\(s\) \(ranks 0, 1\)/);
  assert.equal(await quietMain(['status', out]), 3, 'work remains');
  // the rank from the array index
  process.env.SLURM_ARRAY_TASK_ID = '1';
  try {
    assert.equal(await quietMain(['task', cap, '--step', 'ingest']), 0);
  } finally {
    delete process.env.SLURM_ARRAY_TASK_ID;
  }
  assert.equal(markerState(cap, 'ingest', 1).state, 'done');
  assert.equal(markerState(cap, 'ingest', 0).state, 'missing');
  process.env.JOB_COMPLETION_INDEX = '0';
  try {
    assert.equal(await quietMain(['task', out, '--stage', 'captions', '--step', 'ingest']), 0);
  } finally {
    delete process.env.JOB_COMPLETION_INDEX;
  }
  assert.equal(await quietMain(['task', cap, '--step', 'manifest', '--rank', '0']), 0);
  assert.ok(existsSync(path.join(cap, 'manifest.json')));
  const st = runStatus(out).find((s) => s.stage === 'captions' && s.step === 'ingest')!;
  assert.equal(st.done, 2);
  assert.ok(st.rows > 0);
  // a task that failed for good (a backend's record) makes status exit 1 and name its log
  const sc = path.join(out, 'scored');
  mkdirSync(path.join(sc, '_tasks', 'score'), { recursive: true });
  writeFileSync(path.join(sc, '_tasks', 'score', '00001.failed.json'), JSON.stringify({ error: 'boom', log: '/logs/scored/score/1.log' }));
  assert.equal(await quietMain(['status', out, '--json']), 1);
  const parsed = { steps: runStatus(out) };
  const failed = parsed.steps.find((s) => s.stage === 'scored' && s.step === 'score')!;
  assert.deepEqual(failed.failed, [1]);
  assert.deepEqual(failed.logs, ['/logs/scored/score/1.log']);
});

test('task --wait waits for the stages before its own (a Kubernetes pod may start before its input exists)', async () => {
  const out = path.join(tmpDir(), 'run');
  const jobs = await pipelineJobs(DEMO_PIPELINE, out, 2);
  const score = jobs.find((j) => j.stage === 'scored' && j.step === 'score')!;
  let finished = false;
  const waiting = runOneTask(score.dir, 'score', 0, { wait: true, pollMs: 50 }).then((r) => ((finished = true), r));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(finished, false, 'it waits: the captions are not ingested yet');
  assert.equal(upstreamUnfinished(score.dir), 'stage captions has not finished');
  // every stage before it in the pipeline (captions, interleaved, text)
  for (const j of jobs.slice(0, jobs.indexOf(score))) for (const r of pendingRanks(j)) assert.equal(await quietMain(taskArgv(j, r)), 0);
  assert.equal(await waiting, 'done');
  assert.equal(markerState(score.dir, 'score', 0).state, 'done');
});

test('--tasks N is the world of every parallel step, and changes neither the rows nor the accounting', async () => {
  const ref = await localReference();
  const one = path.join(tmpDir(), 'one');
  assert.equal(await quietMain(['run', DEMO_PIPELINE, '--out', one, '--tasks', '1', '--no-report']), 0);
  const plan = (o: string, stage: string, step: string) => JSON.parse(readFileSync(path.join(o, stage, '_plan', `${step}.json`), 'utf8')) as { world: number };
  assert.equal(plan(ref.out, 'scored', 'score').world, 4);
  assert.equal(plan(one, 'scored', 'score').world, 1);
  assert.equal(plan(ref.out, 'coreset', 'dedup').world, 4);
  const manifest = (o: string, s: string) => JSON.parse(readFileSync(path.join(o, s, 'manifest.json'), 'utf8')) as { read: number; rows: number; rejected: number; sources: unknown; rejected_by_reason: unknown };
  for (const s of ['captions', 'interleaved', 'text', 'scored', 'coreset', 'mixture']) {
    const a = manifest(one, s), b = manifest(ref.out, s);
    assert.deepEqual([a.read, a.rows, a.rejected, a.sources, a.rejected_by_reason], [b.read, b.rows, b.rejected, b.sources, b.rejected_by_reason], s);
  }
  // the rows themselves: the same ids kept, in the same order (ranks own contiguous runs of the input)
  const ids = async (o: string, stage: string) => {
    const m = JSON.parse(readFileSync(path.join(o, stage, 'manifest.json'), 'utf8')) as { shards: { path: string }[] };
    const rows = [];
    for (const sh of m.shards) rows.push(...(await readHyparquet(path.join(o, stage, sh.path))));
    return rows.map((r) => String(r.id));
  };
  for (const s of ['captions', 'scored', 'coreset']) assert.deepEqual(await ids(one, s), await ids(ref.out, s), s);
});

test('a different run is refused naming the difference; how it runs is not what it computes', async () => {
  const out = path.join(tmpDir(), 'cap');
  const args = ['ingest', '--kind', 'caption', '--input', `captions=${DEMO}/captions.jsonl`, '--out', out, '--quiet'];
  assert.equal(await quietMain(args), 0);
  const sums = shardSums(out);
  assert.equal(await quietMain([...args, '--workers', '1']), 0, '--workers does not change the output');
  const refused = await mainStderr([...args, '--max-pixels', '1000']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /holds the output of a different ingest run \(step ingest: spec\.maxPixels: 89478485 -> 1000\)/);
  assert.deepEqual(shardSums(out), sums, 'nothing was touched');
  // a torn marker is named and redone; a lost shard is redone; the bytes stay the same
  writeFileSync(markerPath(out, 'ingest', 0), '');
  assert.equal(markerState(out, 'ingest', 0).state, 'torn');
  assert.equal(await quietMain(args), 0);
  assert.equal(markerState(out, 'ingest', 0).state, 'done');
  rmSync(path.join(out, sums[0]!.split(' ')[0]!));
  assert.equal(markerState(out, 'ingest', 0).state, 'lost');
  assert.equal(await quietMain(args), 0);
  assert.deepEqual(shardSums(out), sums);
});

test('the lock: a live run is named and refused; a dead one, here or on another host, is taken over', () => {
  const dir = tmpDir();
  const child = spawn('sleep', ['30']);
  try {
    const lockFile = path.join(dir, '_lock.json');
    const write = (host: string, pid: number, age: number) => writeFileSync(lockFile, JSON.stringify({ host, pid, since: 'then', heartbeat: Date.now() - age, command: 'mmcurate run x' }));
    write(os.hostname(), child.pid!, 0);
    assert.throws(() => acquireLock(dir, 'test'), new RegExp(`in use by another run \\(mmcurate run x; host ${os.hostname()}, pid ${child.pid}`));
    write('node-17', 4242, 1000);
    assert.throws(() => acquireLock(dir, 'test'), /host node-17, pid 4242/);
    write('node-17', 4242, STALE_MS + 1000);
    acquireLock(dir, 'test').release();
    assert.equal(existsSync(lockFile), false, 'released');
    write(os.hostname(), 999_999_999, 0);
    const l = acquireLock(dir, 'test');
    assert.equal(JSON.parse(readFileSync(lockFile, 'utf8')).pid, process.pid);
    l.release();
  } finally {
    child.kill();
  }
});

test('the temp sweep removes only files whose writer is dead', () => {
  const dir = tmpDir();
  const child = spawn('sleep', ['30']);
  try {
    const host = os.hostname().replace(/[^A-Za-z0-9_-]/g, '_');
    const mine = tmpName(path.join(dir, 'a.parquet'));
    const live = path.join(dir, `b.parquet.${host}~${child.pid}.tmp`);
    const dead = path.join(dir, `c.parquet.${host}~999999999.tmp`);
    const foreign = path.join(dir, 'd.parquet.other-node~12.tmp');
    const oldForeign = path.join(dir, 'e.parquet.other-node~12.tmp');
    for (const f of [mine, live, dead, foreign, oldForeign]) writeFileSync(f, 'x');
    const old = (Date.now() - FOREIGN_TEMP_AGE_MS - 60_000) / 1000;
    utimesSync(oldForeign, old, old);
    assert.equal(sweepTemps(dir), 2);
    assert.deepEqual(readdirSync(dir).sort(), [mine, live, foreign].map((f) => path.basename(f)).sort());
  } finally {
    child.kill();
  }
});

test('a run killed with SIGKILL mid-stage resumes to the same bytes and the same accounting; its lock and temporaries do not block', async () => {
  const ref = await localReference();
  const out = path.join(tmpDir(), 'run');
  const child = spawn(process.execPath, [BIN, 'run', DEMO_PIPELINE, '--out', out, '--tasks', '4', '--no-report'], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  // kill it once the coreset has started: ingest and score are done, the coreset is part-way
  const deadline = Date.now() + 120_000;
  while (!existsSync(path.join(out, 'coreset', '_tasks', 'assign')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(path.join(out, 'coreset', '_lock.json')), 'the killed run left its lock');
  assert.ok(!existsSync(path.join(out, 'coreset', 'manifest.json')), 'killed before the coreset finished');
  assert.equal(await quietMain(['run', DEMO_PIPELINE, '--out', out, '--tasks', '4', '--no-report']), 0);
  assert.deepEqual(shardSums(out), ref.sums);
  for (const st of ['captions', 'scored', 'coreset', 'mixture']) {
    const a = JSON.parse(readFileSync(path.join(out, st, 'manifest.json'), 'utf8'));
    const b = JSON.parse(readFileSync(path.join(ref.out, st, 'manifest.json'), 'utf8'));
    assert.deepEqual([a.read, a.rows, a.rejected, a.sources], [b.read, b.rows, b.rejected, b.sources], st);
  }
  assert.ok(!(readdirSync(out, { recursive: true }) as string[]).some((f) => f.endsWith('.tmp')), 'no temporaries left');
});

test('two processes racing for the same task land one result, the same bytes', async () => {
  const out = path.join(tmpDir(), 'run');
  const jobs = await pipelineJobs(DEMO_PIPELINE, out, 2);
  const ingest = jobs[0]!;
  const runOne = () =>
    new Promise<number>((resolve) => {
      const p = spawn(process.execPath, [BIN, ...taskArgv(ingest, 0)], { stdio: 'ignore' });
      p.on('exit', (c) => resolve(c ?? -1));
    });
  const codes = await Promise.all([runOne(), runOne()]);
  assert.deepEqual(codes, [0, 0]);
  const m = markerState(ingest.dir, 'ingest', 0);
  assert.equal(m.state, 'done');
  assert.ok(!readdirSync(path.join(ingest.dir, 'data')).some((f) => f.endsWith('.tmp')), 'no temporaries left');
  const raced = shardSums(ingest.dir);
  rmSync(path.join(ingest.dir, 'data'), { recursive: true });
  rmSync(markerPath(ingest.dir, 'ingest', 0));
  assert.equal(await quietMain(taskArgv(ingest, 0)), 0);
  assert.deepEqual(shardSums(ingest.dir), raced);
});
