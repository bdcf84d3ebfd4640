/**
 * Line-oriented inputs (JSONL, plain text), gzip or not, streamed: memory holds one chunk, never the file.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { UnreadableFileError } from './types.js';

export function openMaybeGzip(absPath: string, onBytes: (n: number) => void): Readable {
  const raw = createReadStream(absPath, { highWaterMark: 1 << 20 });
  raw.on('data', (c) => onBytes((c as Buffer).length));
  if (!/\.gz$/i.test(absPath)) return raw;
  const gz = createGunzip();
  raw.on('error', (e) => gz.destroy(e));
  return raw.pipe(gz);
}

export async function* readLines(absPath: string, relPath: string, onBytes: (n: number) => void): AsyncGenerator<{ line: string; n: number }> {
  const stream = openMaybeGzip(absPath, onBytes);
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of rl) yield { line, n: ++n };
  } catch (err) {
    throw new UnreadableFileError(relPath, `cannot read ${relPath} after line ${n}: ${(err as Error).message}`);
  }
}
