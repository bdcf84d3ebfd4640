/**
 * The local executor: a stage is `world` independent tasks (see ../shared/DESIGN.md). Each task writes its
 * outputs atomically and then a completion marker holding its stats; a re-run skips ranks whose marker
 * exists, and the task count is recorded so a re-run cuts the work the same way. Tasks run on a pool of
 * worker threads (or in-process for one worker), so a cluster backend can later run the same task modules.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RunError, UsageError } from '../errors.js';
import { assertOutFolder, removeStaleTemps, writeJsonAtomic } from '../write/atomic.js';
import type { ShardInfo } from '../write/shard-writer.js';
import type { Stats } from '../write/accounting.js';
import type { Progress } from './progress.js';

export interface TaskContext {
  rank: number;
  world: number;
  outDir: string;
  /** Progress: units toward the stage total (bytes, rows) and records handled. */
  report(units: number, records: number): void;
}

export interface TaskOutput {
  shards: ShardInfo[];
  rejects?: { path: string; rows: number };
  stats: Stats;
  /** Stage-specific summary (per-step counts, score histograms...) merged by the stage. */
  extra?: Record<string, unknown>;
}

export interface TaskResult extends TaskOutput {
  rank: number;
}

/** A task module exports `runTask(spec, ctx)`; it must be importable in a worker thread. */
export type TaskFn<S> = (spec: S, ctx: TaskContext) => Promise<TaskOutput>;

export interface StageOptions<S> {
  outDir: string;
  stage: string;
  world: number;
  workers: number;
  /** URL of the compiled module exporting runTask (use `import.meta.url` of the task file). */
  taskModule: string;
  spec: S;
  progress?: Progress;
}

function pad(rank: number): string {
  return String(rank).padStart(5, '0');
}

export function markerPath(outDir: string, stage: string, rank: number): string {
  return path.join(outDir, '_tasks', stage, `${pad(rank)}.done.json`);
}

function specHash(spec: unknown): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

export async function runStage<S>(o: StageOptions<S>): Promise<TaskResult[]> {
  assertOutFolder(o.outDir);
  const dir = path.join(o.outDir, '_tasks', o.stage);
  mkdirSync(dir, { recursive: true });
  removeStaleTemps(o.outDir);
  const planFile = path.join(dir, 'plan.json');
  const hash = specHash(o.spec);
  let world = o.world;
  if (existsSync(planFile)) {
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as { world: number; spec: string };
    if (plan.spec !== hash) {
      throw new UsageError(`${o.outDir} holds the output of a different ${o.stage} run (other inputs or options); choose another --out or delete it`);
    }
    world = plan.world;
  } else {
    writeJsonAtomic(planFile, { stage: o.stage, world, spec: hash });
  }
  const pending: number[] = [];
  for (let r = 0; r < world; r++) if (!existsSync(markerPath(o.outDir, o.stage, r))) pending.push(r);
  if (pending.length < world) process.stderr.write(`${o.stage}: resuming, ${world - pending.length} of ${world} task(s) already done\n`);

  const queue = [...pending];
  const errors: unknown[] = [];
  // workers: 1 means in-process (stages that keep a model or an index loaded across tasks ask for it);
  // otherwise each lane keeps one worker thread for all the tasks it takes
  const lanes = Array.from({ length: Math.max(1, Math.min(o.workers, queue.length)) }, async () => {
    const lane = o.workers <= 1 ? undefined : new Lane(o.taskModule, o.spec, world, o.outDir, (u, n) => o.progress?.tick(u, n));
    try {
      for (let r = queue.shift(); r !== undefined && errors.length === 0; r = queue.shift()) {
        try {
          const ctx = { rank: r, world, outDir: o.outDir, report: (u: number, n: number) => o.progress?.tick(u, n) };
          const out = lane ? await lane.run(r) : await runInProcess(o.taskModule, o.spec, ctx);
          writeJsonAtomic(markerPath(o.outDir, o.stage, r), { rank: r, ...out });
        } catch (err) {
          errors.push(err);
        }
      }
    } finally {
      await lane?.close();
    }
  });
  await Promise.all(lanes);
  if (errors.length) throw errors[0];
  const results: TaskResult[] = [];
  for (let r = 0; r < world; r++) results.push(JSON.parse(readFileSync(markerPath(o.outDir, o.stage, r), 'utf8')) as TaskResult);
  return results;
}

async function runInProcess<S>(moduleUrl: string, spec: S, ctx: TaskContext): Promise<TaskOutput> {
  const mod = (await import(moduleUrl)) as { runTask: TaskFn<S> };
  return mod.runTask(spec, ctx);
}

const WORKER = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js'));

/** One worker thread that runs a stage's tasks one after another (see worker.ts). */
class Lane {
  private readonly worker: Worker;
  private current?: { rank: number; resolve: (r: TaskOutput) => void; reject: (e: unknown) => void };
  private exited = false;

  constructor(moduleUrl: string, spec: unknown, world: number, outDir: string, report: (units: number, records: number) => void) {
    // the same young-generation size as the main thread (bin/mmcurate): records are short-lived garbage
    this.worker = new Worker(WORKER, { workerData: { moduleUrl, spec, world, outDir }, resourceLimits: { maxYoungGenerationSizeMb: 192 } });
    this.worker.on('message', (m: { type: string; rank?: number; units?: number; records?: number; result?: TaskOutput; message?: string; exitCode?: number }) => {
      if (m.type === 'progress') return report(m.units!, m.records!);
      const c = this.current;
      if (!c || c.rank !== m.rank) return;
      this.current = undefined;
      if (m.type === 'done') c.resolve(m.result!);
      else c.reject(m.exitCode === 2 ? new UsageError(m.message!) : new RunError(m.message!));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new RunError(`a worker running task ${this.current?.rank ?? '?'} of ${world} exited with code ${code} before finishing`));
    });
  }

  run(rank: number): Promise<TaskOutput> {
    if (this.exited) return Promise.reject(new RunError(`the worker for task ${rank} is gone`));
    return new Promise((resolve, reject) => {
      this.current = { rank, resolve, reject };
      this.worker.postMessage({ type: 'run', rank });
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.worker.once('exit', r));
    this.worker.postMessage({ type: 'exit' });
    await gone;
  }

  private fail(e: unknown): void {
    const c = this.current;
    this.current = undefined;
    c?.reject(e);
  }
}
