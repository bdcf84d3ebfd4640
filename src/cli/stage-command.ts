/** The `run(argv)` of a stage command: help, options, the stage, its summary. */
import type { Manifest } from '../write/manifest.js';
import { summarize } from './summary.js';

export async function runStageCommand<O extends { out: string }>(argv: string[], help: string, wantsHelp: (argv: string[]) => boolean, options: (argv: string[]) => O, go: (o: O) => Promise<Manifest>): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(help);
    return 0;
  }
  const o = options(argv);
  const m = await go(o);
  process.stdout.write(summarize(m, o.out) + '\n');
  return 0;
}
