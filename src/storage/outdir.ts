/**
 * An output folder in a bucket (`--out s3://b/run/mix`). Tasks write with the file system, into a local
 * work folder (one per output URL); as each task finishes, its outputs are uploaded, each file a multipart
 * upload completed last (an object appears whole or not at all, as a renamed file does), then its marker.
 * The stage's last step uploads every other file it made, manifest.json last. Markers and plans are read
 * and written in the bucket itself (markers.ts, plan.ts through sync.ts), so a run resumes on any machine.
 * The local folder holds what running tasks write and what later steps read; it is removed when the stage
 * is done.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as storage from './index.js';

/** The local folder tasks of a remote output folder write into; a local output folder is its own. */
export function workDir(dir: string): string {
  if (!storage.isRemote(dir)) return dir;
  const id = createHash('sha256').update(storage.normalize(dir)).digest('hex').slice(0, 16);
  return path.join(process.env.MMCURATE_WORK_DIR ?? path.join(os.tmpdir(), 'mmcurate-work'), id);
}

/** Names the bucket prefix a work folder stands for, so a task given the work folder finds the markers. */
const REMOTE_FILE = '_remote.json';

export function openWorkDir(dir: string): string {
  const work = workDir(dir);
  if (storage.isRemote(dir)) {
    mkdirSync(work, { recursive: true });
    writeFileSync(path.join(work, REMOTE_FILE), JSON.stringify({ out: storage.normalize(dir) }) + '\n');
    remotes.set(work, storage.normalize(dir));
  }
  return work;
}

const remotes = new Map<string, string>();

/**
 * The folder whose markers and plans count for `dir`: the bucket prefix when `dir` is a work folder (a
 * stage's manifest step reads its steps' markers from ctx.outDir), else `dir` itself.
 */
export function markersDir(dir: string): string {
  if (storage.isRemote(dir)) return dir;
  let r = remotes.get(dir);
  if (r === undefined) {
    try {
      r = (JSON.parse(readFileSync(path.join(dir, REMOTE_FILE), 'utf8')) as { out: string }).out;
    } catch {
      r = dir;
    }
    if (remotes.size > 1000) remotes.clear();
    remotes.set(dir, r);
  }
  return r;
}

interface Outputs {
  shards: { path: string }[];
  rejects?: { path: string } | { path: string }[];
  files?: string[];
}

/** Files already uploaded by this process, per output folder: the last step does not send them twice. */
const sent = new Map<string, Set<string>>();

function upload(dir: string, rel: string): Promise<void> {
  const done = sent.get(dir) ?? new Set<string>();
  sent.set(dir, done);
  done.add(rel);
  return storage.putFile(storage.join(dir, rel), path.join(workDir(dir), rel));
}

/** Files under the work folder, relative, that are outputs (not temporaries, the lock or local bookkeeping). */
function localFiles(work: string): string[] {
  let names: string[];
  try {
    names = readdirSync(work, { recursive: true }) as string[];
  } catch {
    return [];
  }
  return names
    .map((n) => n.split(path.sep).join('/'))
    .filter((n) => !n.endsWith('.tmp') && !n.startsWith('_tasks/') && !n.startsWith('_plan/') && n !== '_lock.json' && n !== REMOTE_FILE)
    .filter((n) => statSync(path.join(work, n)).isFile())
    .sort();
}

/**
 * Uploads what a task wrote, before its marker is written. The task that writes manifest.json (a stage's
 * last step) first uploads every file of the stage not sent yet, and manifest.json after all of them.
 */
export async function publish(dir: string, out: Outputs): Promise<void> {
  if (!storage.isRemote(dir)) return;
  const rejects = out.rejects === undefined ? [] : Array.isArray(out.rejects) ? out.rejects : [out.rejects];
  const declared = [...out.shards.map((s) => s.path), ...rejects.map((r) => r.path), ...(out.files ?? [])];
  const last = declared.includes('manifest.json');
  const work = workDir(dir);
  const present = declared.filter((f) => existsSync(path.join(work, f)));
  let first = present.filter((f) => f !== 'manifest.json');
  if (last) {
    const done = sent.get(dir) ?? new Set<string>();
    first = [...new Set([...first, ...localFiles(work).filter((f) => f !== 'manifest.json' && !done.has(f))])];
  }
  await pool(first, 4, (f) => upload(dir, f));
  if (present.includes('manifest.json')) await upload(dir, 'manifest.json');
}

/**
 * Before a step runs here: the intermediate files it reads (TaskOutput.files of the steps it needs) that
 * another machine made are fetched into the work folder.
 */
export async function fetchFiles(dir: string, files: string[]): Promise<void> {
  if (!storage.isRemote(dir)) return;
  const work = workDir(dir);
  await pool(files.filter((f) => !existsSync(path.join(work, f))), 4, async (f) => {
    const local = path.join(work, f);
    mkdirSync(path.dirname(local), { recursive: true });
    const data = await storage.readAll(storage.join(dir, f));
    const { writeFileAtomic } = await import('../write/atomic.js');
    writeFileAtomic(local, data);
  });
}

/**
 * After the stage: intermediate files the stage removed locally (spills, score files) are removed from the
 * bucket too, and the work folder goes.
 */
export async function finish(dir: string, intermediates: string[]): Promise<void> {
  if (!storage.isRemote(dir)) return;
  const work = workDir(dir);
  // only files this run uploaded and then saw the stage remove (a local run would not have them either)
  const uploaded = sent.get(dir) ?? new Set<string>();
  await pool(intermediates.filter((f) => f !== 'manifest.json' && uploaded.has(f) && !existsSync(path.join(work, f))), 8, (f) => storage.remove(storage.join(dir, f)));
  rmSync(work, { recursive: true, force: true });
  remotes.delete(work);
  sent.delete(dir);
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
  }));
}
