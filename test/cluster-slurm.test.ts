/**
 * The Slurm backend against a real one-node cluster (scripts/cluster/slurm-up.sh; .ci/run starts it):
 * the demo pipeline submitted as arrays gives the local executor's shards byte for byte; a task cancelled
 * mid-run stops the steps after it, and submitting again runs just the missing ranks; two copies of one
 * task racing land one result. Skipped, saying so, where no cluster answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { markerPath } from '../src/run/markers.js';
import type { Submitted } from '../src/run/backends/slurm.js';
import { tmpDir } from './helpers.js';
import { DEMO_PIPELINE, TASKS, accounting, leftovers, reference, shardHashes } from './cluster-helpers.js';

function sh(cmd: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.error ? -1 : (r.status ?? -1), out: r.stdout ?? '', err: r.error ? r.error.message : (r.stderr ?? '') };
}

function slurmMissing(): string | undefined {
  const r = sh('sinfo', ['-h', '-o', '%T']);
  if (r.code !== 0) return `sinfo does not answer (${r.err.trim() || `exit ${r.code}`})`;
  if (!/idle|mixed|allocated/.test(r.out)) return `no node is up (sinfo: ${r.out.trim()})`;
  return undefined;
}
const missing = slurmMissing();
const skip = missing ? `Slurm is not running here: ${missing}; scripts/cluster/slurm-up.sh starts a one-node cluster` : false;

function submitted(out: string): Submitted[] {
  return (JSON.parse(readFileSync(path.join(out, '_slurm', 'submitted.json'), 'utf8')) as { steps: Submitted[] }).steps;
}

/** Waits until none of the given array jobs is queued or running. */
async function drained(ids: string[], seconds = 300): Promise<void> {
  const want = new Set(ids);
  for (let i = 0; i < seconds * 2; i++) {
    const q = sh('squeue', ['-h', '-o', '%F']).out.split('\n').map((s) => s.trim());
    if (!q.some((id) => want.has(id))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`Slurm jobs ${ids.join(',')} still queued after ${seconds} s`);
}

const run = (out: string) => main(['run', DEMO_PIPELINE, '--out', out, '--tasks', String(TASKS), '--executor', 'slurm']);

test('slurm: the demo as arrays equals the local run; a task cancelled mid-run is all a second submission runs; racing copies land one result', { skip, timeout: 600_000 }, async (t) => {
  const ref = await reference();
  const out = tmpDir('mmcurate-slurm-');
  const submittedAt = Date.now();
  assert.equal(await run(out), 0);
  const first = submitted(out);
  assert.equal(first[0]!.ranks, `0-${TASKS - 1}`);
  // a second submission while the first is queued would run every task twice
  assert.equal(await run(out), 2);

  // cancel the first rank seen running of a parallel step past the first
  let cancelled: { stage: string; step: string; rank: number } | undefined;
  for (let i = 0; i < 1200 && !cancelled; i++) {
    for (const line of sh('squeue', ['-h', '-t', 'R', '-o', '%F %K']).out.trim().split('\n').filter(Boolean)) {
      const [id, index] = line.trim().split(' ');
      const s = first.find((x) => x.jobIds.includes(id!));
      // a rank of a parallel step (its other ranks go on), past the first step
      if (!s || s === first[0] || !/[-,]/.test(s.ranks)) continue;
      const arr = s.arrays.find((a) => a.id === id)!;
      const c = sh('scancel', [`${id}_${index}`]);
      if (c.code !== 0 || c.err.trim()) continue; // it finished in between: try the next one
      cancelled = { stage: s.stage, step: s.step, rank: Number(index) + arr.offset };
      break;
    }
    if (!cancelled) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(cancelled, 'no task of a middle step was seen running');
  await drained(first.flatMap((s) => s.jobIds));
  // the steps after the cancelled task never ran: work remains (exit 3)
  assert.equal(await main(['status', out]), 3);

  assert.equal(await run(out), 0);
  const second = submitted(out);
  assert.deepEqual({ stage: second[0]!.stage, step: second[0]!.step, ranks: second[0]!.ranks }, { stage: cancelled.stage, step: cancelled.step, ranks: String(cancelled.rank) }, 'the second submission starts with exactly the cancelled rank');
  await drained(second.flatMap((s) => s.jobIds));
  assert.equal(await main(['status', out]), 0);
  assert.deepEqual(shardHashes(out), shardHashes(ref.out));
  assert.deepEqual(accounting(out), accounting(ref.out, ref.writtenAs));
  assert.deepEqual(leftovers(out), []);

  // two copies of one task at once (a requeued job next to its first copy): one marker, the same bytes
  const logFile = path.join(out, '_logs', 'captions', 'ingest', '1.log');
  const starts = () => readFileSync(logFile, 'utf8').match(/mmcurate slurm: start/g)?.length ?? 0;
  const before = starts();
  rmSync(markerPath(path.join(out, 'captions'), 'ingest', 1));
  const script = path.join(out, '_slurm', 'captions-ingest.sh');
  const ids = [0, 1].map(() => sh('sbatch', ['--parsable', '--array=1', '--export=ALL,MMCURATE_RANK_OFFSET=0', '--output=/dev/null', script]).out.trim());
  await drained(ids);
  assert.equal(starts(), before + 2, 'both copies ran');
  assert.equal(await main(['status', out]), 0);
  assert.deepEqual(shardHashes(out), shardHashes(ref.out));
  assert.deepEqual(accounting(out), accounting(ref.out, ref.writtenAs));
  assert.deepEqual(leftovers(out), []);

  // launch delay: sbatch to the first task's start line, and from it to the task's own start line
  const l0 = readFileSync(path.join(out, '_logs', first[0]!.stage, first[0]!.step, '0.log'), 'utf8');
  const slurmStart = Date.parse(/start rank 0 .* at (\S+)/.exec(l0)![1]!.replace(/(\.\d{3})\d*Z$/, '$1Z'));
  const taskStart = Date.parse(/^task .*: start (\S+)/m.exec(l0)![1]!);
  t.diagnostic(`slurm: submit -> script start ${((slurmStart - submittedAt) / 1000).toFixed(2)} s; script -> task start ${((taskStart - slurmStart) / 1000).toFixed(2)} s; cancelled ${cancelled.stage}/${cancelled.step} rank ${cancelled.rank}`);
});
