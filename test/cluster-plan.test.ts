/** The Slurm backend's pure parts: array specs, splitting at MaxArraySize, the batch script and sbatch's arguments. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { batchScript, compactRanges, parseMaxArraySize, sbatchArgs, splitArray } from '../src/run/backends/slurm-plan.js';
import { tmpDir } from './helpers.js';

test('compactRanges: runs as a-b, singles alone, sorted, repeats once', () => {
  assert.equal(compactRanges([0, 1, 2, 3, 7]), '0-3,7');
  assert.equal(compactRanges([9, 3, 4, 3, 1]), '1,3-4,9');
  assert.equal(compactRanges([5]), '5');
  assert.equal(compactRanges([]), '');
});

test('splitArray: ranks below MaxArraySize stay one array whose index is the rank; the rest get offsets', () => {
  assert.deepEqual(splitArray([0, 1, 2, 3], 1001), [{ offset: 0, indices: [0, 1, 2, 3] }]);
  assert.deepEqual(splitArray([0, 1, 2, 3], 3), [{ offset: 0, indices: [0, 1, 2] }, { offset: 3, indices: [0] }]);
  // a resubmission of scattered ranks past the limit
  const chunks = splitArray([2, 5000, 5001, 7999, 12000], 3000);
  assert.deepEqual(chunks, [{ offset: 0, indices: [2] }, { offset: 5000, indices: [0, 1, 2999] }, { offset: 12000, indices: [0] }]);
  for (const c of chunks) assert.ok(c.indices.every((i) => i >= 0 && i < 3000));
  // every rank once, whatever the limit
  const ranks = Array.from({ length: 2500 }, (_, i) => i * 3 + (i % 2));
  for (const max of [1, 7, 1001, 100000]) {
    const back = splitArray(ranks, max).flatMap((c) => c.indices.map((i) => i + c.offset));
    assert.deepEqual(back, ranks, `MaxArraySize ${max}`);
  }
});

test('splitArray: a long list of scattered ranks is cut so each --array value stays short', () => {
  const ranks = Array.from({ length: 3000 }, (_, i) => i * 2);
  const chunks = splitArray(ranks, 100000, 200);
  assert.ok(chunks.length > 1);
  for (const c of chunks) assert.ok(compactRanges(c.indices).length <= 200, compactRanges(c.indices));
  assert.deepEqual(chunks.flatMap((c) => c.indices.map((i) => i + c.offset)), ranks);
});

test('parseMaxArraySize reads scontrol show config, with Slurm\'s default when absent', () => {
  assert.equal(parseMaxArraySize('MaxArraySize            = 3\nMaxJobCount = 10000\n'), 3);
  assert.equal(parseMaxArraySize('MaxJobCount = 10000\n'), 1001);
});

test('sbatchArgs: array with %max-parallel, offset exported, afterok chain that cancels on failure, GPUs', () => {
  const a = sbatchArgs({ jobName: 'mmcurate-x-scored-score', chunk: { offset: 3, indices: [0, 1, 4] }, script: '/o/_slurm/s.sh', dependsOn: ['11', '12'], maxParallel: 2, partition: 'gpu', time: '01:00:00', gpusPerTask: 1, extra: ['--account=p'], workDir: '/o' });
  assert.ok(a.includes('--array=0-1,4%2'));
  assert.ok(a.includes('--export=ALL,MMCURATE_RANK_OFFSET=3'));
  assert.ok(a.includes('--dependency=afterok:11:12'));
  assert.ok(a.includes('--kill-on-invalid-dep=yes'));
  assert.ok(a.includes('--gpus-per-task=1') && a.includes('--partition=gpu') && a.includes('--time=01:00:00'));
  assert.deepEqual(a.slice(-2), ['--account=p', '/o/_slurm/s.sh']);
  const first = sbatchArgs({ jobName: 'j', chunk: { offset: 0, indices: [0] }, script: 's', dependsOn: [], extra: [], workDir: '/o' });
  assert.ok(!first.some((x) => x.startsWith('--dependency') || x.startsWith('--gpus')));
});

test('batchScript: the rank is the array index plus the offset, its output goes to <rank>.log', () => {
  const dir = tmpDir();
  const logs = path.join(dir, 'logs dir');
  const script = path.join(dir, 's.sh');
  // a stand-in for mmcurate that prints its arguments, so the script runs here without Slurm
  writeFileSync(script, batchScript({ command: ['echo', 'task', "/o/it's", '--step', 'ingest'], logDir: logs, label: 'x/ingest' }));
  const r = spawnSync('bash', [script], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_JOB_ID: '7', MMCURATE_RANK_OFFSET: '1000' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const log = readFileSync(path.join(logs, '1002.log'), 'utf8');
  assert.match(log, /^mmcurate slurm: start rank 1002 job 7_2 /);
  assert.match(log, /\ntask \/o\/it's --step ingest --rank 1002\n$/);
});

