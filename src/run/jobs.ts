/**
 * What a cluster backend needs from the contract: the steps of a pipeline as jobs (known from the command
 * lines alone, before any data is read, since `--tasks N` fixes every parallel step's world), the ranks
 * still to do, and the one command that runs a task. A task plans its stage itself when it is the first
 * to run (plans are deterministic, so two tasks planning at once write the same bytes).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RunError, UsageError } from '../errors.js';
import { loadPipeline, stageArgv } from '../pipeline/load.js';
import type { StepPlan } from './contract.js';
import { runTaskHere } from './executor.js';
import { markerState } from './markers.js';
import { differences, readPlan, readStageRecord, savePlans, writeStageRecord } from './plan.js';
import { isStage, stageDef } from './stages.js';
import { writeDurable } from '../write/atomic.js';

export interface StepJob {
  stage: string;
  step: string;
  world: number;
  global: boolean;
  gpu: boolean;
  /** Absolute stage output folder (OUT/<stage>). */
  dir: string;
}

/** Stages that take --tasks (their ranked steps); audit is one global check. */
const TAKES_TASKS = new Set(['ingest', 'score', 'coreset', 'mix', 'export', 'filter', 'dedup', 'download']);

/** The argv a pipeline stage runs with, `--tasks N` added where the stage has ranked steps. */
export function withTasks(command: string, argv: string[], tasks: number | undefined): string[] {
  return tasks !== undefined && TAKES_TASKS.has(command) && !argv.some((a) => a === '--tasks' || a.startsWith('--tasks=')) ? [...argv, `--tasks=${tasks}`] : argv;
}

/**
 * Every step of a pipeline in order (each waits for all before it). Records OUT/_pipeline.json and each
 * stage's `_plan/stage.json`; an OUT that holds another pipeline is refused. Audit stages are not jobs:
 * `skipped` names them, to run with `mmcurate audit` once the rest is done.
 */
export async function pipelineJobs(file: string, out: string, tasks: number): Promise<StepJob[] & { skipped?: string[]; after?: string[] }> {
  const p = loadPipeline(file);
  const root = path.resolve(out);
  const jobs: StepJob[] & { skipped?: string[]; after?: string[] } = [];
  const after: string[] = [];
  const stages: { name: string; command: string; argv: string[] }[] = [];
  const skipped: string[] = [];
  for (let i = 0; i < p.stages.length; i++) {
    const s = p.stages[i]!;
    if (!isStage(s.stage)) {
      skipped.push(s.name);
      after.push(['mmcurate', s.stage, ...stageArgv(p, i, file, root)].join(' '));
      continue;
    }
    const argv = withTasks(s.stage, stageArgv(p, i, file, root), tasks);
    const def = await stageDef(s.stage);
    let opts: unknown;
    try {
      opts = def.parse(argv);
    } catch (err) {
      throw new UsageError(`${file}: /stages/${i} (${s.name}): ${(err as Error).message}`);
    }
    const dir = path.join(root, s.name);
    stages.push({ name: s.name, command: s.stage, argv });
    for (const d of def.steps(opts)) jobs.push({ stage: s.name, step: d.name, world: d.global ? 1 : tasks, global: d.global, gpu: !!d.gpu, dir });
  }
  const record = { pipeline: p.name, tasks, stages };
  const pf = path.join(root, '_pipeline.json');
  if (existsSync(pf)) {
    const old = JSON.parse(readFileSync(pf, 'utf8')) as unknown;
    const diff = differences(old, record);
    if (diff.length) throw new UsageError(`${out} holds another pipeline run (${diff.join('; ')}); choose another --out, or delete it to start over`);
  }
  writeDurable(pf, JSON.stringify(record, null, 2) + '\n');
  for (const s of stages) {
    const dir = path.join(root, s.name);
    const def = await stageDef(s.command);
    const rec = readStageRecord(dir);
    if (rec?.argv && differences(rec.argv, s.argv).length) throw new UsageError(`${dir} was made by another command (${differences(rec.argv, s.argv).join('; ')}); delete it to start over`);
    writeStageRecord(dir, { command: s.command, argv: s.argv, tasks, steps: def.steps(def.parse(s.argv)) });
  }
  if (skipped.length) {
    jobs.skipped = skipped;
    jobs.after = after;
  }
  return jobs;
}

/** Ranks of a step without a valid marker (all of them while the stage is not planned yet). */
export function pendingRanks(job: StepJob): number[] {
  const world = readPlan(job.dir, job.step)?.world ?? job.world;
  const out: number[] = [];
  for (let r = 0; r < world; r++) {
    const s = markerState(job.dir, job.step, r);
    if (s.state !== 'done' && s.state !== 'consumed') out.push(r);
  }
  return out;
}

