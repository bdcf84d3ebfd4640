import path from 'node:path';
import * as storage from '../../storage/index.js';
import { parse, type Options } from 'csv-parse';
import { LineIndex } from './line-index.js';
import { openInput } from './lines.js';
import { BATCH, UnreadableFileError, type RawItem, type Reader } from './types.js';

/**
 * csv-parse settings for each format. Records end at `\r\n`, `\n` or `\r`, mixed in one file. CSV follows
 * RFC 4180 quoting; TSV has none (a TSV field cannot hold a tab or a newline, so there is nothing to
 * quote): a caption that starts with `"` in a Conceptual Captions TSV is text, not the start of a quoted
 * field that swallows the rest of the file.
 */
export function csvOptions(delimiter: ',' | '\t'): Options {
  return {
    delimiter,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    bom: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    skip_records_with_error: true,
    ...(delimiter === '\t' ? { quote: false } : {}),
  };
}

interface Parsed {
  record: string[];
  /** Stream offset where the record ends (after its delimiter). */
  bytes: number;
}

/**
 * CSV/TSV with a header row (or the column names given with `--csv-columns`); a row whose column count is
 * off, or that the parser cannot read (an unclosed quote), is rejected, not fatal. A part of a large file
 * (split.ts) starts at a record boundary: it takes the header from the file's first record. A record is
 * named by the line it starts on, counted from the byte offsets csv-parse reports, so a part names the
 * same lines as a whole read. A compressed file cut short keeps its complete records.
 */
export function csvReader(delimiter: ',' | '\t', columns?: string[]): Reader {
  const what = delimiter === ',' ? 'CSV' : 'TSV';
  return async function* ({ absPath, relPath, onBytes, part }): AsyncGenerator<RawItem[]> {
    const baseDir = path.dirname(absPath);
    const range = part && 'start' in part ? part : undefined;
    let names = columns;
    try {
      if (!names && range && range.start > 0) names = await headerOf(absPath, delimiter);
    } catch (err) {
      throw new UnreadableFileError(relPath, `cannot read the header row of ${relPath} as ${what}: ${(err as Error).message}`);
    }
    const input = openInput(absPath, onBytes, range);
    const lines = new LineIndex(range?.firstLine ?? 1);
    const parser = parse(csvOptions(delimiter));
    // Each record travels with the byte offset where it ends: csv-parse's `info` option would copy its whole
    // info object per record (9% of CSV ingest); its stream pushes a record as soon as the record is
    // parsed, when `parser.info.bytes` is exactly that offset.
    const push = parser.push.bind(parser);
    let pushedEnd = 0;
    parser.push = (rec: unknown): boolean => {
      if (rec === null) return push(null);
      pushedEnd = parser.info.bytes;
      return push({ record: rec, bytes: pushedEnd });
    };
    // records the parser gave up on (an unclosed quote): each starts where the last delivered record ended;
    // reported in file order
    const skipped: { at: number; message: string }[] = [];
    // (the parser's own line number restarts in every part of a cut file: the reject's location says where)
    parser.on('skip', (err: Error) => skipped.push({ at: pushedEnd, message: err.message.replace(/ at line \d+/, '') }));
    // A damaged input ends the parse (openInput sets `damage`); the record it was in the middle of is not
    // delivered (see below).
    let damage: Error | undefined;
    input.on('data', (c: Buffer) => lines.add(c)); // before pipe(): this listener sees each chunk before the parser
    input.pipe(parser);

    let recordStart = 0;
    let protoColumn = names?.includes('__proto__') ?? false;
    let items: RawItem[] = [];
    const at = (offset: number): Pick<RawItem, 'file' | 'location' | 'key' | 'baseDir'> => {
      const line = lines.recordLine(offset);
      return { file: relPath, location: `line ${line}`, key: `line ${line}`, baseDir };
    };
    const reportSkipped = (upTo: number): void => {
      while (skipped.length && skipped[0]!.at <= upTo) {
        const s = skipped.shift()!;
        items.push({ ...at(s.at), error: { reason: 'invalid_csv_row', detail: `${what} parser: ${s.message}` } });
      }
    };
    const take = (rec: Parsed): void => {
      const start = recordStart;
      recordStart = rec.bytes;
      if (!names) {
        names = uniqueNames(rec.record);
        protoColumn = names.includes('__proto__');
        const data = names.find((n) => /^(https?|s3|gs):\/\//i.test(n) || n.length > 100);
        // Conceptual Captions' TSVs have no header row: their first record would silently become one
        if (data) process.stderr.write(`warning: ${relPath}: the header row holds "${data.slice(0, 60)}", which looks like data; if the file has no header row, name its columns with --csv-columns (e.g. --csv-columns caption,url)\n`);
        return;
      }
      reportSkipped(start);
      const values = rec.record;
      if (values.length !== names.length) {
        items.push({ ...at(start), error: { reason: 'invalid_csv_row', detail: `expected ${names.length} columns as in the header, got ${values.length}` } });
        return;
      }
      const fields: Record<string, string> = {};
      // plain objects built in one key order share V8's fast layout; a column called __proto__ (which an
      // assignment would take as the prototype) is defined as an own property instead
      if (protoColumn) for (let i = 0; i < names.length; i++) Object.defineProperty(fields, names[i]!, { value: values[i], enumerable: true, writable: true, configurable: true });
      else for (let i = 0; i < names.length; i++) fields[names[i]!] = values[i]!;
      items.push({ ...at(start), fields, plain: true }); // strings of this record alone: mapping may consume them
    };
    // one record is held back: when the stream was damaged, the last one may be cut short
    let held: Parsed | undefined;
    try {
      for await (const rec of parser as AsyncIterable<Parsed>) {
        if (held) take(held);
        held = rec;
        if (items.length >= BATCH) {
          yield items;
          items = [];
        }
      }
    } catch (err) {
      damage ??= err as Error;
    }
    damage = input.damage ?? damage;
    if (held && !(damage && held.bytes === lines.received && !lines.endsWithNewline())) take(held);
    if (!damage) reportSkipped(Infinity);
    if (items.length) yield items;
    if (damage) throw new UnreadableFileError(relPath, `cannot read ${relPath} as ${what} after line ${lines.recordLine(recordStart) - 1}: ${damage.message}`);
  };
}

/** Header names as read; a repeated name gets a suffix (`tag`, `tag.1`), as pandas does, so no column is lost. */
function uniqueNames(header: string[]): string[] {
  const seen = new Map<string, number>();
  return header.map((h) => {
    const n = seen.get(h) ?? 0;
    seen.set(h, n + 1);
    return n === 0 ? h : `${h}.${n}`;
  });
}

/** The column names in a file's first record. */
async function headerOf(absPath: string, delimiter: ',' | '\t'): Promise<string[]> {
  const parser = storage.stream(absPath).pipe(parse({ ...csvOptions(delimiter), to: 1 }));
  for await (const rec of parser as AsyncIterable<string[]>) {
    parser.destroy();
    return uniqueNames(rec);
  }
  throw new Error('the file has no header row');
}
