/** `mmcurate demo`: the bundled pipeline on the bundled sample data, end to end. */
import path from 'node:path';
import { formatHelp, parseFlagsOnly, str, type Flags } from '../cli/args.js';
import { PACKAGE_ROOT } from '../schemas.js';
import { runPipeline } from './command.js';

const flags: Flags = {
  out: { type: 'string', help: 'output folder (default: ./demo-out)' },
  'no-report': { type: 'boolean', help: 'do not write OUT/report.html' },
};

export const help = formatHelp('mmcurate demo [--out DIR] [--no-report]', 'Runs pipelines/demo.json on the sample data in demo/data and prints where the output is.', flags);

export async function run(argv: string[]): Promise<number> {
  const p = parseFlagsOnly(argv, flags, 'demo', 'demo takes no argument besides --out DIR');
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const out = path.resolve(str(p, 'out') ?? 'demo-out');
  const report = !p.flags['no-report'];
  const code = await runPipeline(path.join(PACKAGE_ROOT, 'pipelines', 'demo.json'), out, undefined, undefined, { report });
  if (code === 0) process.stdout.write(`\nDemo finished. Output: ${out}\n  each stage's shards, rejects and manifest.json are in ${out}/<stage>/\n${report ? `  open the report: ${path.join(out, 'report.html')}\n` : ''}`);
  return code;
}