/** The argv after `mmcurate` that runs one task; without a rank it comes from the environment. */
export function taskArgv(job: StepJob, rank?: number): string[] {
  return ['task', job.dir, '--step', job.step, ...(rank === undefined ? [] : ['--rank', String(rank)])];
}

/** The stage's plans, made here from its recorded command line when no task has made them yet. */
export async function ensurePlans(dir: string): Promise<StepPlan[]> {
  const rec = readStageRecord(dir);
  if (!rec) throw new UsageError(`${dir} has no plan (_plan/stage.json): start the run with \`mmcurate run PIPELINE --out DIR --executor ...\` first`);
  const have = rec.steps.map((s) => readPlan(dir, s.name));
  if (have.every((p) => p)) return have as StepPlan[];
  if (!rec.argv) throw new UsageError(`${dir}: the stage was started from the library API; its plans are missing and cannot be made again here`);
  const def = await stageDef(rec.command);
  const plans = await def.plan(def.parse(rec.argv), { dir, tasks: rec.tasks, command: ['mmcurate', rec.command, ...rec.argv], quiet: true });
  savePlans(dir, rec.command, plans);
  return plans;
}

function hasAllPlans(dir: string): boolean {
  const rec = readStageRecord(dir);
  return !!rec && rec.steps.every((s) => readPlan(dir, s.name));
}

/**
 * The first stage before this one (in OUT/_pipeline.json's order) whose last step is not done, as a
 * sentence; '' when all are (or the stage is not part of a pipeline run).
 */
export function upstreamUnfinished(dir: string): string {
  const root = path.dirname(path.resolve(dir));
  const pf = path.join(root, '_pipeline.json');
  if (!existsSync(pf)) return '';
  const p = JSON.parse(readFileSync(pf, 'utf8')) as { stages: { name: string }[] };
  const at = p.stages.findIndex((s) => path.join(root, s.name) === path.resolve(dir));
  for (const s of p.stages.slice(0, Math.max(0, at))) {
    const up = path.join(root, s.name);
    const rec = readStageRecord(up);
    const last = rec?.steps[rec.steps.length - 1]?.name;
    if (!last || markerState(up, last, 0).state === 'missing' || markerState(up, last, 0).state === 'torn') return `stage ${s.name} has not finished`;
  }
  return '';
}

/** Unfinished ranks of the steps before `step` ('' when all are done). */
export function unfinishedBefore(dir: string, plans: StepPlan[], step: string): string {
  const at = plans.findIndex((p) => p.step === step);
  for (const p of plans.slice(0, at)) {
    const missing: number[] = [];
    for (let r = 0; r < p.world; r++) {
      const s = markerState(dir, p.step, r);
      const needed = plans[at]!.needs?.includes(p.step);
      if (s.state === 'done' || (s.state === 'consumed' && !needed)) continue;
      missing.push(r);
    }
    if (missing.length) return `step ${p.step} has ${missing.length} unfinished task(s) (ranks ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''})`;
  }
  return '';
}

/**
 * Runs one task of a stage here: plans the stage if needed, checks the steps before it are done (or
 * waits for them), then runs it unless its marker is already valid. Resolves when done.
 */
export async function runOneTask(dir: string, step: string, rank: number, o: { wait?: boolean; pollMs?: number; log?: (s: string) => void } = {}): Promise<'done' | 'already'> {
  // the stage is planned from the stages before it: with --wait, they must be complete first
  for (;;) {
    const why = o.wait && !hasAllPlans(dir) ? upstreamUnfinished(dir) : '';
    if (!why) break;
    await new Promise((r) => setTimeout(r, o.pollMs ?? 5000));
  }
  const plans = await ensurePlans(dir);
  const plan = plans.find((p) => p.step === step);
  if (!plan) throw new UsageError(`${dir}: no step "${step}" (steps: ${plans.map((p) => p.step).join(', ')})`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= plan.world) throw new UsageError(`--rank ${rank}: step ${step} has ranks 0 to ${plan.world - 1}`);
  const state = markerState(dir, step, rank);
  if (state.state === 'done') return 'already';
  for (;;) {
    const why = unfinishedBefore(dir, plans, step);
    if (!why) break;
    if (!o.wait) throw new RunError(`${dir}: cannot run ${step} task ${rank} yet: ${why}; run those first (or pass --wait)`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 5000));
  }
  const rec = readStageRecord(dir)!;
  const def = await stageDef(rec.command);
  const restore = def.setup?.();
  try {
    await runTaskHere(dir, plan, rank);
  } finally {
    await restore?.();
  }
  return 'done';
}
