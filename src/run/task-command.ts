/** `mmcurate task DIR --step STEP [--rank I]`: runs exactly one task of a planned stage; what every backend launches. */
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bool, formatHelp, num, parseArgs, required, type Flags } from '../cli/args.js';
import { runOneTask } from './jobs.js';

const flags: Flags = {
  step: { type: 'string', help: 'the step to run (see OUT/<stage>/_plan/stage.json)' },
  stage: { type: 'string', help: 'with a pipeline run\'s OUT: the stage name (DIR is then OUT/<stage>)' },
  rank: { type: 'number', integer: true, min: 0, help: 'the task (default: $SLURM_ARRAY_TASK_ID, then $JOB_COMPLETION_INDEX)' },
  wait: { type: 'boolean', help: 'wait until the stages before this one in the pipeline, then the steps before this one, are done (Kubernetes: Jobs have no dependencies)' },
};

export const help = formatHelp(
  'mmcurate task DIR --step STEP [--rank I] [--wait]',
  `Runs one task from the stage's plan and exits 0 (done, or already done: its marker is valid) or 1 (failed; nothing
half-written is left where a later task would trust it). The rank may come from SLURM_ARRAY_TASK_ID (plus
MMCURATE_RANK_OFFSET for a split array) or JOB_COMPLETION_INDEX.`,
  flags,
);

export function check(argv: string[]): void {
  parseArgs(argv, flags, 'task');
}

/** The rank from the flag or a scheduler's environment. */
export function rankFrom(flag: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (flag !== undefined) return flag;
  const offset = Number(env.MMCURATE_RANK_OFFSET ?? 0);
  for (const v of [env.SLURM_ARRAY_TASK_ID, env.JOB_COMPLETION_INDEX]) {
    if (v !== undefined && /^\d+$/.test(v)) return Number(v) + offset;
  }
  throw new UsageError('mmcurate task: no rank: pass --rank I, or run it as a Slurm array task or a Kubernetes Indexed Job');
}

export async function run(argv: string[]): Promise<number> {
  const p = parseArgs(argv, flags, 'task');
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const base = p.positional[0];
  if (!base || p.positional.length > 1) throw new UsageError('mmcurate task: give one stage folder, e.g. mmcurate task out/captions --step ingest --rank 0');
  const stage = p.flags.stage as string | undefined;
  const dir = path.resolve(stage ? path.join(base, stage) : base);
  const step = required(p, 'step', 'task');
  const rank = rankFrom(num(p, 'rank'));
  const t0 = Date.now();
  process.stderr.write(`task ${dir} ${step}/${rank}: start ${new Date(t0).toISOString()}\n`);
  const r = await runOneTask(dir, step, rank, { wait: bool(p, 'wait') });
  process.stderr.write(`task ${dir} ${step}/${rank}: ${r === 'already' ? 'already done' : `done in ${((Date.now() - t0) / 1000).toFixed(1)} s`}\n`);
  return 0;
}
