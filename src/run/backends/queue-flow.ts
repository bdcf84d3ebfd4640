/**
 * The queue backend's layout in Redis (BullMQ), shared by `run --executor queue` and `mmcurate worker`.
 *
 * Barrier: one BullMQ flow per step. A step's flow is a "gate" job whose children are the step's task
 * jobs; BullMQ runs a parent only after all its children completed, and a child that fails its last
 * attempt fails the gate (failParentOnFailure). Processing gate k adds step k+1's flow, so no task of
 * step k+1 exists in Redis before every task of step k succeeded, and a failure stops the chain there.
 * A single tree cannot express this (a job has one parent, and step k+1 has many jobs), hence a gate.
 * Job ids are `<submission>.<step index>.<rank>` (gate: `.gate`): adding a flow twice (a gate retried
 * after its worker died) adds nothing the second time.
 */
import { FlowProducer, Queue, type FlowJob } from 'bullmq';
import { Redis } from 'ioredis';
import { RunError, UsageError } from '../../errors.js';

export const DEFAULT_QUEUE = 'mmcurate';

export interface PlannedStep {
  stage: string;
  step: string;
  dir: string;
  world: number;
  ranks: number[];
}

export interface TaskData {
  submission: string;
  out: string;
  stage: string;
  step: string;
  dir: string;
  rank: number;
}

export interface GateData {
  submission: string;
  out: string;
  /** Index of the step this gate closes. */
  index: number;
  steps: PlannedStep[];
  attempts: number;
}

/** A redis:// or rediss:// URL, or a UsageError saying what is expected. */
export function checkRedisUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--redis ${url}: not a URL; expected redis://HOST:PORT (or rediss://)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--redis ${url}: expected a redis:// or rediss:// URL`);
}

/**
 * A connection as BullMQ needs it (blocking commands: no per-request retry limit). Connection errors are
 * reported once per 10 s on stderr instead of ioredis's unhandled-error line per retry; ioredis keeps
 * reconnecting, so a worker rides out a Redis restart.
 */
export function connect(url: string): Redis {
  checkRedisUrl(url);
  const conn = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
  // quiet for the first 10 s: ping() reports a server that cannot be reached at all
  let last = Date.now();
  conn.on('error', (err: Error) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    process.stderr.write(`redis ${url}: ${err.message}\n`);
  });
  return conn;
}

/** Fails fast (a RunError naming the server and the cause) instead of retrying a wrong address forever. */
export async function ping(conn: Redis, url: string): Promise<void> {
  let onError: (e: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    onError = reject;
    conn.once('error', onError);
    setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref();
  });
  try {
    await Promise.race([conn.ping(), failed]);
  } catch (err) {
    conn.disconnect();
    throw new RunError(`cannot reach Redis at ${url}: ${(err as Error).message}; is redis-server running there?`);
  } finally {
    conn.off('error', onError);
  }
}

/** Step `index`'s flow: its gate job with the step's tasks as children. */
export function stepFlow(queueName: string, gate: GateData): FlowJob {
  const s = gate.steps[gate.index]!;
  return {
    name: 'gate',
    queueName,
    data: gate,
    opts: { jobId: `${gate.submission}.${gate.index}.gate`, removeOnComplete: { age: 24 * 3600 } },
    children: s.ranks.map((rank) => ({
      name: 'task',
      queueName,
      data: { submission: gate.submission, out: gate.out, stage: s.stage, step: s.step, dir: s.dir, rank } satisfies TaskData,
      opts: {
        jobId: `${gate.submission}.${gate.index}.${rank}`,
        attempts: gate.attempts,
        backoff: { type: 'exponential', delay: 2000 },
        failParentOnFailure: true,
        removeOnComplete: { age: 24 * 3600 },
      },
    })),
  };
}

export async function addStep(conn: Redis, queueName: string, gate: GateData): Promise<void> {
  const fp = new FlowProducer({ connection: conn });
  try {
    await fp.add(stepFlow(queueName, gate));
  } finally {
    await fp.close();
  }
}

export function openQueue(conn: Redis, queueName: string): Queue {
  return new Queue(queueName, { connection: conn });
}
