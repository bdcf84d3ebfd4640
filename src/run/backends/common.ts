/**
 * What the three cluster backends share: the flags they have in common (one spec each, so `run`'s merged
 * flag table never holds two meanings for one name), where a task's log and failure record live, and
 * names a scheduler accepts.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { FlagSpec } from '../../cli/args.js';
import { writeJsonAtomic } from '../../write/atomic.js';
import { pendingRanks, type StepJob } from '../jobs.js';
import { failedPath } from '../markers.js';

export const MAX_PARALLEL: FlagSpec = { type: 'number', integer: true, min: 1, help: 'slurm, k8s: at most this many tasks of a step at once (default: no limit)' };
export const GPUS_PER_TASK: FlagSpec = { type: 'number', integer: true, min: 0, help: 'slurm, k8s: GPUs asked for by each task of a GPU step (score, coreset; default 1 for k8s, none for slurm)' };
export const REDIS: FlagSpec = { type: 'string', help: 'queue: the Redis server, e.g. redis://host:6379 (k8s: what the worker Deployment connects to)' };
export const DEFAULT_ATTEMPTS = 3;
export const ATTEMPTS: FlagSpec = { type: 'number', integer: true, min: 1, help: `queue, k8s: tries per task before it is reported failed (default ${DEFAULT_ATTEMPTS})` };
export const QUEUE: FlagSpec = { type: 'string', help: 'queue: the queue name (default mmcurate); workers serve one queue' };

/** The log of one task: OUT/_logs/<stage>/<step>/<rank>.log, the same for every backend. */
export function logDir(out: string, job: StepJob): string {
  return path.join(out, '_logs', job.stage, job.step);
}
export function taskLog(out: string, job: StepJob, rank: number): string {
  return path.join(logDir(out, job), `${rank}.log`);
}

/**
 * A task that failed every attempt leaves DIR/_tasks/<step>/<rank>.failed.json next to the completion
 * markers (markers.ts names it), so `mmcurate status` lists it; a later success removes it.
 */
export function recordFailure(dir: string, step: string, rank: number, failure: { error: string; attempts: number; backend: string; log?: string }): void {
  mkdirSync(path.dirname(failedPath(dir, step, rank)), { recursive: true });
  writeJsonAtomic(failedPath(dir, step, rank), { rank, step, ...failure, at: new Date().toISOString() });
}
export function clearFailure(dir: string, step: string, rank: number): void {
  rmSync(failedPath(dir, step, rank), { force: true });
}

/** A short, stable tag of an output folder: two runs into different folders never share job names. */
export function outTag(out: string): string {
  return createHash('sha256').update(path.resolve(out)).digest('hex').slice(0, 6);
}

/** Lower-case letters, digits and '-' (DNS-1123 labels, Slurm job names), at most `max` characters. */
export function safeName(s: string, max = 63): string {
  const n = s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return n.slice(0, max).replace(/-$/, '');
}

/** One argument quoted for a POSIX shell. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The jobs that still have ranks to run, with those ranks; a step already done is said once and passed over. */
export function* pendingJobs(jobs: readonly StepJob[], backend: string, verb: string): Generator<{ job: StepJob; ranks: number[] }> {
  for (const job of jobs) {
    const ranks = pendingRanks(job);
    if (ranks.length === 0) {
      process.stderr.write(`${backend}: ${job.stage}/${job.step}: all ${job.world} task(s) done, nothing to ${verb}\n`);
      continue;
    }
    yield { job, ranks };
  }
}
