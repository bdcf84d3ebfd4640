/**
 * Shared by the cluster backend tests: the demo pipeline run once by the local executor (the reference
 * every backend's output must equal byte for byte), and what the tests compare: the sha256 of every
 * Parquet file of every stage, and each stage's manifest with its run-specific parts (the output path,
 * timings) taken out, which is the run's accounting (rows read, kept, rejected by reason, per shard).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { ROOT } from './helpers.js';

export const DEMO_PIPELINE = path.join(ROOT, 'pipelines', 'demo.json');
export const BIN = path.join(ROOT, 'bin', 'mmcurate');
export const TASKS = 4;

/** Parquet files (data and rejects) under every stage of OUT, by path relative to OUT -> sha256. */
export function shardHashes(out: string): Record<string, string> {
  const res: Record<string, string> = {};
  for (const rel of (readdirSync(out, { recursive: true }) as string[]).sort()) {
    if (!rel.endsWith('.parquet') || rel.split(path.sep).some((p) => p.startsWith('_'))) continue;
    res[rel] = createHash('sha256').update(readFileSync(path.join(out, rel))).digest('hex');
  }
  return res;
}

/** Every stage's manifest.json, the output folder replaced by OUT and timings dropped. */
export function accounting(out: string, writtenAs = out): Record<string, unknown> {
  const res: Record<string, unknown> = {};
  for (const stage of readdirSync(out).sort()) {
    const f = path.join(out, stage, 'manifest.json');
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8').split(path.resolve(writtenAs)).join('OUT');
    res[stage] = JSON.parse(text, (k, v: unknown) => (/^timings/.test(k) || k === 'spec_hash' ? undefined : v));
  }
  return res;
}

/** Files a finished run must not hold: temporaries, running markers, failure records. */
export function leftovers(out: string): string[] {
  return (readdirSync(out, { recursive: true }) as string[]).filter((f) => /\.tmp$|\.running\.json$|\.failed\.json$/.test(f));
}

/**
 * The local executor's run of the demo with --tasks 4, made once per build and shared by the test files
 * (each runs in its own process): built in a temporary folder, then renamed into place, so two test files
 * starting together both end with the same finished reference. `writtenAs` is the folder it was built
 * in, which its manifests name.
 */
export async function reference(): Promise<{ out: string; writtenAs: string }> {
  const stamp = statSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js')).mtimeMs.toFixed(0);
  const dir = path.join(os.tmpdir(), `mmcurate-cluster-ref-${stamp}`);
  const done = path.join(dir, 'written-as');
  // references of earlier builds go (finished ones only: a folder being built ends in .<pid>)
  for (const old of readdirSync(os.tmpdir())) {
    if (/^mmcurate-cluster-ref-\d+$/.test(old) && old !== path.basename(dir)) rmSync(path.join(os.tmpdir(), old), { recursive: true, force: true });
  }
  if (!existsSync(done)) {
    const tmp = `${dir}.${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const code = await main(['run', DEMO_PIPELINE, '--out', path.join(tmp, 'out'), '--tasks', String(TASKS)]);
    if (code !== 0) throw new Error(`the local reference run of the demo failed (exit ${code})`);
    writeFileSync(path.join(tmp, 'written-as'), path.join(tmp, 'out'));
    try {
      renameSync(tmp, dir);
    } catch {
      // another test file finished first: its reference is the same
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { out: path.join(dir, 'out'), writtenAs: readFileSync(done, 'utf8') };
}
