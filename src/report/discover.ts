/**
 * What a report covers: PATH is one dataset (it has manifest.json) or the --out of a whole run (stage
 * folders). A cluster run records its stages' order in _pipeline.json; a local run does not, so the stages
 * are ordered by what each one read (score after ingest, coreset after score, mix after its inputs).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { Manifest } from '../write/manifest.js';

export interface Found {
  name: string;
  dir: string;
  manifest: Manifest;
}

function readManifestAt(dir: string): Manifest {
  const file = path.join(dir, 'manifest.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message}); the stage may not have finished: run it again`);
  }
}

/** The dataset folders a stage read, as absolute paths. */
export function inputsOf(m: Manifest): string[] {
  const out: string[] = [];
  if (typeof m.input === 'string') out.push(path.resolve(m.input));
  if (Array.isArray(m.inputs)) for (const i of m.inputs as { dir?: unknown }[]) if (i && typeof i.dir === 'string') out.push(path.resolve(i.dir));
  return out;
}

export function discover(root: string): Found[] {
  const abs = path.resolve(root);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new UsageError(`mmcurate report: ${root} is not a folder; give a dataset folder (with manifest.json) or the --out of a run`);
  if (existsSync(path.join(abs, 'manifest.json'))) return [{ name: path.basename(abs), dir: abs, manifest: readManifestAt(abs) }];
  const subs = readdirSync(abs)
    .filter((d) => !d.startsWith('_') && existsSync(path.join(abs, d, 'manifest.json')))
    .sort();
  if (!subs.length) throw new UsageError(`mmcurate report: ${root} holds no dataset: neither ${root}/manifest.json nor any ${root}/<stage>/manifest.json (has the run finished?)`);
  const found = new Map(subs.map((d) => [path.join(abs, d), { name: d, dir: path.join(abs, d), manifest: readManifestAt(path.join(abs, d)) }]));
  const pf = path.join(abs, '_pipeline.json');
  if (existsSync(pf)) {
    const order = (JSON.parse(readFileSync(pf, 'utf8')) as { stages?: { name: string }[] }).stages ?? [];
    const named = order.map((s) => found.get(path.join(abs, s.name))).filter((f): f is Found => !!f);
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
