/**
 * The stages the library runs, by command name: each command module's flags, its parser (every check that
 * needs no input) and the function its CLI calls. A library call and a command line take the same path:
 * options → argv (toArgv) → the command's own parser → that function.
 */
import { UsageError } from '../errors.js';
import type { Flags } from '../cli/args.js';
import type { Manifest } from '../write/manifest.js';
import { toArgv } from './options.js';

/** What the library needs of a stage's command module. */
export interface StageModule<O = any> {
  flags: Flags;
  /** The command's parser: flags and every value check that needs no input (throws a UsageError). */
  options(argv: string[]): O;
  /** What the command runs once parsed; returns the manifest the stage wrote. */
  execute(o: O): Promise<Manifest>;
}

// A new stage adds one line here (and a typed wrapper in src/index.ts).
export const STAGE_MODULES: Readonly<Record<string, () => Promise<StageModule>>> = Object.freeze({
  ingest: async () => { const m = await import('../ingest/command.js'); return { flags: m.flags, options: m.options, execute: m.ingest }; },
  score: async () => { const m = await import('../score/command.js'); return { flags: m.flags, options: m.options, execute: m.score }; },
  coreset: async () => { const m = await import('../coreset/command.js'); return { flags: m.flags, options: m.options, execute: m.coreset }; },
  mix: async () => { const m = await import('../mix/command.js'); return { flags: m.flags, options: m.options, execute: m.mix }; },
  filter: async () => { const m = await import('../filter/command.js'); return { flags: m.flags, options: m.options, execute: m.filter }; },
  dedup: async () => { const m = await import('../dedup/command.js'); return { flags: m.flags, options: m.options, execute: m.dedup }; },
  download: async () => { const m = await import('../download/command.js'); return { flags: m.flags, options: m.options, execute: m.download }; },
  export: async () => { const m = await import('../export/command.js'); return { flags: m.flags, options: m.options, execute: m.exportDataset }; },
});

/**
 * Runs a stage from an options object (the command's flags in camelCase) and returns its manifest. A bad
 * option is a UsageError (exitCode 2) before anything is read or written, with the CLI's message.
 */
export async function runStage(name: string, options: object): Promise<Manifest> {
  const load = STAGE_MODULES[name];
  if (!load) throw new UsageError(`mmcurate: no stage "${name}" (stages: ${Object.keys(STAGE_MODULES).join(', ')})`);
  const mod = await load();
  return mod.execute(mod.options(toArgv(name, options, mod.flags)));
}
