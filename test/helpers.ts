/** Shared by the tests: temp folders, running the real CLI, and two independent Parquet readers. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEMO = path.join(ROOT, 'demo', 'data');
const BIN = path.join(ROOT, 'bin', 'mmcurate');

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function tmpDir(prefix = 'mmcurate-test-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true', ...opts.env }, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Rows through hyparquet, binary kept as bytes. */
export async function readHyparquet(file: string): Promise<Record<string, unknown>[]> {
  return (await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors, utf8: false })) as Record<string, unknown>[];
}

/** Rows through DuckDB: an independent Parquet implementation (C++). */
export async function duck(sql: string): Promise<Record<string, unknown>[]> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(sql);
    return r.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
  }
}

/**
 * Runs the CLI in-process through main(argv), collecting what it writes to stdout and stderr; `cwd` is the
 * working directory for the call (restored after). Stdout is passed on as well as collected: the test
 * runner reports other tests' results there meanwhile, and must not lose them.
 */
export async function runMain(args: string[], opts: { cwd?: string } = {}): Promise<CliResult> {
  const { main } = await import('../src/cli/main.js');
  const out: string[] = [];
  const err: string[] = [];
  const [ow, ew, before] = [process.stdout.write, process.stderr.write, process.cwd()];
  const text = (chunk: string | Uint8Array): string => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    out.push(text(chunk));
    return (ow as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(text(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    if (opts.cwd) process.chdir(opts.cwd);
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
    process.chdir(before);
  }
}

/** A dataset's manifest.json. */
export function readManifestOf(d: string): import('../src/write/manifest.js').Manifest {
  return JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8')) as import('../src/write/manifest.js').Manifest;
}

/** Every reject line of a dataset (none when it has no rejects folder). */
export function readRejectsOf(d: string): { file: string; location: string; reason: string; detail: string; [k: string]: unknown }[] {
  try {
    return readdirSync(path.join(d, 'rejects')).flatMap((f) => readFileSync(path.join(d, 'rejects', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
  } catch {
    return [];
  }
}
