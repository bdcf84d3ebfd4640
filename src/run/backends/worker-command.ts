/**
 * `mmcurate worker --redis URL`: takes tasks from the queue `run --executor queue` filled and runs each in
 * a child process (task-child.ts), `--concurrency` at a time, appending its output to
 * OUT/_logs/<stage>/<step>/<rank>.log.
 *
 * Retries: a task is tried --attempts times (set at enqueue, default 3) with exponential backoff (2 s,
 * 4 s); a usage error (exit 2) is not retried. A task that fails its last try is reported in this
 * worker's log and in DIR/_tasks/<step>/<rank>.failed.json, fails its step's gate, and the pipeline stops.
 * Kill recovery: a worker holds a lock on each task it runs, renewed every LOCK_MS/2; when it dies, the
 * lock lapses within LOCK_MS and the next stalled-job check of any live worker (every STALLED_MS) puts
 * the task back on the queue. BullMQ's check marks an active job on one pass and moves it on the next if its
 * lock is gone: a killed worker's task is queued again within LOCK_MS + STALLED_MS (15 s) while another
 * worker runs, LOCK_MS + 2 * STALLED_MS (20 s) when the next worker starts after the kill.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { formatHelp, parseFlagsOnly, required, type Flags } from '../../cli/args.js';
import { errorMessage } from '../../errors.js';
import { DEFAULT_ATTEMPTS, QUEUE, REDIS, clearFailure, recordFailure } from './common.js';
import { DEFAULT_QUEUE, addStep, checkRedisUrl, connect, openQueue, ping, type GateData, type TaskData } from './queue-flow.js';

export const LOCK_MS = 10_000;
export const STALLED_MS = 5_000;

const flags: Flags = {
  redis: REDIS,
  queue: QUEUE,
  concurrency: { type: 'number', integer: true, min: 1, help: 'tasks run at once by this worker (default 1; a GPU worker: 1 per GPU)' },
  'exit-when-idle': { type: 'boolean', help: 'exit once the queue has nothing waiting, delayed or running' },
};

export const help = formatHelp(
  'mmcurate worker --redis URL [--queue NAME] [--concurrency C] [--exit-when-idle]',
  'Runs the tasks of pipelines enqueued with `mmcurate run ... --executor queue`. Each task runs in its own process; a task failing every attempt is written to DIR/_tasks/<step>/<rank>.failed.json. Exit code: 0, or 1 when a task failed for good while this worker ran.',
  flags,
);

export function check(argv: string[]): void {
  const p = parseFlagsOnly(argv, flags, 'worker', 'the worker takes only flags');
  if (!p.help) checkRedisUrl(required(p, 'redis', 'worker'));
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'task-child.js');

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} worker ${process.pid}: ${line}\n`);
}

/** Runs one task in a child process; resolves its exit code (a signal counts as failure). */
function runChild(d: TaskData, logFile: string, started: (pid: number | undefined) => void): Promise<{ code: number; signal: NodeJS.Signals | null }> {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(process.execPath, [CHILD, d.dir, d.step, String(d.rank), String(process.pid)], { stdio: ['ignore', fd, fd] });
    started(child.pid);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve({ code: code ?? 1, signal }));
    });
  } finally {
    closeSync(fd);
  }
}

/** The error line task-child.ts wrote last in a task's log (": " + message), or ''. */
function lastError(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n');
    for (let i = lines.length - 1; i >= 0 && i >= lines.length - 50; i--) {
      const m = /^mmcurate task .*? --rank \d+: (.*)$/.exec(lines[i]!);
      if (m) return `: ${m[1]}`;
    }
  } catch {
    // no log: the child never started
  }
  return '';
}

