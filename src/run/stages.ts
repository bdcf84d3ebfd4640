/** The stages under the contract, by command name: what `mmcurate task` and the backends plan and run. */
import { UsageError } from '../errors.js';
import type { StageDef } from './contract.js';

const LOADERS: Record<string, () => Promise<StageDef>> = {
  ingest: async () => (await import('../ingest/command.js')).stage as StageDef,
  score: async () => (await import('../score/command.js')).stage as StageDef,
  coreset: async () => (await import('../coreset/command.js')).stage as StageDef,
  mix: async () => (await import('../mix/command.js')).stage as StageDef,
  export: async () => (await import('../export/command.js')).stage as StageDef,
  filter: async () => (await import('../filter/command.js')).stage as StageDef,
  dedup: async () => (await import('../dedup/command.js')).stage as StageDef,
  download: async () => (await import('../download/command.js')).stage as StageDef,
};

export function isStage(command: string): boolean {
  return command in LOADERS;
}

export async function stageDef(command: string): Promise<StageDef> {
  const load = LOADERS[command];
  if (!load) throw new UsageError(`"${command}" is not a stage that runs as tasks (stages: ${Object.keys(LOADERS).join(', ')})`);
  return load();
}
