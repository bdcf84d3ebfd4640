/**
 * `npm run bench [-- NAME...]`: runs the benchmarks (figures, not tests) and prints one Markdown table each;
 * the tables are also written to .bench/results.md. Names: ingest (and those the other stages register); the
 * peer comparisons (coreset: faiss, score: Pillow and the bare model) run each pair interleaved, CPU time beside wall.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './util.js';

const BENCHES: Record<string, () => Promise<string>> = {
  ingest: async () => (await import('./ingest.js')).benchIngest(),
  writers: async () => (await import('./writers.js')).benchWriters(),
  mix: async () => (await import('./mix.js')).benchMix(),
  coreset: async () => (await import('./coreset.js')).benchCoreset(),
  tasks: async () => (await import('./tasks.js')).benchTasks(),
  report: async () => (await import('./report.js')).benchReport(),
  compression: async () => (await import('./compression.js')).benchCompression(),
  embeddings: async () => (await import('./embeddings.js')).benchEmbeddings(),
  storage: async () => (await import('./storage.js')).benchStorage(),
  dedup: async () => (await import('./dedup.js')).benchDedup(),
  download: async () => (await import('./download.js')).benchDownload(),
  score: async () => (await import('./score.js')).benchScore(),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(BENCHES);
const header = `# mmcurate benchmarks\n\n${new Date().toISOString()} on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}\n`;
let report = header;
process.stdout.write(header + '\n');
for (const n of names) {
  const b = BENCHES[n];
  if (!b) {
    process.stderr.write(`unknown benchmark ${n}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  const section = await b();
  process.stdout.write(section + '\n');
  report += '\n' + section;
}
mkdirSync(path.join(ROOT, '.bench'), { recursive: true });
writeFileSync(path.join(ROOT, '.bench', 'results.md'), report);
