/**
 * The local backend of the stage contract: plans a stage (plan.ts), then runs every step's pending ranks
 * on this machine, on a pool of worker threads or in-process. Slurm, the Redis queue and Kubernetes run
 * the same tasks through `mmcurate task` (task.ts); all of them decide "done" with markers.ts.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RunError, UsageError } from '../errors.js';
import { assertOutFolder, sweepTemps } from '../write/atomic.js';
import type { StageDef, StepPlan, TaskContext, TaskFn, TaskOutput } from './contract.js';
import { acquireLock } from './lock.js';
import { markerPath, markerState, writeMarker, runningPath } from './markers.js';
import * as storage from '../storage/index.js';
import { fetchFiles, finish, openWorkDir, publish, workDir } from '../storage/outdir.js';
import { existsSync as storageExists, putSync, readTextSync, removeSync } from '../storage/sync.js';
import { savePlans, writeStageRecord } from './plan.js';
import { Progress } from './progress.js';


const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The URL of a plan's task module (`ingest/task.js` → file:///…/dist/src/ingest/task.js). */
export function moduleUrl(module: string): string {
  return pathToFileURL(path.join(SRC, module)).href;
}

export interface LocalOptions {
  /** `--tasks N`: the world of every parallel step. */
  tasks?: number;
  /** Parallel lanes for steps that allow several (default: the CPU count). */
  workers?: number;
  quiet?: boolean;
  /** The command line recorded in the manifest. */
  command: string[];
  /** The argv the options were parsed from (recorded, so `mmcurate task` can plan the stage elsewhere); null for a library call. */
  argv?: string[] | null;
}

/**
 * Which ranks of each step must run: every rank without a valid marker, and — walking back from the last
 * step — the ranks of a step whose intermediate files a step that runs reads but which are gone.
 */
export function pendingWork(dir: string, plans: readonly StepPlan[], log?: (s: string) => void): number[][] {
  const index = new Map(plans.map((p, i) => [p.step, i]));
  const demanded = new Set<number>([plans.length - 1]);
  const toRun: number[][] = plans.map(() => []);
  for (let i = plans.length - 1; i >= 0; i--) {
    const p = plans[i]!;
    for (let r = 0; r < p.world; r++) {
      const s = markerState(dir, p.step, r);
      if (s.state === 'done') continue;
      if (s.state === 'consumed' && !demanded.has(i)) continue;
      if (s.state === 'torn') log?.(`warning: ${s.why}`);
      if (s.state === 'lost') log?.(`${p.step} task ${r}: ${s.missing} is gone; its task runs again`);
      toRun[i]!.push(r);
    }
    if (toRun[i]!.length) for (const n of p.needs ?? []) if (index.has(n)) demanded.add(index.get(n)!);
  }
  return toRun;
}

/** Plans a stage and runs it here; returns the plans (the last step has written manifest.json). */
export async function runLocal<O>(def: StageDef<O>, opts: O, o: LocalOptions): Promise<StepPlan[]> {
  const dir = def.out(opts);
  assertOutFolder(dir);
  // a bucket prefix (--out s3://…): tasks write into a local work folder, uploaded as they finish (storage/outdir.ts)
  const work = openWorkDir(dir);
  const existed = storage.isRemote(dir) ? storageExists(storage.join(dir, '_plan', 'stage.json')) : existsSync(dir);
  const lock = acquireLock(dir, o.command.join(' '));
  let failedUsage = false;
  const restore = def.setup?.();
  try {
    sweepTemps(work);
    // credentials in a URL given on the command line never reach a manifest
    const plans = await def.plan(opts, { dir: work, tasks: o.tasks, command: o.command.map(storage.redact), quiet: o.quiet });
    savePlans(dir, def.command, plans);
    writeStageRecord(dir, { command: def.command, argv: o.argv ?? null, ...(o.tasks ? { tasks: o.tasks } : {}), steps: def.steps(opts) });
    await pendingAndRun(dir, def.command, plans, o);
    return plans;
  } catch (err) {
    failedUsage = (err as { exitCode?: number }).exitCode === 2;
    throw err;
  } finally {
    await restore?.();
    lock.release();
    // a run refused for its inputs or options leaves no folder it made (nothing there is worth resuming)
    if (failedUsage && !existed) rmSync(work, { recursive: true, force: true });
  }
}

