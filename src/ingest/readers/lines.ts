/**
 * Line-oriented inputs (JSONL, plain text), compressed or not, streamed in batches of lines: memory holds one
 * chunk and one batch, never the file.
 */
import * as storage from '../../storage/index.js';
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
  const raw = storage.stream(absPath, range);
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

/** Lines longer than this many bytes are rejected (`line_too_long`) unless `--max-line-mb` says otherwise. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** The reject for a line over the limit. */
export function lineTooLong(line: number, bytes: number, maxLineBytes = DEFAULT_MAX_LINE_BYTES): { reason: 'line_too_long'; detail: string } {
  const mib = (b: number): string => `${+(b / 2 ** 20).toFixed(2)} MiB`;
  return { reason: 'line_too_long', detail: `line ${line} is ${mib(bytes)} (${bytes} bytes), over the limit of ${mib(maxLineBytes)}; it was skipped unread (raise --max-line-mb to read it)` };
}

/** A batch of consecutive lines; `first` is the 1-based number of `lines[0]`. */
export interface LineBatch {
  lines: string[];
  first: number;
  /**
   * Lines over the length limit, by index in `lines` (where they stand as ''): their length in bytes. Such
   * a line's text was never held whole.
   */
  tooLong?: Map<number, number>;
}

/**
 * Yields batches of consecutive lines (a trailing `\r` dropped). Plain strings with one line number per
 * batch, not an object per line: JSONL ingest is bound by per-row allocations.
 *
 * Linear in the input, however long its lines: each chunk is searched once, and a line that spans chunks
 * is gathered as pieces and joined once, when it ends. A line over `maxLineBytes` is not gathered at all:
 * its bytes are counted and dropped until it ends, and it comes out as a `tooLong` entry.
 */
export async function* readLineBatches(
  absPath: string,
  relPath: string,
  onBytes: (n: number) => void,
  batch = 1024,
  part?: { start: number; end: number; firstLine: number },
  maxLineBytes = DEFAULT_MAX_LINE_BYTES,
): AsyncGenerator<LineBatch> {
  const decoder = new StringDecoder('utf8');
  /** The line being gathered across chunks, and its length in bytes so far. */
  let pieces: string[] = [];
  let pendingBytes = 0;
  /** The line being gathered is over the limit: its pieces are dropped, only its length counted. */
  let dropping = false;
  let n = part ? part.firstLine - 1 : 0;
  let out: string[] = [];
  let tooLong: Map<number, number> | undefined;
  let first = n + 1;
  const push = (line: string): void => {
    n++;
    // a UTF-8 byte-order mark (Windows editors, Excel exports) is not part of the first record
    if (n === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    // a UTF-16 unit is 1 to 3 UTF-8 bytes: only a line that might be over the limit is measured
    if (line.length * 3 > maxLineBytes && Buffer.byteLength(line) > maxLineBytes) return pushTooLong(Buffer.byteLength(line));
    out.push(line.endsWith('\r') ? line.slice(0, -1) : line);
  };
  const pushTooLong = (bytes: number): void => {
    (tooLong ??= new Map()).set(out.length, bytes);
    out.push('');
  };
  /** Text with no line end in it: it continues the pending line. */
  const gather = (text: string): void => {
    if (text === '') return;
    pendingBytes += Buffer.byteLength(text);
    if (dropping) return;
    if (pendingBytes > maxLineBytes) {
      dropping = true;
      pieces = [];
    } else pieces.push(text);
  };
  /** The pending line ends with `tail`. */
  const endPending = (tail: string): void => {
    if (dropping) {
      n++;
      pushTooLong(pendingBytes + Buffer.byteLength(tail));
    } else if (pieces.length) {
      pieces.push(tail);
      push(pieces.join(''));
    } else push(tail);
    pieces = [];
    pendingBytes = 0;
    dropping = false;
  };
  const input = openInput(absPath, onBytes, part);
  try {
    for await (const chunk of input) {
      const text = decoder.write(chunk as Buffer);
      let nl = text.indexOf('\n');
      if (nl < 0) {
        gather(text);
        continue;
      }
      endPending(text.slice(0, nl));
      let start = nl + 1;
      for (nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
        if (out.length >= batch) {
          yield { lines: out, first, ...(tooLong ? { tooLong } : {}) };
          out = [];
          tooLong = undefined;
          first = n + 1;
        }
        push(text.slice(start, nl));
        start = nl + 1;
      }
      gather(text.slice(start));
      if (out.length >= batch) {
        yield { lines: out, first, ...(tooLong ? { tooLong } : {}) };
        out = [];
        tooLong = undefined;
        first = n + 1;
      }
    }
  } catch (err) {
    input.damage ??= err as Error;
  }
  if (input.damage) {
    // the complete lines read before the damage are records like any other: deliver them, then report; the
    // line it cut is part of the damage
    if (out.length) yield { lines: out, first, ...(tooLong ? { tooLong } : {}) };
    throw new UnreadableFileError(relPath, `cannot read ${relPath} after line ${n}: ${input.damage.message}`);
  }
  gather(decoder.end());
  if (pendingBytes > 0) endPending('');
  if (out.length) yield { lines: out, first, ...(tooLong ? { tooLong } : {}) };
}
