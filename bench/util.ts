/** Shared by the benchmarks: timing a child process and reading its peak memory. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'mmcurate');

export interface Timed {
  seconds: number;
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
  return { seconds, peakRssBytes: m ? Number(m[1]) : NaN, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a node script in a child process and reports its time and peak RSS. */
export function timeNode(script: string, args: string[] = []): Timed {
  const wrapper = `import {readFileSync} from 'node:fs';process.on('exit',()=>process.stderr.write('peak_rss_bytes='+Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status','utf8'))[1])*1024+'\\n'));await import(${JSON.stringify(script)});`;
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', wrapper, '--', ...args], { encoding: 'utf8', maxBuffer: 256 << 20, cwd: ROOT });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const m = /peak_rss_bytes=(\d+)/.exec(r.stderr);
  return { seconds, peakRssBytes: m ? Number(m[1]) : NaN, stdout: r.stdout, stderr: r.stderr };
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
