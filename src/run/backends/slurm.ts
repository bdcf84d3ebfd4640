/**
 * `mmcurate run PIPELINE --out DIR --executor slurm`: one `sbatch --array` per step, holding only the
 * ranks whose completion marker is not valid yet, each step's arrays depending (afterok) on the previous
 * submitted step's. A failed or cancelled task stops the steps after it (--kill-on-invalid-dep); running
 * the same command again submits just the ranks still missing. Returns once everything is submitted.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Flags, Parsed } from '../../cli/args.js';
import { RunError, UsageError } from '../../errors.js';
import { writeJsonAtomic } from '../../write/atomic.js';
import { GPUS_PER_TASK, MAX_PARALLEL, logDir, outTag, pendingJobs, safeName } from './common.js';
import { taskArgv, type StepJob } from '../jobs.js';
import { batchScript, compactRanges, parseMaxArraySize, sbatchArgs, splitArray } from './slurm-plan.js';

export const flags: Flags = {
  'max-parallel': MAX_PARALLEL,
  'gpus-per-task': GPUS_PER_TASK,
  partition: { type: 'string', help: 'slurm: the partition to submit to (default: the cluster default)' },
  time: { type: 'string', help: 'slurm: time limit of each task, e.g. 02:00:00' },
  'sbatch-arg': { type: 'list', help: 'slurm: an extra sbatch argument, repeatable; write it with "=": --sbatch-arg=--account=proj' },
};

/** What OUT/_slurm/submitted.json records per step: its arrays (job id, rank offset, ranks). */
export interface Submitted {
  stage: string;
  step: string;
  ranks: string;
  jobIds: string[];
  arrays: { id: string; offset: number; ranks: string }[];
}

/** Runs a Slurm client command; a missing client or a refusal is a RunError that shows its stderr. */
function slurmCmd(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new RunError(`${cmd}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found; run this on a Slurm login node (the Slurm client commands must be on PATH)' : r.error.message}`);
  if (r.status !== 0) throw new RunError(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Jobs of a previous submission into this OUT that are still queued or running. */
function stillQueued(record: string): string[] {
  if (!existsSync(record)) return [];
  const prev = JSON.parse(readFileSync(record, 'utf8')) as { steps: Submitted[] };
  const ids = new Set(prev.steps.flatMap((s) => s.jobIds));
  if (ids.size === 0) return [];
  // %F: the array's job id, as sbatch --parsable printed it
  const queued = slurmCmd('squeue', ['-h', '-o', '%F']).split('\n').map((s) => s.trim());
  return [...new Set(queued.filter((id) => ids.has(id)))];
}

export async function submit(jobs: StepJob[], opts: { out: string; flags: Parsed['flags']; bin: string[] }): Promise<number> {
  const out = path.resolve(opts.out);
  const f = opts.flags;
  const record = path.join(out, '_slurm', 'submitted.json');
  // a second submission while the first is queued would run every task twice: refuse it
  const queued = stillQueued(record);
  if (queued.length) {
    throw new UsageError(`${out} has Slurm jobs still queued or running (${queued.join(', ')}); wait for them (squeue -j ${queued.join(',')}) or cancel them (scancel ${queued.join(' ')}), then run again`);
  }
  const maxArraySize = parseMaxArraySize(slurmCmd('scontrol', ['show', 'config']));
  const tag = outTag(out);
  const steps: Submitted[] = [];
  let previous: string[] = [];
  for (const { job, ranks } of pendingJobs(jobs, 'slurm', 'submit')) {
    const logs = logDir(out, job);
    mkdirSync(logs, { recursive: true });
    const script = path.join(out, '_slurm', `${safeName(`${job.stage}-${job.step}`, 200)}.sh`);
    mkdirSync(path.dirname(script), { recursive: true });
    writeFileSync(script, batchScript({ command: [...opts.bin, ...taskArgv(job)], logDir: logs, label: `${job.stage}/${job.step}` }), { mode: 0o755 });
    const ids: string[] = [];
    const arrays: Submitted['arrays'] = [];
    for (const chunk of splitArray(ranks, maxArraySize)) {
      const args = sbatchArgs({
        jobName: safeName(`mmcurate-${tag}-${job.stage}-${job.step}`, 128),
        chunk,
        script,
        dependsOn: previous,
        maxParallel: f['max-parallel'] as number | undefined,
        partition: f.partition as string | undefined,
        time: f.time as string | undefined,
        gpusPerTask: job.gpu ? (f['gpus-per-task'] as number | undefined) : undefined,
        extra: (f['sbatch-arg'] as string[] | undefined) ?? [],
        workDir: out,
      });
      // --parsable prints "id" or "id;cluster"
      const id = slurmCmd('sbatch', args).trim().split(';')[0]!;
      ids.push(id);
      const shown = chunk.indices.map((i) => i + chunk.offset);
      arrays.push({ id, offset: chunk.offset, ranks: compactRanges(shown) });
      process.stdout.write(`${job.stage}/${job.step}: ranks ${compactRanges(shown)} -> job ${id}${previous.length ? ` (after ${previous.join(',')})` : ''}\n`);
    }
    steps.push({ stage: job.stage, step: job.step, ranks: compactRanges(ranks), jobIds: ids, arrays });
    previous = ids;
    // written after each step, so a refusal half-way still leaves the submitted ids on record
    writeJsonAtomic(record, { submittedAt: new Date().toISOString(), steps });
  }
  if (steps.length === 0) process.stdout.write(`every task in ${out} is done; nothing submitted\n`);
  else process.stdout.write(`submitted ${steps.length} step(s); logs under ${path.join(out, '_logs')}; follow with: mmcurate status ${out} --wait\n`);
  return 0;
}
