import path from 'node:path';
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { LineIndex } from './line-index.js';
import { openInput } from './lines.js';
import { BATCH, UnreadableFileError, type RawItem, type Reader } from './types.js';

const PARSE = { relax_column_count: true, relax_quotes: true, skip_empty_lines: true, bom: true } as const;

/**
 * CSV/TSV with a header row (or the column names given with `--csv-columns`); a row whose column count is
 * off is rejected, not fatal. A part of a large file (split.ts) starts at a record boundary: it takes the
 * header from the file's first record. A record is named by the line it starts on, counted from the bytes
 * csv-parse reports (its own line count treats a `\r` inside quotes as a line break), so a part names the
 * same lines as a whole read.
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
    input.on('data', (c: Buffer) => lines.add(c)); // before pipe(): this listener sees each chunk before the parser
    const parser = parse({ ...PARSE, delimiter });
    // Each record travels with the byte offset where it ends: csv-parse's `info` option would copy its whole
    // info object per record (9% of CSV ingest); its stream pushes a record as soon as the record is
    // parsed, when `parser.info.bytes` is exactly that offset.
    const push = parser.push.bind(parser);
    parser.push = (rec: unknown): boolean => push(rec === null ? null : { record: rec, bytes: parser.info.bytes });
    input.pipe(parser);
    let recordStart = 0;
    let items: RawItem[] = [];
    try {
      for await (const rec of parser as AsyncIterable<{ record: string[]; bytes: number }>) {
        const start = recordStart;
        recordStart = rec.bytes;
        if (!names) {
          names = rec.record;
          continue;
        }
        const line = lines.recordLine(start);
        const at = { file: relPath, location: `line ${line}`, key: `line ${line}`, baseDir };
        const values = rec.record;
        if (values.length !== names.length) {
          items.push({ ...at, error: { reason: 'invalid_csv_row', detail: `expected ${names.length} columns as in the header, got ${values.length}` } });
        } else {
          const fields: Record<string, string> = {};
          for (let i = 0; i < names.length; i++) fields[names[i]!] = values[i]!;
          items.push({ ...at, fields, plain: true }); // strings of this record alone: mapping may consume them
        }
        if (items.length >= BATCH) {
          yield items;
          items = [];
        }
      }
      if (items.length) yield items;
    } catch (err) {
      throw new UnreadableFileError(relPath, `cannot parse ${relPath} as ${what}: ${(err as Error).message}`);
    }
  };
}

/** The column names in a file's first record. */
async function headerOf(absPath: string, delimiter: string): Promise<string[]> {
  const parser = createReadStream(absPath).pipe(parse({ ...PARSE, delimiter, to: 1 }));
  for await (const rec of parser as AsyncIterable<string[]>) {
    parser.destroy();
    return rec;
  }
  throw new Error('the file has no header row');
}
