/**
 * The stage contract (docs/ARCHITECTURE.md): a stage is a list of steps, each `world` rank tasks or one
 * global task. A stage declares its steps once; its plan (what every task needs, as JSON) is written to
 * `DIR/_plan/<step>.json` before any task runs, so any process on any machine cuts its work from that file.
 * This module holds the types every stage and every backend share; plan.ts, markers.ts and executor.ts
 * implement them.
 */
import type { ShardInfo } from '../write/shard-writer.js';
import type { Stats } from '../write/accounting.js';

export interface RejectFile {
  path: string;
  rows: number;
}

/** The rejects files of a task's output, as a list. */
export function rejectFiles(o: { rejects?: RejectFile | RejectFile[] }): RejectFile[] {
  return o.rejects === undefined ? [] : Array.isArray(o.rejects) ? o.rejects : [o.rejects];
}

export interface TaskContext {
  rank: number;
  world: number;
  /** The stage's output folder. */
  outDir: string;
  /** Progress: units toward the step total (bytes, rows) and records handled. */
  report(units: number, records: number): void;
}

export interface TaskOutput {
  /** Final outputs: Parquet shards, kept for good. */
  shards: ShardInfo[];
  /** One rejects file, or several when the task covered several parts (each keeps its part's name). */
  rejects?: RejectFile | RejectFile[];
  stats: Stats;
  /**
   * Intermediate files (relative to the stage folder) that later steps of the stage read: spilled buckets,
   * score files, centroids. They may be removed once the stage is done; a step that must run again then
   * makes the steps whose files it reads run again too.
   */
  files?: string[];
  /** Step-specific summary (per-step counts, score histograms...) merged by the stage's manifest step. */
  extra?: Record<string, unknown>;
}

/** What a completion marker holds: the task's output, the sizes of its files, and where it ran. */
export interface TaskResult extends TaskOutput {
  rank: number;
  sizes?: Record<string, number>;
  host?: string;
  seconds?: number;
}

/** A task module exports `runTask(spec, ctx)`; it must be importable in a worker thread or another process. */
export type TaskFn<S> = (spec: S, ctx: TaskContext) => Promise<TaskOutput>;

/** A step as declared, from the command line alone: what a cluster backend submits before any data is read. */
export interface StepDecl {
  name: string;
  /** One task (training, cuts, a manifest), or `world` rank tasks. */
  global: boolean;
  /** Runs a model or large products: a backend asks for a GPU. */
  gpu?: boolean;
}

/** A step's full plan, persisted to `_plan/<step>.json`. */
export interface StepPlan<S = unknown> {
  step: string;
  world: number;
  /** Task module, relative to the compiled `src/` folder (e.g. `ingest/task.js`). */
  module: string;
  spec: S;
  /**
   * Keys of `spec` that change how the work runs but not what it writes (threads, batch where results do
   * not depend on it, the device): they never make a re-run refuse a folder.
   */
  how?: string[];
  /** Earlier steps whose intermediate files (TaskOutput.files) this step reads. */
  needs?: string[];
  /**
   * Lanes of the local executor: 1 runs the tasks one after another in-process (a model or an index kept
   * loaded across tasks); more gives each lane a worker thread.
   */
  lanes?: number;
  /** Units the progress bar counts toward, and what they are. */
  total?: number;
  unit?: string;
}

export interface PlanContext {
  /** The stage's output folder. */
  dir: string;
  /** `--tasks N`: the world of every parallel step (undefined: each step's natural count). */
  tasks?: number;
  /** The command line that made this stage, recorded in its manifest. */
  command: string[];
  quiet?: boolean;
}

/** A stage as the contract sees it; `src/run/stages.ts` lists them. O is the command's parsed options. */
export interface StageDef<O = any> {
  /** The command name (ingest, score...). */
  command: string;
  /** The options from a command line (throws a UsageError); a task on another machine parses the recorded argv. */
  parse(argv: string[]): O;
  /** The stage's output folder. */
  out(o: O): string;
  /** The steps, from the options alone (no data read). The last one writes manifest.json. */
  steps(o: O): StepDecl[];
  /** Reads the stage's inputs (never its outputs) and plans every step, in the order of steps(). */
  plan(o: O, ctx: PlanContext): Promise<StepPlan[]>;
  /** Process-wide settings a stage's tasks want (libvips threads), restored afterwards. */
  setup?(): () => void | Promise<void>;
}

/** The world of a ranked step: `--tasks` when given, else its natural count (at least 1). */
export function worldOf(natural: number, tasks: number | undefined): number {
  return Math.max(1, tasks ?? natural);
}

/** The items (buckets) of rank r out of world: r, r + world, r + 2·world… (balanced, deterministic). */
export function strided(count: number, rank: number, world: number): number[] {
  const out: number[] = [];
  for (let i = rank; i < count; i += world) out.push(i);
  return out;
}

/**
 * Items in order, cut into `world` contiguous runs of about equal weight (bytes, rows): rank r's run comes
 * before rank r+1's, so the output read in rank order keeps the input's row order whatever the world —
 * which makes every later step, and a seeded sample over global rows, independent of --tasks.
 */
export function contiguous(weights: readonly number[], world: number): number[][] {
  const out: number[][] = Array.from({ length: world }, () => []);
  const w = weights.map((x) => Math.max(1, x));
  const total = w.reduce((a, x) => a + x, 0);
  let acc = 0;
  for (let i = 0; i < w.length; i++) {
    // the item goes to the rank its weight's midpoint falls in
    const r = Math.min(world - 1, Math.floor(((acc + w[i]! / 2) / total) * world));
    out[r]!.push(i);
    acc += w[i]!;
  }
  return out;
}

/**
 * Runs `one(item)` for each item a rank owns (parts, buckets) and merges the outputs: shards and rejects
 * side by side, stats summed, extras kept per item under `items`. Names inside stay per item, so the
 * bytes written do not depend on how many ranks share the items.
 */
export async function eachItem(items: number[], one: (item: number) => Promise<TaskOutput>): Promise<TaskOutput> {
  const out: TaskOutput = { shards: [], stats: {}, files: [] };
  const rejects: RejectFile[] = [];
  const extras: Record<string, unknown>[] = [];
  for (const it of items) {
    const o = await one(it);
    out.shards.push(...o.shards);
    rejects.push(...rejectFiles(o));
    out.files!.push(...(o.files ?? []));
    for (const [src, s] of Object.entries(o.stats)) {
      const t = (out.stats[src] ??= { read: 0, kept: 0, rejected: 0, rejected_by_reason: {} });
      t.read += s.read;
      t.kept += s.kept;
      t.rejected += s.rejected;
      for (const [k, n] of Object.entries(s.rejected_by_reason)) t.rejected_by_reason[k] = (t.rejected_by_reason[k] ?? 0) + n;
    }
    extras.push({ item: it, ...(o.extra ?? {}) });
  }
  if (rejects.length) out.rejects = rejects;
  out.extra = { items: extras };
  return out;
}
