/**
 * `mmcurate run PIPELINE --out DIR --executor queue --redis URL`: puts the pipeline's pending tasks on a
 * Redis queue (BullMQ) and returns; `mmcurate worker --redis URL` processes (see queue-flow.ts for the
 * barrier between steps, worker-command.ts for retries and kill recovery). Only ranks without a valid
 * marker are enqueued, so running it again after a failure resumes where the pipeline stopped.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Flags, Parsed } from '../../cli/args.js';
import { UsageError } from '../../errors.js';
import { ATTEMPTS, DEFAULT_ATTEMPTS, pendingJobs, QUEUE, REDIS } from './common.js';
import type { StepJob } from '../jobs.js';
import { DEFAULT_QUEUE, addStep, connect, ping, type PlannedStep } from './queue-flow.js';
import { compactRanges } from './slurm-plan.js';

export const flags: Flags = {
  redis: REDIS,
  queue: QUEUE,
  attempts: ATTEMPTS,
};

export async function submit(jobs: StepJob[], opts: { out: string; flags: Parsed['flags']; bin: string[] }): Promise<number> {
  const url = opts.flags.redis as string | undefined;
  if (!url) throw new UsageError('mmcurate run --executor queue needs --redis URL (e.g. redis://127.0.0.1:6379)');
  const queueName = (opts.flags.queue as string | undefined) ?? DEFAULT_QUEUE;
  const out = path.resolve(opts.out);
  const steps: PlannedStep[] = [];
  for (const { job, ranks } of pendingJobs(jobs, 'queue', 'enqueue')) {
    steps.push({ stage: job.stage, step: job.step, dir: job.dir, world: job.world, ranks });
  }
  if (steps.length === 0) {
    process.stdout.write(`every task in ${out} is done; nothing enqueued\n`);
    return 0;
  }
  const conn = connect(url);
  try {
    await ping(conn, url);
    // a submission id keeps job ids unique per run: a re-run after a failure must not collide with the
    // failed jobs BullMQ keeps, while a gate added twice within one submission still dedupes
    const submission = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    await addStep(conn, queueName, { submission, out, index: 0, steps, attempts: (opts.flags.attempts as number | undefined) ?? DEFAULT_ATTEMPTS });
    for (const s of steps) process.stdout.write(`${s.stage}/${s.step}: ranks ${compactRanges(s.ranks)}\n`);
    process.stdout.write(`enqueued ${steps.length} step(s) on queue "${queueName}" at ${url} (submission ${submission}); start workers with: mmcurate worker --redis ${url}${queueName === DEFAULT_QUEUE ? '' : ` --queue ${queueName}`}; follow with: mmcurate status ${out} --wait\n`);
  } finally {
    conn.disconnect();
  }
  return 0;
}
