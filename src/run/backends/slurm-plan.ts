/**
 * The pure part of the Slurm backend: array specs, splitting a step's ranks into arrays the cluster
 * accepts, the batch script and the sbatch arguments. Nothing here runs a command, so it is tested
 * without a cluster.
 */
import { shellQuote } from './common.js';

/** Sorted, distinct ranks as Slurm's compact array spec: [0,1,2,3,7] -> "0-3,7". */
export function compactRanges(ranks: number[]): string {
  const sorted = [...new Set(ranks)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export interface ArrayChunk {
  /** Added to SLURM_ARRAY_TASK_ID to get the rank. */
  offset: number;
  /** Array indices (rank - offset), each below MaxArraySize. */
  indices: number[];
}

/**
 * Slurm refuses an array index at or above MaxArraySize, so ranks are cut into arrays whose indices are
 * `rank - offset`, each below the limit; ranks below the limit stay in one array with offset 0 (so the
 * common case is one array whose index is the rank). `maxSpecChars` keeps one --array value short:
 * scattered ranks left by a partial failure make a long list, which sbatch also refuses past a point.
 */
export function splitArray(ranks: number[], maxArraySize: number, maxSpecChars = 10000): ArrayChunk[] {
  if (!(maxArraySize >= 1)) throw new Error(`MaxArraySize must be at least 1, got ${maxArraySize}`);
  const sorted = [...new Set(ranks)].sort((a, b) => a - b);
  const chunks: ArrayChunk[] = [];
  let cur: ArrayChunk | undefined;
  let specChars = 0;
  let runStart = 0;
  for (const r of sorted) {
    let grown = Infinity;
    if (cur && r - cur.offset < maxArraySize) {
      const i = r - cur.offset;
      const last = cur.indices[cur.indices.length - 1]!;
      // the spec's length after adding i: a run "a-b" grows in place, anything else adds ",i"
      grown = i === last + 1 ? specChars - (last === runStart ? String(last).length : `${runStart}-${last}`.length) + `${runStart}-${i}`.length : specChars + 1 + String(i).length;
    }
    if (grown > maxSpecChars) {
      // the first chunk keeps offset 0 while its ranks fit, so an array index is the rank itself
      cur = { offset: chunks.length === 0 && r < maxArraySize ? 0 : r, indices: [r - (chunks.length === 0 && r < maxArraySize ? 0 : r)] };
      chunks.push(cur);
      runStart = cur.indices[0]!;
      specChars = String(runStart).length;
      continue;
    }
    const i = r - cur!.offset;
    if (i !== cur!.indices[cur!.indices.length - 1]! + 1) runStart = i;
    cur!.indices.push(i);
    specChars = grown;
  }
  return chunks;
}

/**
 * The batch script of one step: the rank is SLURM_ARRAY_TASK_ID plus MMCURATE_RANK_OFFSET (set per array
 * by sbatch --export), and the script appends its output to the rank's own log, so a split array's
 * logs are still named by rank. The first line of the log marks the start (used to measure launch delay).
 */
export function batchScript(o: { command: string[]; logDir: string; label: string }): string {
  return [
    '#!/bin/bash',
    `# ${o.label}: one task of an mmcurate step, written by \`mmcurate run --executor slurm\``,
    'set -u',
    'rank=$(( SLURM_ARRAY_TASK_ID + ${MMCURATE_RANK_OFFSET:-0} ))',
    `mkdir -p ${shellQuote(o.logDir)}`,
    `exec >>${shellQuote(o.logDir)}/"$rank.log" 2>&1`,
    'echo "mmcurate slurm: start rank $rank job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"',
    `exec ${o.command.map(shellQuote).join(' ')} --rank "$rank"`,
    '',
  ].join('\n');
}

export interface SbatchOptions {
  jobName: string;
  chunk: ArrayChunk;
  script: string;
  dependsOn: string[];
  maxParallel?: number;
  partition?: string;
  time?: string;
  gpusPerTask?: number;
  extra: string[];
  workDir: string;
}

export function sbatchArgs(o: SbatchOptions): string[] {
  const a = [
    '--parsable',
    `--job-name=${o.jobName}`,
    `--array=${compactRanges(o.chunk.indices)}${o.maxParallel ? `%${o.maxParallel}` : ''}`,
    `--export=ALL,MMCURATE_RANK_OFFSET=${o.chunk.offset}`,
    // the script writes the rank's log itself; Slurm's own file would be named by array index
    '--output=/dev/null',
    `--chdir=${o.workDir}`,
  ];
  if (o.dependsOn.length) a.push(`--dependency=afterok:${o.dependsOn.join(':')}`, '--kill-on-invalid-dep=yes');
  if (o.partition) a.push(`--partition=${o.partition}`);
  if (o.time) a.push(`--time=${o.time}`);
  if (o.gpusPerTask) a.push(`--gpus-per-task=${o.gpusPerTask}`);
  a.push(...o.extra, o.script);
  return a;
}

/** MaxArraySize from `scontrol show config`; Slurm's default (1001) when the line is missing. */
export function parseMaxArraySize(config: string): number {
  const m = /^\s*MaxArraySize\s*=\s*(\d+)/m.exec(config);
  return m ? Number(m[1]) : 1001;
}
