/**
 * Completion markers, the one place that decides whether a task is done. A marker is written last, after
 * every output of its task is renamed into place, and fsynced like the shards. It counts only while it
 * parses and the outputs it names are there with their recorded sizes: a torn marker, or one whose shard
 * was lost, is named and its task redone.
 */
import os from 'node:os';
import path from 'node:path';
import { writeDurable } from '../write/atomic.js';
import { isRemote, join } from '../storage/location.js';
import { readTextSync, removeSync, sizeSync } from '../storage/sync.js';
import { markersDir, workDir } from '../storage/outdir.js';
import { rejectFiles, type TaskOutput, type TaskResult } from './contract.js';

export function pad(rank: number): string {
  return String(rank).padStart(5, '0');
}

export function stepDir(dir: string, step: string): string {
  return path.join(dir, '_tasks', step);
}

export function markerPath(dir: string, step: string, rank: number): string {
  return path.join(stepDir(dir, step), `${pad(rank)}.done.json`);
}

/** Written by a backend when a task failed for good (attempts spent): status shows it. */
export function failedPath(dir: string, step: string, rank: number): string {
  return path.join(stepDir(dir, step), `${pad(rank)}.failed.json`);
}

/** Written when a task starts: status shows it as running while its process lives. */
export function runningPath(dir: string, step: string, rank: number): string {
  return path.join(stepDir(dir, step), `${pad(rank)}.running.json`);
}


function outputs(r: TaskOutput): string[] {
  return [...r.shards.map((s) => s.path), ...rejectFiles(r).map((f) => f.path), ...(r.files ?? [])];
}

/** The size of an output of the stage in `dir` (a folder, or a bucket prefix: storage/). */
function sizeOf(dir: string, f: string): number | undefined {
  return sizeSync(isRemote(dir) ? join(dir, f) : path.resolve(dir, f));
}

/** Records a finished task: its output, the size of every file it names, where and how long it ran. */
export function writeMarker(dir: string, step: string, rank: number, out: TaskOutput, seconds: number): TaskResult {
  const sizes: Record<string, number> = {};
  for (const f of outputs(out)) {
    // a bucket's outputs were just uploaded from the work folder (storage/outdir.ts): their sizes are known there
    const n = isRemote(dir) ? (sizeSync(path.join(workDir(dir), f)) ?? sizeOf(dir, f)) : sizeOf(dir, f);
    if (n === undefined) throw new Error(`task ${step}/${rank} says it wrote ${f}, which is not in ${dir}`);
    sizes[f] = n;
  }
  const result: TaskResult = { rank, ...out, sizes, host: os.hostname(), seconds: Math.round(seconds * 1000) / 1000 };
  writeDurable(markerPath(dir, step, rank), JSON.stringify(result, null, 2) + '\n');
  removeSync(runningPath(dir, step, rank));
  removeSync(failedPath(dir, step, rank));
  return result;
}

export type MarkerState =
  | { state: 'done'; result: TaskResult }
  /** Final outputs there, intermediate files gone: done for status, redone only when a later step reads them. */
  | { state: 'consumed'; result: TaskResult; missing: string }
  | { state: 'missing' }
  | { state: 'torn'; why: string }
  | { state: 'lost'; missing: string };

/** The one test of "done" every backend, status and the runner use. */
export function markerState(dir: string, step: string, rank: number): MarkerState {
  // a task handed the local work folder of a bucket output reads the bucket's markers
  dir = markersDir(dir);
  const file = markerPath(dir, step, rank);
  let text: string | undefined;
  try {
    text = readTextSync(file);
  } catch {
    text = undefined;
  }
  if (text === undefined) return { state: 'missing' };
  let r: TaskResult;
  try {
    r = JSON.parse(text) as TaskResult;
    if (!r || typeof r !== 'object' || r.rank !== rank || !Array.isArray(r.shards)) throw new Error('not a completion marker');
  } catch (err) {
    return { state: 'torn', why: `${file} is empty or torn (${(err as Error).message}); its task runs again` };
  }
  const check = (f: string): boolean => {
    const n = sizeOf(dir, f);
    return n !== undefined && (r.sizes?.[f] === undefined || r.sizes[f] === n);
  };
  const finals = [...r.shards.map((s) => s.path), ...rejectFiles(r).map((f) => f.path)];
  const lost = finals.find((f) => !check(f));
  if (lost) return { state: 'lost', missing: lost };
  const gone = (r.files ?? []).find((f) => !check(f));
  if (gone) return { state: 'consumed', result: r, missing: gone };
  return { state: 'done', result: r };
}

/** The results of a step's tasks, in rank order; throws when one is not done (the caller runs it first). */
export function readResults(dir: string, step: string, world: number): TaskResult[] {
  const out: TaskResult[] = [];
  for (let r = 0; r < world; r++) {
    const s = markerState(dir, step, r);
    if (s.state !== 'done' && s.state !== 'consumed') throw new Error(`step ${step} task ${r} of ${world} has not finished in ${dir}`);
    out.push(s.result);
  }
  return out;
}
