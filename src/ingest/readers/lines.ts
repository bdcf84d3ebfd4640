/**
 * Line-oriented inputs (JSONL, plain text), compressed or not, streamed in batches of lines: memory holds one
 * chunk and one batch, never the file.
 */
import { createReadStream } from 'node:fs';
import { decompressorFor } from './decompress.js';
import { PassThrough, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { UnreadableFileError } from './types.js';

/** An input's bytes; `damage` is set when the file could not be read to its end (a cut or corrupt stream). */
export interface InputStream extends Readable {
  damage?: Error;
}

/**
 * `range`: bytes [start, end) of an uncompressed file. Compressed files (.gz, .zst) are decompressed on the
 * way. A read or decompression error does not destroy the stream (that would drop the data already
 * decoded and buffered): it ends it and sets `damage`, so readers keep every complete record before it.
 */
export function openInput(absPath: string, onBytes: (n: number) => void, range?: { start: number; end: number }): InputStream {
  const raw = createReadStream(absPath, { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end - 1 } : {}) });
  raw.on('data', (c) => onBytes((c as Buffer).length));
  const inflate = decompressorFor(absPath);
  const src: Readable = inflate ? raw.pipe(inflate) : raw;
  if (inflate) raw.on('error', (e) => inflate.destroy(e));
  const out = new PassThrough({ highWaterMark: 1 << 20 }) as PassThrough & InputStream;
  src.on('error', (err) => {
    out.damage ??= err;
    src.unpipe(out);
    out.end();
  });
  src.pipe(out);
  return out;
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
  const input = openInput(absPath, onBytes, part);
  try {
    for await (const chunk of input) {
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
    input.damage ??= err as Error;
  }
  if (input.damage) {
    // the complete lines read before the damage are records like any other: deliver them, then report; the
    // line it cut is part of the damage
    if (out.length) yield { lines: out, first };
    throw new UnreadableFileError(relPath, `cannot read ${relPath} after line ${n}: ${input.damage.message}`);
  }
  rest += decoder.end();
  if (rest !== '') push(rest);
  if (out.length) yield { lines: out, first };
}
