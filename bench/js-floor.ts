/**
 * The floor for any JavaScript ingest of URL rows with mmcurate's output: per row, JSON.parse, the sha256
 * id, the metadata JSON, UTF-8 encoding of the string columns and GZIP level 1, with nothing else (no
 * validation, accounting, rejects, Parquet framing or numeric columns). One worker thread per core, files
 * spread over them, as the CLI does. Run in its own process by the ingest benchmark; prints seconds.
 *
 * It answers "how close to DuckDB can JavaScript get here": mmcurate's figure divided by this one is the
 * share of the possible that the rest of the pipeline costs.
 */
import { readFileSync } from 'node:fs';
import { hash } from 'node:crypto';
import os from 'node:os';
import v8 from 'node:v8';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';

function work(files: string[]): number {
  let rows = 0;
  const buf = Buffer.allocUnsafeSlow(64 << 20);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    let start = 0;
    let line = 0;
    const cols: string[][] = [[], [], [], []];
    const flush = (): void => {
      for (const c of cols) {
        let off = 0;
        for (const s of c) {
          const len = buf.write(s, off + 4, 'utf8');
          buf.writeUInt32LE(len, off);
          off += 4 + len;
        }
        gzipSync(buf.subarray(0, off), { level: 1 });
        c.length = 0;
      }
    };
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const f = JSON.parse(text.slice(start, nl)) as Record<string, unknown>;
      start = nl + 1;
      line++;
      cols[0]!.push(hash('sha256', `laion\0${file}\0line ${line}`, 'hex').slice(0, 32));
      cols[1]!.push(f.caption as string);
      cols[2]!.push(f.url as string);
      f.caption = undefined;
      f.url = undefined;
      cols[3]!.push(JSON.stringify(f));
      if (cols[0]!.length === 32_768) flush();
      rows++;
    }
    flush();
  }
  return rows;
}

if (isMainThread) {
  // the young-generation size bin/mmcurate sets, so the floor gets the same garbage collector
  v8.setFlagsFromString('--max-semi-space-size=64');
  const files = process.argv.slice(1).filter((a) => a.endsWith('.jsonl'));
  const n = Math.min(files.length, os.availableParallelism());
  const t = performance.now();
  const counts = await Promise.all(
    Array.from({ length: n }, (_, w) => new Promise<number>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: files.filter((_, i) => i % n === w), execArgv: [] });
      worker.once('message', resolve);
      worker.once('error', reject);
    })),
  );
  process.stdout.write(`rows=${counts.reduce((a, b) => a + b, 0)} seconds=${((performance.now() - t) / 1000).toFixed(3)}\n`);
} else {
  parentPort!.postMessage(work(workerData as string[]));
}