export async function run(argv: string[]): Promise<number> {
  const p = parseFlagsOnly(argv, flags, 'worker', 'the worker takes only flags');
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const url = required(p, 'redis', 'worker');
  const queueName = (p.flags.queue as string | undefined) ?? DEFAULT_QUEUE;
  const conn = connect(url);
  await ping(conn, url);
  let failedForGood = 0;
  let busy = 0;

  async function processTask(job: Job<TaskData>): Promise<void> {
    const d = job.data;
    const attempts = job.opts.attempts ?? DEFAULT_ATTEMPTS;
    const logFile = path.join(d.out, '_logs', d.stage, d.step, `${d.rank}.log`);
    const waited = ((Date.now() - job.timestamp) / 1000).toFixed(2);
    const { code, signal } = await runChild(d, logFile, (pid) => log(`start ${d.stage}/${d.step} rank ${d.rank} (try ${job.attemptsMade + 1} of ${attempts}, ${waited} s after enqueue, pid ${pid})`));
    if (code === 0 && !signal) {
      clearFailure(d.dir, d.step, d.rank);
      log(`done ${d.stage}/${d.step} rank ${d.rank}`);
      return;
    }
    const why = `task ${d.stage}/${d.step} rank ${d.rank} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${lastError(logFile)}; see ${logFile}`;
    const last = code === 2 || job.attemptsMade + 1 >= attempts;
    if (last) {
      failedForGood++;
      recordFailure(d.dir, d.step, d.rank, { error: why, attempts: job.attemptsMade + 1, backend: 'queue', log: logFile });
      log(`FAILED for good: ${why}`);
    } else log(`failed, will retry: ${why}`);
    // a usage error (bad spec, wrong pipeline) fails the same way every time
    throw code === 2 ? new UnrecoverableError(why) : new Error(why);
  }

  async function processGate(job: Job<GateData>): Promise<void> {
    const g = job.data;
    const s = g.steps[g.index]!;
    log(`step ${s.stage}/${s.step} finished (${s.ranks.length} task(s))`);
    if (g.index + 1 < g.steps.length) await addStep(conn, queueName, { ...g, index: g.index + 1 });
    else log(`pipeline in ${g.out} finished`);
  }

  const worker = new Worker(
    queueName,
    async (job: Job) => {
      busy++;
      try {
        if (job.name === 'gate') await processGate(job as Job<GateData>);
        else await processTask(job as Job<TaskData>);
      } finally {
        busy--;
      }
    },
    { connection: conn, concurrency: (p.flags.concurrency as number | undefined) ?? 1, lockDuration: LOCK_MS, stalledInterval: STALLED_MS, maxStalledCount: 2 },
  );
  worker.on('error', (err) => log(`error: ${errorMessage(err)}`));
  worker.on('stalled', (id) => log(`job ${id} lost its worker; queued again`));
  worker.on('failed', (job, err) => {
    // a task whose worker died more than maxStalledCount times never reaches processTask's report
    if (job && job.name === 'task' && /stalled/i.test(err.message)) {
      const d = job.data as TaskData;
      failedForGood++;
      recordFailure(d.dir, d.step, d.rank, { error: err.message, attempts: job.attemptsStarted, backend: 'queue' });
      log(`FAILED for good: ${d.stage}/${d.step} rank ${d.rank}: ${err.message}`);
    }
  });
  log(`serving queue "${queueName}" at ${url}`);

  const onSignal = (sig: string) => {
    log(`${sig}: finishing the running task(s), then exiting`);
    void worker.close();
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  let timer: NodeJS.Timeout | undefined;
  const queue = p.flags['exit-when-idle'] ? openQueue(conn, queueName) : undefined;
  const stopped = new Promise<void>((resolve) => {
    worker.once('closed', () => {
      clearInterval(timer);
      resolve();
    });
    if (queue) {
      let idleChecks = 0;
      timer = setInterval(() => {
        void queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children').then((c) => {
          const open = Object.values(c).reduce((a, b) => a + b, 0);
          // two quiet checks in a row: a gate adding the next step is itself active until it has
          idleChecks = open === 0 && busy === 0 ? idleChecks + 1 : 0;
          if (idleChecks >= 2) {
            clearInterval(timer);
            log('queue idle; exiting');
            void worker.close();
          }
        }, (err: unknown) => log(`error: ${errorMessage(err)}`));
      }, 1000);
    }
  });
  await stopped;
  await queue?.close();
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  conn.disconnect();
  return failedForGood ? 1 : 0;
}