/** Runs every pending rank of the plans, step after step, on this machine. */
export async function pendingAndRun(dir: string, label: string, plans: StepPlan[], o: { workers?: number; quiet?: boolean }): Promise<void> {
  const log = (s: string) => void (o.quiet ? undefined : process.stderr.write(s + '\n'));
  const work = pendingWork(dir, plans, log);
  const total = plans.reduce((a, p) => a + p.world, 0);
  // the last step merges every marker (the manifest): when anything before it runs, it runs again too
  const last = work[work.length - 1]!;
  if (work.slice(0, -1).some((w) => w.length) && !last.length) last.push(0);
  const left = work.reduce((a, w) => a + w.length, 0);
  if (left === 0) log(`${label}: ${dir} is complete (${total} task(s) done); nothing to run`);
  else if (left < total) log(`${label}: resuming, ${total - left} of ${total} task(s) already done`);
  const ranked = plans.filter((p) => p.total !== undefined).length;
  for (const [i, p] of plans.entries()) {
    const ranks = work[i]!;
    if (!ranks.length) continue;
    const progress = p.total !== undefined ? new Progress(ranked > 1 ? `${label} ${p.step}` : label, p.total, p.unit ?? 'rows', o.quiet) : undefined;
    await fetchFiles(dir, neededFiles(dir, plans, p));
    await runRanks(dir, p, ranks, o.workers ?? os.availableParallelism(), progress);
    progress?.finish();
  }
  if (storage.isRemote(dir)) await finish(dir, neededFiles(dir, plans, { needs: plans.map((p) => p.step) }));
}

/** The intermediate files of the steps a step needs, from their markers (remote output folders fetch them). */
function neededFiles(dir: string, plans: readonly StepPlan[], p: { needs?: string[] }): string[] {
  if (!storage.isRemote(dir)) return [];
  const out: string[] = [];
  for (const q of plans) {
    if (!(p.needs ?? []).includes(q.step)) continue;
    for (let r = 0; r < q.world; r++) {
      // the marker alone (no size checks: pendingWork has just made them)
      const text = readTextSync(markerPath(dir, q.step, r));
      if (text === undefined) continue;
      try {
        out.push(...((JSON.parse(text) as TaskOutput).files ?? []));
      } catch {
        // torn: its task runs again and writes a new one
      }
    }
  }
  return out;
}

/** Runs one task of a plan in this process and records its marker. */
export async function runTaskHere(dir: string, plan: StepPlan, rank: number, report: TaskContext['report'] = () => undefined): Promise<void> {
  startRunning(dir, plan.step, rank);
  const t0 = performance.now();
  let out: TaskOutput;
  try {
    const mod = (await import(moduleUrl(plan.module))) as { runTask: TaskFn<unknown> };
    out = await mod.runTask(plan.spec, { rank, world: plan.world, outDir: workDir(dir), report });
    await publish(dir, out);
  } catch (err) {
    // not running any more: status must not count it (a racing copy may have finished it meanwhile)
    removeSync(runningPath(dir, plan.step, rank));
    throw err;
  }
  writeMarker(dir, plan.step, rank, out, (performance.now() - t0) / 1000);
}

/** Advisory (status shows it): a plain write, no fsync, so a task pays for one durable file, its marker. */
function startRunning(dir: string, step: string, rank: number): void {
  const file = runningPath(dir, step, rank);
  const text = JSON.stringify({ host: os.hostname(), pid: process.pid, since: new Date().toISOString() }) + '\n';
  if (storage.isRemote(dir)) return putSync(file, text);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

async function runRanks(dir: string, plan: StepPlan, ranks: number[], workers: number, progress?: Progress): Promise<void> {
  const queue = [...ranks];
  const errors: unknown[] = [];
  const lanes = Math.max(1, Math.min(plan.lanes ?? workers, workers, queue.length));
  const report = (u: number, n: number) => progress?.tick(u, n);
  // lanes 1 means in-process (stages that keep a model or an index loaded across tasks ask for it);
  // otherwise each lane keeps one worker thread for all the tasks it takes
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      const lane = lanes <= 1 ? undefined : new Lane(moduleUrl(plan.module), plan.spec, plan.world, workDir(dir), report);
      try {
        for (let r = queue.shift(); r !== undefined && errors.length === 0; r = queue.shift()) {
          try {
            if (!lane) {
              await runTaskHere(dir, plan, r, report);
              continue;
            }
            startRunning(dir, plan.step, r);
            const t0 = performance.now();
            const out = await lane
              .run(r)
              .then(async (o) => (await publish(dir, o), o))
              .catch((err: unknown) => {
                removeSync(runningPath(dir, plan.step, r));
                throw err;
              });
            writeMarker(dir, plan.step, r, out, (performance.now() - t0) / 1000);
          } catch (err) {
            errors.push(err);
          }
        }
      } finally {
        await lane?.close();
      }
    }),
  );
  if (errors.length) throw errors[0];
}

const WORKER = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js'));

/** One worker thread that runs a step's tasks one after another (see worker.ts). */
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
