/** `mmcurate run PIPELINE --out DIR`: runs a pipeline file's stages in order. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { assertOutFolder } from '../write/atomic.js';
import { COMMANDS, type CommandModule } from '../cli/commands.js';
import { formatHelp, num, parseArgs, required, type Flags, type Parsed } from '../cli/args.js';
import { pipelineJobs, withTasks, type StepJob } from '../run/jobs.js';
import { fileURLToPath } from 'node:url';
import { loadPipeline, stageArgv } from './load.js';

/** Backend modules by --executor name: each exports `flags` and `submit(jobs, opts)`. */
const EXECUTORS = ['slurm', 'queue', 'k8s'] as const;

/** The command's flags (local runs); the library API's RunOptions are generated from this table (src/api/types.ts). */
export const flags = {
  out: { type: 'string', required: true, help: 'output folder; each stage writes OUT/<stage name>' },
  from: { type: 'string', help: 'start at this stage (earlier stages must be done)' },
  tasks: { type: 'number', integer: true, min: 1, help: 'the world of every parallel step of every stage: the same N gives the same shards whatever runs them' },
  'no-report': { type: 'boolean', help: 'do not write OUT/report.html at the end (see mmcurate report)' },
  executor: { type: 'string', help: `where the tasks run: local (default) | ${EXECUTORS.join(' | ')} (see README, "Running on a cluster")` },
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate run PIPELINE.json --out DIR [--tasks N] [--executor local|slurm|queue|k8s]',
  'Runs a declarative pipeline (see pipelines/ and schemas/pipeline.schema.json). Finished tasks are skipped on a re-run.',
  flags,
);

export async function runPipeline(file: string, outDir: string, from?: string, tasks?: number, o: { report?: boolean } = {}): Promise<number> {
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
    const argv = withTasks(s.stage, stageArgv(p, i, file, outDir), tasks);
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
  // the page of the whole run, unless the pipeline has its own report stage
  if (o.report !== false && !p.stages.some((s) => s.stage === 'report')) {
    const { writeReport } = await import('../report/command.js');
    try {
      const w = await writeReport(outDir);
      process.stdout.write(`report: ${w.file}\n`);
    } catch (err) {
      process.stderr.write(`${p.name}: every stage finished, but the report failed: ${(err as Error).message}; run \`mmcurate report ${outDir}\` again, or pass --no-report\n`);
      return 1;
    }
  }
  return 0;
}


interface Backend {
  flags: Flags;
  submit(jobs: StepJob[] & { skipped?: string[]; after?: string[] }, o: { out: string; flags: Parsed['flags']; bin: string[] }): Promise<number>;
}

async function backend(name: string): Promise<Backend> {
  if (!(EXECUTORS as readonly string[]).includes(name)) throw new UsageError(`mmcurate run: unknown --executor "${name}". Should be one of: local, ${EXECUTORS.join(', ')}`);
  return (await import(`../run/backends/${name}.js`)) as Backend;
}

/** --executor's value, read before the flags are parsed (each backend adds its own flags). */
function executorOf(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--executor=')) return a.slice(11);
    if (a === '--executor' && argv[i + 1]) return argv[i + 1]!;
  }
  return 'local';
}

export async function run(argv: string[]): Promise<number> {
  const executor = executorOf(argv);
  const be = executor === 'local' ? undefined : await backend(executor);
  const all: Flags = { ...flags, ...(be?.flags ?? {}) };
  const p = parseArgs(argv, all, 'run');
  if (p.help) {
    process.stdout.write(be ? formatHelp(`mmcurate run PIPELINE.json --out DIR --executor ${executor} --tasks N`, `Submits every step of the pipeline to ${executor} and returns; follow it with mmcurate status DIR.`, all) : help);
    return 0;
  }
  const file = p.positional[0];
  if (!file) throw new UsageError('mmcurate run: name a pipeline file, e.g. mmcurate run pipelines/demo.json --out out/');
  if (p.positional.length > 1) throw new UsageError(`mmcurate run: unexpected argument "${p.positional[1]}"; run takes one pipeline file`);
  const out = required(p, 'out', 'run');
  const tasks = num(p, 'tasks');
  if (!be) return runPipeline(file, out, p.flags.from as string | undefined, tasks, { report: !p.flags['no-report'] });
  if (tasks === undefined) throw new UsageError(`mmcurate run --executor ${executor} needs --tasks N: the number of tasks of every parallel step, fixed before any data is read so every step can be submitted at once`);
  if (p.flags.from !== undefined) throw new UsageError(`mmcurate run --executor ${executor}: --from is for local runs; a re-submission skips finished tasks by itself`);
  assertOutFolder(out);
  const jobs = await pipelineJobs(file, out, tasks);
  const bin = [process.execPath, path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'mmcurate')];
  const code = await be.submit(jobs, { out: path.resolve(out), flags: p.flags, bin });
  // checks (audit) are not tasks: they run once the data is there
  if (code === 0 && jobs.after?.length) {
    process.stderr.write(`then, once \`mmcurate status ${out} --wait\` exits 0, run the pipeline's checks (${jobs.skipped!.join(', ')}):\n${jobs.after.map((c) => `  ${c}`).join('\n')}\n`);
  }
  if (code === 0 && !p.flags['no-report']) process.stderr.write(`the run's report, once it is done: mmcurate report ${out}\n`);
  return code;
}
