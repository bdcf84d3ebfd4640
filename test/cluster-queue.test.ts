/**
 * The queue backend against a real Redis (scripts/cluster/redis-up.sh; .ci/run starts it; REDIS_URL
 * overrides the address): the demo enqueued twice and raced by two workers gives the local executor's
 * shards byte for byte, once; a worker killed with SIGKILL mid-task loses nothing (its task is queued
 * again and its child process stops); a task failing every try is reported and not retried forever.
 * Workers are real processes (a SIGKILL needs one). Skipped, saying so, where no Redis answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { markerPath } from '../src/run/markers.js';
import { DEMO, tmpDir } from './helpers.js';
import { BIN, DEMO_PIPELINE, TASKS, accounting, leftovers, reference, shardHashes } from './cluster-helpers.js';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

/** PING over a plain socket: the test needs no redis-cli, and a server elsewhere (REDIS_URL) counts too. */
async function redisAnswers(url: string): Promise<string | undefined> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (why?: string) => {
      sock.destroy();
      resolve(why);
    };
    sock.setTimeout(3000, () => done('no answer within 3 s'));
    sock.on('error', (e) => done(e.message));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(/^\+PONG/.test(d.toString()) ? undefined : `answered ${JSON.stringify(d.toString().trim())}`));
  });
}
const down = await redisAnswers(REDIS);
const skip = down ? `Redis does not answer at ${REDIS} (${down}); scripts/cluster/redis-up.sh starts one` : false;

function queueName(): string {
  return `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

interface Proc {
  child: ChildProcess;
  log: string[];
  exit: Promise<number>;
}

function worker(queue: string, extra: string[] = []): Proc {
  const child = spawn(process.execPath, [BIN, 'worker', '--redis', REDIS, '--queue', queue, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  let rest = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    const lines = (rest + s).split('\n');
    rest = lines.pop()!;
    log.push(...lines);
  });
  return { child, log, exit: new Promise((r) => child.on('exit', (code) => r(code ?? -1))) };
}

async function until<T>(what: string, f: () => T | undefined, seconds = 240): Promise<T> {
  for (let i = 0; i < seconds * 10; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const enqueue = (out: string, queue: string, extra: string[] = [], pipeline = DEMO_PIPELINE, tasks = TASKS) =>
  main(['run', pipeline, '--out', out, '--tasks', String(tasks), '--executor', 'queue', '--redis', REDIS, '--queue', queue, ...extra]);

test('queue: the demo enqueued twice, raced by two workers, lands once and equals the local run', { skip, timeout: 600_000 }, async () => {
  const ref = await reference();
  const out = tmpDir('mmcurate-queue-');
  const q = queueName();
  // two submissions: every task is on the queue twice, so the two workers run copies of one task at once
  assert.equal(await enqueue(out, q), 0);
  assert.equal(await enqueue(out, q), 0);
  const ws = [worker(q, ['--concurrency', '2', '--exit-when-idle']), worker(q, ['--concurrency', '2', '--exit-when-idle'])];
  const codes = await Promise.all(ws.map((w) => w.exit));
  assert.deepEqual(codes, [0, 0], ws.flatMap((w) => w.log).join('\n'));
  assert.equal(await main(['status', out]), 0);
  assert.deepEqual(shardHashes(out), shardHashes(ref.out));
  assert.deepEqual(accounting(out), accounting(ref.out, ref.writtenAs));
  assert.deepEqual(leftovers(out), []);
});

test('queue: a worker killed with SIGKILL mid-task: its task is queued again and done once, its child stops', { skip, timeout: 600_000 }, async (t) => {
  const ref = await reference();
  const out = tmpDir('mmcurate-queue-kill-');
  const q = queueName();
  assert.equal(await enqueue(out, q), 0);
  const w1 = worker(q);
  const started = await until('a score task to start', () => {
    for (const l of w1.log) {
      const m = /start scored\/score rank (\d+) .*pid (\d+)\)/.exec(l);
      if (m) return { rank: Number(m[1]), pid: Number(m[2]) };
    }
    return undefined;
  });
  w1.child.kill('SIGKILL');
  const killedAt = Date.now();
  await w1.exit;
  // the task's process notices its worker is gone and stops (no orphan racing the re-queued copy)
  await until('the killed worker\'s task process to stop', () => {
    try {
      process.kill(started.pid, 0);
      return undefined;
    } catch {
      return true;
    }
  }, 20);
  // it stopped unfinished: no marker from the orphan (the task takes seconds; the SIGKILL came right at its start)
  assert.ok(!existsSync(markerPath(path.join(out, 'scored'), 'score', started.rank)), 'the killed worker\'s task ran on to its end');
  const w2 = worker(q, ['--concurrency', '2', '--exit-when-idle']);
  assert.equal(await w2.exit, 0, w2.log.join('\n'));
  const again = w2.log.find((l) => l.includes(`start scored/score rank ${started.rank} `));
  assert.ok(again, `the killed task (score rank ${started.rank}) ran again:\n${w2.log.join('\n')}`);
  t.diagnostic(`queue: killed task queued again and restarted ${((Date.parse(again.slice(0, 24)) - killedAt) / 1000).toFixed(1)} s after the SIGKILL`);
  assert.equal(await main(['status', out]), 0);
  assert.deepEqual(shardHashes(out), shardHashes(ref.out));
  assert.deepEqual(accounting(out), accounting(ref.out, ref.writtenAs));
  assert.deepEqual(leftovers(out), []);
});

test('queue: a task failing every try is written to its .failed.json, shown by status, and not retried again', { skip, timeout: 300_000 }, async () => {
  const dir = tmpDir('mmcurate-queue-fail-');
  const input = path.join(dir, 'captions.jsonl');
  copyFileSync(path.join(DEMO, 'captions.jsonl'), input);
  const pipeline = path.join(dir, 'p.json');
  writeFileSync(pipeline, JSON.stringify({ name: 'one', stages: [{ name: 'captions', stage: 'ingest', with: { kind: 'caption', input: [input] } }] }));
  const out = path.join(dir, 'out');
  const q = queueName();
  assert.equal(await enqueue(out, q, ['--attempts', '2'], pipeline, 1), 0);
  // a folder where the task's shard must land: the task fails the same way however often it is tried
  mkdirSync(path.join(out, 'captions', 'data', 'part-00000-00000.parquet', 'in-the-way'), { recursive: true });
  const w = worker(q, ['--exit-when-idle']);
  assert.equal(await w.exit, 1, w.log.join('\n'));
  const failed = path.join(out, 'captions', '_tasks', 'ingest', '00000.failed.json');
  assert.ok(existsSync(failed), `no ${failed}; worker log:\n${w.log.join('\n')}`);
  const record = JSON.parse(readFileSync(failed, 'utf8')) as { attempts: number; error: string; log: string };
  const tries = w.log.filter((l) => l.includes('start captions/ingest rank 0 ')).length;
  assert.equal(tries, 2, w.log.join('\n'));
  assert.equal(record.attempts, 2);
  assert.match(record.error, /EISDIR/);
  assert.equal(await main(['status', out]), 1);
  assert.ok(!readdirSync(path.join(out, 'captions', '_tasks', 'ingest')).some((f) => f.endsWith('.done.json')));
});
