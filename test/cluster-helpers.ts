/**
 * Shared by the cluster backend tests: the demo pipeline run once by the local executor (the reference
 * every backend's output must equal byte for byte), and what the tests compare: the sha256 of every
 * Parquet file of every stage, and each stage's manifest with its run-specific parts (the output path,
 * timings) taken out, which is the run's accounting (rows read, kept, rejected by reason, per shard).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { ROOT, tmpDir } from './helpers.js';

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

let made: Promise<{ out: string; writtenAs: string }> | undefined;

/**
 * The local executor's run of the demo with --tasks 4, made once per test file (each runs in its own
 * process, so none depends on another's timing). `writtenAs` is the folder it was written in, which its
 * manifests name.
 */
export function reference(): Promise<{ out: string; writtenAs: string }> {
  made ??= (async () => {
    const out = path.join(tmpDir('mmcurate-cluster-ref-'), 'out');
    const code = await main(['run', DEMO_PIPELINE, '--out', out, '--tasks', String(TASKS), '--no-report']);
    if (code !== 0) throw new Error(`the local reference run of the demo failed (exit ${code})`);
    return { out, writtenAs: out };
  })();
  return made;
}
