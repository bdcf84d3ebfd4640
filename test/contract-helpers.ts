/** Shared by the contract and backend tests: one reference run of the demo pipeline and shard checksums. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { ROOT, tmpDir } from './helpers.js';

export const DEMO_PIPELINE = path.join(ROOT, 'pipelines', 'demo.json');

/** `relative/path sha256` of every Parquet shard under root (intermediate folders left out), sorted. */
export function shardSums(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { recursive: true }) as string[]) {
    if (!e.endsWith('.parquet') || e.includes('_staging') || e.includes('_work')) continue;
    out.push(`${e} ${createHash('sha256').update(readFileSync(path.join(root, e))).digest('hex')}`);
  }
  return out.sort();
}

/**
 * Runs the CLI in-process with stderr silenced (progress, resume notes); resolves the exit code. Stdout is
 * left alone: the test runner reports through it.
 */
export async function quietMain(argv: string[]): Promise<number> {
  const w = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return await main(argv);
  } finally {
    process.stderr.write = w;
  }
}

/** Runs the CLI in-process; resolves the exit code and what it wrote to stderr. */
export async function mainStderr(argv: string[]): Promise<{ code: number; stderr: string }> {
  const err: string[] = [];
  const w = process.stderr.write;
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stderr: err.join('') };
  } finally {
    process.stderr.write = w;
  }
}

let reference: Promise<{ out: string; sums: string[] }> | undefined;

/** The demo pipeline run locally with --tasks 4, once per test process: what every backend must reproduce. */
export function localReference(): Promise<{ out: string; sums: string[] }> {
  reference ??= (async () => {
    const out = path.join(tmpDir('mmcurate-ref-'), 'run');
    const code = await quietMain(['run', DEMO_PIPELINE, '--out', out, '--tasks', '4', '--no-report']);
    if (code !== 0) throw new Error(`the local reference run exited ${code}`);
    return { out, sums: shardSums(out) };
  })();
  return reference;
}
