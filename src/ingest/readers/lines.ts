/**
 * Line-oriented inputs (JSONL, plain text), compressed or not, streamed in batches of lines: memory holds one
 * chunk and one batch, never the file.
 */
import { createReadStream } from 'node:fs';
import { decompressorFor } from './decompress.js';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { UnreadableFileError } from './types.js';

/** `range`: bytes [start, end) of an uncompressed file. Compressed files (.gz, .zst) are decompressed on the way. */
export function openInput(absPath: string, onBytes: (n: number) => void, range?: { start: number; end: number }): Readable {
  const raw = createReadStream(absPath, { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end - 1 } : {}) });
  raw.on('data', (c) => onBytes((c as Buffer).length));
  const inflate = decompressorFor(absPath);
  if (!inflate) return raw;
  raw.on('error', (e) => inflate.destroy(e));
  return raw.pipe(inflate);
}

/** A batch of consecutive lines; `first` is the 1-based number of `lines[0]`. */
export interface LineBatch {
  lines: string[];
  first: number;
}

/**
 * Yields batches of consecutive lines (a trailing `\r` dropped). Plain strings with one line number per
 * batch, not an object per line: JSONL ingest is bound by per-row allocations.
 */
export async function* readLineBatches(
  absPath: string,
  relPath: string,
  onBytes: (n: number) => void,
  batch = 1024,
  part?: { start: number; end: number; firstLine: number },
): AsyncGenerator<LineBatch> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let n = part ? part.firstLine - 1 : 0;
  let out: string[] = [];
  let first = n + 1;
  const push = (line: string): void => {
    n++;
    // a UTF-8 byte-order mark (Windows editors, Excel exports) is not part of the first record
    if (n === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    out.push(line.endsWith('\r') ? line.slice(0, -1) : line);
  };
  try {
    for await (const chunk of openInput(absPath, onBytes, part)) {
      const text = rest + decoder.write(chunk as Buffer);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        push(text.slice(start, nl));
        start = nl + 1;
        if (out.length >= batch) {
          yield { lines: out, first };
          out = [];
          first = n + 1;
        }
      }
      rest = text.slice(start);
    }
  } catch (err) {
    // the complete lines read before the damage are records like any other: deliver them, then report
    if (out.length) yield { lines: out, first };
    throw new UnreadableFileError(relPath, `cannot read ${relPath} after line ${n}: ${(err as Error).message}`);
  }
  rest += decoder.end();
  if (rest !== '') push(rest);
  if (out.length) yield { lines: out, first };
}
