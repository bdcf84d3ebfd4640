/**
 * The command registry shared by the CLI and the pipeline runner: one frozen table, so an unknown name is
 * an error that lists the valid ones. Commands load lazily: `mmcurate --help` does not start onnxruntime.
 */
export interface CommandModule {
  help: string;
  run(argv: string[]): Promise<number>;
}

export interface CommandEntry {
  summary: string;
  load(): Promise<CommandModule>;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = Object.freeze({
  ingest: { summary: 'raw captions, interleaved documents or text corpora -> sharded Parquet + manifest', load: () => import('../ingest/command.js') },
  run: { summary: 'run a declarative pipeline file (pipelines/*.json)', load: () => import('../pipeline/command.js') },
  demo: { summary: 'run the bundled demo pipeline end to end on sample data', load: () => import('../pipeline/demo.js') },
});

export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}
