/**
 * Plans on disk: `DIR/_plan/stage.json` (the command and argv that made the stage, its steps, --tasks) and
 * `DIR/_plan/<step>.json` (the step's full plan). They are written before any task runs; every task, here
 * or on another machine, reads its work from them. A plan is compared with the one already there by its
 * identity — the spec without the keys that only say how to run, with paths under the run's folder made
 * relative — so `--workers 2` resumes a `--workers 1` run, and moving a whole output folder keeps it.
 */
import path from 'node:path';
import { readTextSync } from '../storage/sync.js';
import { workDir } from '../storage/outdir.js';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import type { StepDecl, StepPlan } from './contract.js';
import { writeDurable } from '../write/atomic.js';

export interface StageRecord {
  mmcurate: string;
  command: string;
  argv: string[] | null;
  tasks?: number;
  steps: StepDecl[];
}

export interface PlanFile extends StepPlan {
  mmcurate: string;
  stage: string;
}

export function planDir(dir: string): string {
  return path.join(dir, '_plan');
}

export function planPath(dir: string, step: string): string {
  return path.join(planDir(dir), `${step}.json`);
}

export function stageRecordPath(dir: string): string {
  return path.join(planDir(dir), 'stage.json');
}

export function readStageRecord(dir: string): StageRecord | undefined {
  const f = stageRecordPath(dir);
  const text = readTextSync(f);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as StageRecord;
  } catch (err) {
    throw new UsageError(`${f} is not readable JSON (${(err as Error).message}); delete ${planDir(dir)} to plan the stage again`);
  }
}

export function writeStageRecord(dir: string, rec: Omit<StageRecord, 'mmcurate'>): void {
  writeDurable(stageRecordPath(dir), JSON.stringify({ mmcurate: VERSION, ...rec }, null, 2) + '\n');
}

export function readPlan(dir: string, step: string): PlanFile | undefined {
  const f = planPath(dir, step);
  const text = readTextSync(f);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as PlanFile;
  } catch (err) {
    throw new UsageError(`${f} is not readable JSON (${(err as Error).message}); delete it to plan the step again`);
  }
}

/** Absolute paths under root become `<root>/relative`, so the identity survives moving the whole run. */
function normalise(v: unknown, root: string): unknown {
  if (typeof v === 'string') {
    if (path.isAbsolute(v) && (v === root || v.startsWith(root + path.sep))) return `<root>/${path.relative(root, v)}`;
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => normalise(x, root));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) o[k] = normalise((v as Record<string, unknown>)[k], root);
    return o;
  }
  return v;
}

/** What a step computes: world, module and spec minus its `how` keys. */
export function identity(p: StepPlan, root: string): unknown {
  // a deep copy, then each `how` key (dotted: `model.workers`) removed
  const spec = p.spec === undefined ? undefined : (JSON.parse(JSON.stringify(p.spec)) as unknown);
  for (const key of p.how ?? []) {
    const parts = key.split('.');
    let o = spec as Record<string, unknown> | undefined;
    for (const k of parts.slice(0, -1)) o = o && typeof o[k] === 'object' ? (o[k] as Record<string, unknown>) : undefined;
    if (o && typeof o === 'object') delete o[parts[parts.length - 1]!];
  }
  return normalise({ world: p.world, module: p.module, spec }, root);
}

/** The first few places where two JSON values differ, as `a.b[2]: X -> Y`. */
export function differences(a: unknown, b: unknown, at = '', out: string[] = []): string[] {
  if (out.length >= 3) return out;
  if (JSON.stringify(a) === JSON.stringify(b)) return out;
  const obj = (x: unknown) => x !== null && typeof x === 'object';
  if (obj(a) && obj(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    if (Array.isArray(a) && (a as unknown[]).length !== (b as unknown[]).length) {
      out.push(`${at || '(top)'}: ${(a as unknown[]).length} entries -> ${(b as unknown[]).length}`);
      return out;
    }
    for (const k of keys) differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${at}[${k}]` : at ? `${at}.${k}` : k, out);
    return out;
  }
  const show = (x: unknown) => (x === undefined ? 'absent' : JSON.stringify(x)?.slice(0, 80));
  out.push(`${at || '(top)'}: ${show(a)} -> ${show(b)}`);
  return out;
}

/**
 * Persists a stage's plans before any task runs. A plan already there with another identity means the
 * folder holds a different run: refused (exit 2) naming the difference. One with the same identity is
 * rewritten, so its `how` keys follow the latest command.
 */
export function savePlans(dir: string, stage: string, plans: StepPlan[]): void {
  // a bucket's plans name paths in the local work folder the tasks write into (storage/outdir.ts)
  const root = path.dirname(path.resolve(workDir(dir)));
  for (const p of plans) {
    const old = readPlan(dir, p.step);
    if (old) {
      const diff = differences(identity(old, root), identity(p, root));
      if (diff.length) {
        throw new UsageError(
          `${dir} holds the output of a different ${stage} run (step ${p.step}: ${diff.join('; ')}); choose another --out, or delete ${dir} to start over`,
        );
      }
    }
  }
  for (const p of plans) {
    const file: PlanFile = { mmcurate: VERSION, stage, ...p };
    writeDurable(planPath(dir, p.step), JSON.stringify(file) + '\n');
  }
}
