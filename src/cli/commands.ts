/**
 * The command registry shared by the CLI and the pipeline runner: one frozen table, so an unknown name is
 * an error that lists the valid ones. Commands load lazily: `mmcurate --help` does not start onnxruntime.
 */
export interface CommandModule {
  help: string;
  run(argv: string[]): Promise<number>;
  /** Checks an argv without running anything (flags known, numbers numeric): throws a UsageError. */
  check?(argv: string[]): void;
}

export interface CommandEntry {
  summary: string;
  load(): Promise<CommandModule>;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = Object.freeze({
  ingest: { summary: 'raw captions, interleaved documents or text corpora -> sharded Parquet + manifest', load: () => import('../ingest/command.js') },
  score: { summary: 'CLIP image/text embeddings and scores with onnxruntime (CUDA or CPU); score filters', load: () => import('../score/command.js') },
  coreset: { summary: 'Bunny-style coresets and SemDeDup: spherical k-means, in-cluster dedup, score and centroid bands, sampling', load: () => import('../coreset/command.js') },
  mix: { summary: 'mix curated kinds at chosen ratios (MM1 45:45:10...), by samples or tokens, seeded', load: () => import('../mix/command.js') },
  export: { summary: 'a finished dataset as WebDataset tars (img2dataset layout) or LLaVA conversation JSON with an image folder', load: () => import('../export/command.js') },
  filter: { summary: 'keep rows passing --where expressions and built-in filters (size, aspect, words, language, LAION punsafe/pwatermark)', load: () => import('../filter/command.js') },
  dedup: { summary: 'exact (sha256 of a normalised key) and near-duplicate (MinHash LSH) removal across datasets, first occurrence kept', load: () => import('../dedup/command.js') },
  download: { summary: 'fetch the images of URL rows (LAION, CC12M...) as img2dataset does: resized, checked, every URL accounted for', load: () => import('../download/command.js') },
  audit: { summary: 'audit a written dataset: counts, realized ratios vs recipe, duplicates, scores, manifest check', load: () => import('../audit/command.js') },
  recipes: { summary: 'list the published recipes in pipelines/', load: () => import('../recipes/command.js') },
  run: { summary: 'run a declarative pipeline file (pipelines/*.json)', load: () => import('../pipeline/command.js') },
  task: { summary: 'run one task of a planned stage (what Slurm, the queue and Kubernetes launch)', load: () => import('../run/task-command.js') },
  status: { summary: 'progress of a run from its markers: done / failed / running per step, rate, ETA', load: () => import('../run/status-command.js') },
  worker: { summary: 'run tasks from a Redis queue (run --executor queue); each task in its own process', load: () => import('../run/backends/worker-command.js') },
  report: { summary: 'one self-contained HTML page of a dataset or a run: funnel, rejects, mixture, scores, clusters, samples', load: () => import('../report/command.js') },
  demo: { summary: 'run the bundled demo pipeline end to end on sample data', load: () => import('../pipeline/demo.js') },
});

export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}
