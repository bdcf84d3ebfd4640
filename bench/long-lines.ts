/**
 * `node dist/bench/long-lines.js`: ingest time for one JSONL line of 10 MB and of 100 MB, plain and gzipped
 * (gzip streams arrive in small chunks, the case a splitter that rescans its buffer per chunk made quadratic),
 * read in full (`--max-line-mb 256`) and skipped by the default 64 MiB limit. Figures, not a test.
 */
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import path from 'node:path';
import { ROOT, table, timeCli, MB } from './util.js';

const WORK = path.join(ROOT, '.bench', 'long-lines');

/** A small line, one line of `mb` MB of text, a small line. */
async function write(file: string, mb: number): Promise<void> {
  const out = createWriteStream(file);
  const sink = file.endsWith('.gz') ? createGzip({ level: 1 }) : undefined;
  if (sink) sink.pipe(out);
  const w = sink ?? out;
  const put = async (s: string): Promise<void> => {
    if (!w.write(s)) await once(w, 'drain');
  };
  await put('{"text": "before"}\n{"text": "');
  // varied text (not one repeated byte) so that gzip's output, and so its chunks, look like real data
  const block = Array.from({ length: 1024 }, (_, i) => `word${(i * 7919) % 1000} `).join('').slice(0, 1 << 14);
  for (let n = 0; n < (mb * 1e6) / block.length; n++) await put(block);
  await put('"}\n{"text": "after"}\n');
  w.end();
  await once(out, 'finish');
}

const rows: (string | number)[][] = [];
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
for (const mb of [10, 100]) {
  for (const ext of ['jsonl', 'jsonl.gz']) {
    const file = path.join(WORK, `line-${mb}mb.${ext}`);
    await write(file, mb);
    for (const limit of ['256', '64']) {
      const out = path.join(WORK, `out-${mb}-${ext}-${limit}`);
      const t = timeCli(['ingest', '--kind', 'text', '--input', file, '--out', out, '--max-line-mb', limit, '--quiet', '--workers', '1']);
      const kept = /(\d+) rows kept, (\d+) rejected/.exec(t.stdout);
      rows.push([`${mb} MB`, ext, `${limit} MiB`, kept ? `${kept[1]} kept, ${kept[2]} line_too_long` : '?', t.seconds.toFixed(2), (t.peakRssBytes / MB).toFixed(0)]);
      rmSync(out, { recursive: true, force: true });
    }
    rmSync(file);
  }
}
process.stdout.write(table(['line', 'file', '--max-line-mb', 'result', 'seconds', 'peak RSS MB'], rows) + '\n');
