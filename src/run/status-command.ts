/**
 * `mmcurate status OUT`: per stage and step, ranks done / failed / running / total, rows per second and an
 * ETA, and the log of each failed rank. It reads the plans and markers only, so it answers the same
 * whichever backend runs the tasks.
 */
import { existsSync as fsExists, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bool, formatHelp, num, parseArgs, type Flags } from '../cli/args.js';
import { failedPath, markerState, runningPath } from './markers.js';
import { pidAlive } from '../util/pid.js';
import { readPlan, readStageRecord } from './plan.js';
import { isRemote, join, resolve } from '../storage/location.js';
import { existsSync, listSync, readTextSync } from '../storage/sync.js';

const flags: Flags = {
  json: { type: 'boolean', help: 'print the status as JSON' },
  wait: { type: 'boolean', help: 'wait until every task is done or one failed for good' },
  interval: { type: 'number', above: 0, help: 'seconds between checks with --wait (default 10)' },
};

export const help = formatHelp(
  'mmcurate status OUT [--json] [--wait]',
  'Progress of a run (a pipeline --out, or one stage folder) from its plans and markers. Exit 0: all done; 1: a task failed for good; 3: work remains.',
  flags,
);

export function check(argv: string[]): void {
  parseArgs(argv, flags, 'status');
}

export interface StepStatus {
  stage: string;
  step: string;
  total: number | null;
  done: number;
  failed: number[];
  running: number;
  rows: number;
  rowsPerSecond: number | null;
  etaSeconds: number | null;
  logs: string[];
}

/** Stage folders of OUT: itself when it is one, else its subfolders in the pipeline's order. */
function stageDirs(out: string): { name: string; dir: string }[] {
  if (readStageRecord(out)) return [{ name: path.posix.basename(out), dir: out }];
  // through storage: OUT may be a bucket prefix (--out s3://…)
  const pipeline = readTextSync(join(out, '_pipeline.json'));
  if (pipeline !== undefined) {
    const p = JSON.parse(pipeline) as { stages: { name: string }[] };
    return p.stages.map((s) => ({ name: s.name, dir: join(out, s.name) }));
  }
  if (isRemote(out)) {
    // one listing: the stage folders are those holding _plan/stage.json
    const names = listSync(out)
      .map((e) => e.loc.slice(join(out).length + 1))
      .filter((k) => /^[^/]+\/_plan\/stage\.json$/.test(k))
      .map((k) => k.split('/')[0]!);
    if (!names.length) throw new UsageError(`${out} holds no run (no stage folders with _plan/stage.json)`);
    return names.sort().map((n) => ({ name: n, dir: join(out, n) }));
  }
  if (!fsExists(out)) throw new UsageError(`${out} does not exist`);
  return readdirSync(out)
    .filter((n) => fsExists(path.join(out, n, '_plan', 'stage.json')))
    .sort()
    .map((n) => ({ name: n, dir: path.join(out, n) }));
}

function isRunning(file: string): boolean {
  try {
    const text = readTextSync(file);
    if (text === undefined) return false;
    const r = JSON.parse(text) as { host: string; pid: number };
    if (r.host === os.hostname()) return pidAlive(r.pid);
    // a bucket keeps no mtime we read here: a marker of another host counts as running
    if (isRemote(file)) return true;
    return Date.now() - statSync(file).mtimeMs < 24 * 3600 * 1000;
  } catch {
    return false;
  }
}

export function runStatus(out: string): StepStatus[] {
  const res: StepStatus[] = [];
  for (const { name, dir } of stageDirs(resolve(out))) {
    const rec = readStageRecord(dir);
    const steps = rec?.steps ?? [];
    for (const s of steps) {
      const plan = readPlan(dir, s.name);
      const world = plan?.world ?? (s.global ? 1 : rec?.tasks ?? null);
      let done = 0, running = 0, rows = 0, secs = 0;
      const failed: number[] = [];
      const logs: string[] = [];
      for (let r = 0; world !== null && r < world; r++) {
        const m = markerState(dir, s.name, r);
        if (m.state === 'done' || m.state === 'consumed') {
          done++;
          rows += Object.values(m.result.stats).reduce((a, x) => a + x.read, 0);
          secs += m.result.seconds ?? 0;
          continue;
        }
        if (existsSync(failedPath(dir, s.name, r))) {
          failed.push(r);
          const f = JSON.parse(readTextSync(failedPath(dir, s.name, r)) ?? '{}') as { log?: string };
          logs.push(f.log ?? path.join(path.dirname(dir), '_logs', name, s.name, `${r}.log`));
        } else if (isRunning(runningPath(dir, s.name, r))) running++;
      }
      const perTask = done > 0 ? secs / done : null;
      const left = world === null ? null : world - done - failed.length;
      const lanes = Math.max(1, running);
      res.push({
        stage: name,
        step: s.name,
        total: world,
        done,
        failed,
        running,
        rows,
        rowsPerSecond: secs > 0 && rows > 0 ? Math.round(rows / secs) : null,
        etaSeconds: perTask !== null && left !== null ? Math.round((left * perTask) / lanes) : null,
        logs,
      });
    }
  }
  return res;
}

function code(st: StepStatus[]): number {
  if (st.some((s) => s.failed.length)) return 1;
  return st.length > 0 && st.every((s) => s.total !== null && s.done === s.total) ? 0 : 3;
}

function table(st: StepStatus[]): string {
  const lines = ['stage      step       done/total  failed  running  rows/s    eta'];
  for (const s of st) {
    lines.push(
      `${s.stage.padEnd(10)} ${s.step.padEnd(10)} ${`${s.done}/${s.total ?? '?'}`.padStart(10)}  ${String(s.failed.length).padStart(6)}  ${String(s.running).padStart(7)}  ${String(s.rowsPerSecond ?? '-').padStart(7)}  ${s.etaSeconds === null ? '-' : `${s.etaSeconds} s`}`,
    );
    for (const [i, r] of s.failed.entries()) lines.push(`  failed: ${s.stage}/${s.step} rank ${r}: log ${s.logs[i]}`);
  }
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const p = parseArgs(argv, flags, 'status');
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const out = p.positional[0];
  if (!out || p.positional.length > 1) throw new UsageError('mmcurate status: give one output folder, e.g. mmcurate status out/');
  const every = (num(p, 'interval') ?? 10) * 1000;
  for (;;) {
    const st = runStatus(out);
    const c = code(st);
    if (!bool(p, 'wait') || c !== 3) {
      process.stdout.write(bool(p, 'json') ? JSON.stringify({ steps: st, exit: c }, null, 2) + '\n' : table(st));
      return c;
    }
    await new Promise((r) => setTimeout(r, every));
  }
}
