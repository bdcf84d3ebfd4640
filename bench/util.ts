/** Shared by the benchmarks: timing a child process and reading its peak memory. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'mmcurate');

export interface Timed {
  seconds: number;
  /** CPU seconds of the child (every thread, user + system); NaN where the child does not report it. */
  cpuSeconds: number;
  peakRssBytes: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process; its peak RSS (worker threads included) comes from MMCURATE_REPORT_RSS. */
export function timeCli(args: string[]): Timed {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', MMCURATE_REPORT_RSS: '1' }, maxBuffer: 256 << 20 });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`mmcurate ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const m = /peak_rss_bytes=(\d+)/.exec(r.stderr);
  return { seconds, cpuSeconds: NaN, peakRssBytes: m ? Number(m[1]) : NaN, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a node script in a child process and reports its time and peak RSS. */
export function timeNode(script: string, args: string[] = []): Timed {
  const wrapper = `import {readFileSync} from 'node:fs';process.on('exit',()=>{const c=process.cpuUsage();process.stderr.write('peak_rss_bytes='+Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status','utf8'))[1])*1024+'\\ncpu_seconds='+(c.user+c.system)/1e6+'\\n');});await import(${JSON.stringify(script)});`;
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', wrapper, '--', ...args], { encoding: 'utf8', maxBuffer: 256 << 20, cwd: ROOT });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const m = /peak_rss_bytes=(\d+)/.exec(r.stderr);
  const c = /cpu_seconds=([\d.e+-]+)/.exec(r.stderr);
  return { seconds, cpuSeconds: c ? Number(c[1]) : NaN, peakRssBytes: m ? Number(m[1]) : NaN, stdout: r.stdout, stderr: r.stderr };
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export const MB = 1e6;
export const GiB = 1024 ** 3;

/** The machine's 1-minute load average, printed beside every timing (the benchmarks may share the machine). */
export function load(): number {
  return os.loadavg()[0]!;
}

/** "median (min-max)" of a few runs: the spread says how far one figure can be trusted. */
export function spread(values: number[], digits = 2): string {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  const f = (x: number) => x.toFixed(digits);
  return v.length > 1 ? `${f(mid)} (${f(v[0]!)}-${f(v.at(-1)!)})` : f(mid);
}

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

/**
 * The Python that runs a peer: the interpreter `envVar` names, else .bench/venv-peers/bin/python (the current faiss-cpu,
 * Pillow and numpy from pip, see docs/benchmarks.md), else Debian's /usr/bin/python3 (python3-faiss 1.7.3, Pillow 9.4).
 */
export function peerPython(envVar: string): string {
  const set = process.env[envVar];
  if (set) return set;
  const venv = path.join(ROOT, '.bench', 'venv-peers', 'bin', 'python');
  return existsSync(venv) ? venv : '/usr/bin/python3';
}
