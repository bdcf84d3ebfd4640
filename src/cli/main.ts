/** The `mmcurate` entry point: dispatches to a command and turns errors into exit codes. */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { COMMANDS } from './commands.js';

function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  return `mmcurate ${VERSION}: curate and mix pre-training data for multimodal LLMs

Usage: mmcurate <command> [options]     (mmcurate <command> --help for its options)

Commands:
${Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(w)}${c.summary}`).join('\n')}

Exit codes: 0 success, 1 failure while running, 2 bad usage, input or config.
`;
}

/** MMCURATE_REPORT_RSS=1 prints the peak resident memory at exit (worker threads included): the benchmarks read it. */
if (process.env.MMCURATE_REPORT_RSS) {
  process.on('exit', () => process.stderr.write(`peak_rss_bytes=${peakRss()}\n`));
}

/** VmHWM is this process's own high-water mark; getrusage's maxrss can carry a parent's over fork and exec. */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * `--s3-endpoint URL` (any command): the S3-compatible endpoint for s3:// locations, as AWS_ENDPOINT_URL
 * (which the storage layer reads, here and in every worker thread). Removed before the command parses.
 */
function takeS3Endpoint(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--s3-endpoint' && i + 1 < argv.length) process.env.AWS_ENDPOINT_URL = argv[++i]!;
    else if (a.startsWith('--s3-endpoint=')) process.env.AWS_ENDPOINT_URL = a.slice('--s3-endpoint='.length);
    else out.push(a);
  }
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = takeS3Endpoint(argv);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  try {
    if (!entry) throw new UsageError(`unknown command "${name}". Should be one of: ${Object.keys(COMMANDS).join(', ')}`);
    const mod = await entry.load();
    return await mod.run(rest);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (code === 2) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${(err as Error).message ?? String(err)}\n`);
    if (process.env.MMCURATE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return code ?? 1;
  }
}
