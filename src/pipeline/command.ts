/** `mmcurate run PIPELINE --out DIR`: runs a pipeline file's stages in order. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { assertOutFolder } from '../write/atomic.js';
import { COMMANDS, type CommandModule } from '../cli/commands.js';
import { formatHelp, parseArgs, required, type Flags } from '../cli/args.js';
import { loadPipeline, stageArgv } from './load.js';

const flags: Flags = {
  out: { type: 'string', help: 'output folder; each stage writes OUT/<stage name>' },
  from: { type: 'string', help: 'start at this stage (earlier stages must be done)' },
};

export const help = formatHelp(
  'mmcurate run PIPELINE.json --out DIR',
  'Runs a declarative pipeline (see pipelines/ and schemas/pipeline.schema.json). Finished tasks are skipped on a re-run.',
  flags,
);

export async function runPipeline(file: string, outDir: string, from?: string): Promise<number> {
  const p = loadPipeline(file);
  assertOutFolder(outDir);
  let start = 0;
  if (from !== undefined) {
    start = p.stages.findIndex((s) => s.name === from);
    if (start < 0) throw new UsageError(`--from "${from}": no such stage in ${file} (stages: ${p.stages.map((s) => s.name).join(', ')})`);
    // the stages before it are what it reads: each must have finished (its manifest is written last)
    const unfinished = p.stages.slice(0, start).find((s) => !existsSync(path.join(outDir, s.name, 'manifest.json')));
    if (unfinished) throw new UsageError(`--from ${from}: stage ${unfinished.name} has not finished in ${outDir}; run without --from, or with --from ${unfinished.name}`);
  }
  // Every stage's flags and @references are checked before the first one runs: a typo in the last stage
  // must not surface after hours of ingest and scoring.
  const planned: { argv: string[]; mod: CommandModule }[] = [];
  for (let i = start; i < p.stages.length; i++) {
    const s = p.stages[i]!;
    const entry = COMMANDS[s.stage];
    if (!entry) throw new UsageError(`${file}: /stages/${i}/stage: "${s.stage}" is not available in this build (commands: ${Object.keys(COMMANDS).join(', ')})`);
    const argv = stageArgv(p, i, file, outDir);
    const mod = await entry.load();
    try {
      mod.check?.(argv);
    } catch (err) {
      throw new UsageError(`${file}: /stages/${i} (${s.name}): ${(err as Error).message}`);
    }
    planned.push({ argv, mod });
  }
  for (let i = start; i < p.stages.length; i++) {
    const s = p.stages[i]!;
    const { argv, mod } = planned[i - start]!;
    process.stderr.write(`\n== ${p.name} / ${s.name}: mmcurate ${s.stage} ${argv.join(' ')}\n`);
    let code: number;
    try {
      code = await mod.run(argv);
    } catch (err) {
      if ((err as { exitCode?: number }).exitCode === 2) throw new UsageError(`${file}: /stages/${i} (${s.name}): ${(err as Error).message}`);
      throw err;
    }
    if (code !== 0) {
      process.stderr.write(`${p.name}: stage ${s.name} exited with code ${code}; stopping\n`);
      return code;
    }
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const p = parseArgs(argv, flags, 'run');
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const file = p.positional[0];
  if (!file) throw new UsageError('mmcurate run: name a pipeline file, e.g. mmcurate run pipelines/demo.json --out out/');
  if (p.positional.length > 1) throw new UsageError(`mmcurate run: unexpected argument "${p.positional[1]}"; run takes one pipeline file`);
  return runPipeline(file, required(p, 'out', 'run'), p.flags.from as string | undefined);
}
