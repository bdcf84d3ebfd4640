/**
 * What a report covers: PATH is one dataset (it has manifest.json) or the --out of a whole run (stage
 * folders). A cluster run records its stages' order in _pipeline.json; a local run does not, so the stages
 * are ordered by what each one read (score after ingest, coreset after score, mix after its inputs).
 */
import { existsSync as fsExists, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { isRemote, join, resolve } from '../storage/location.js';
import { existsSync, listSync, readTextSync } from '../storage/sync.js';
import type { Manifest } from '../write/manifest.js';

export interface Found {
  name: string;
  dir: string;
  manifest: Manifest;
}

function readManifestAt(dir: string): Manifest {
  const file = join(dir, 'manifest.json');
  try {
    return JSON.parse(readTextSync(file) ?? '') as Manifest;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message}); the stage may not have finished: run it again`);
  }
}

/** The dataset folders a stage read, as absolute paths. */
export function inputsOf(m: Manifest): string[] {
  const out: string[] = [];
  if (typeof m.input === 'string') out.push(resolve(m.input));
  const exported = (m.export as { input?: unknown } | undefined)?.input;
  if (typeof exported === 'string') out.push(resolve(exported));
  // mix records { dir }, dedup the folders themselves
  if (Array.isArray(m.inputs)) for (const i of m.inputs as unknown[]) {
    const dir = typeof i === 'string' ? i : (i as { dir?: unknown } | null)?.dir;
    if (typeof dir === 'string') out.push(resolve(dir));
  }
  return out;
}

export function discover(root: string): Found[] {
  // through storage: ROOT may be a bucket prefix (s3://…), read by listing, not by the file system
  const abs = resolve(root);
  const remote = isRemote(abs);
  if (!remote && (!fsExists(abs) || !statSync(abs).isDirectory())) throw new UsageError(`mmcurate report: ${root} is not a folder; give a dataset folder (with manifest.json) or the --out of a run`);
  if (existsSync(join(abs, 'manifest.json'))) return [{ name: path.posix.basename(abs), dir: abs, manifest: readManifestAt(abs) }];
  const names = remote
    ? [...new Set(listSync(abs).map((e) => e.loc.slice(abs.length + 1)).filter((k) => /^[^/]+\/manifest\.json$/.test(k)).map((k) => k.split('/')[0]!))]
    : readdirSync(abs);
  const subs = names.filter((d) => !d.startsWith('_') && existsSync(join(abs, d, 'manifest.json'))).sort();
  if (!subs.length) throw new UsageError(`mmcurate report: ${root} holds no dataset: neither ${root}/manifest.json nor any ${root}/<stage>/manifest.json (has the run finished?)`);
  const found = new Map(subs.map((d) => [join(abs, d), { name: d, dir: join(abs, d), manifest: readManifestAt(join(abs, d)) }]));
  const pipeline = readTextSync(join(abs, '_pipeline.json'));
  if (pipeline !== undefined) {
    const order = (JSON.parse(pipeline) as { stages?: { name: string }[] }).stages ?? [];
    const named = order.map((s) => found.get(join(abs, s.name))).filter((f): f is Found => !!f);
    return [...named, ...[...found.values()].filter((f) => !named.includes(f))];
  }
  // stages ordered by depth in what they read (ingest first, mix last); ties by name
  const depth = new Map<string, number>();
  const depthOf = (f: Found, seen: Set<string>): number => {
    const known = depth.get(f.dir);
    if (known !== undefined) return known;
    seen.add(f.dir);
    let d = 0;
    for (const i of inputsOf(f.manifest)) {
      const up = found.get(i);
      if (up && !seen.has(i)) d = Math.max(d, depthOf(up, seen) + 1);
    }
    depth.set(f.dir, d);
    return d;
  };
  const out = [...found.values()];
  for (const f of out) depthOf(f, new Set());
  out.sort((a, b) => depth.get(a.dir)! - depth.get(b.dir)! || a.name.localeCompare(b.name));
  return out;
}
