import path from 'node:path';
import { parse } from 'csv-parse';
import { openInput } from './lines.js';
import { BATCH, UnreadableFileError, type RawItem, type Reader } from './types.js';

/** CSV/TSV with a header row; a row whose column count is off is rejected, not fatal. */
export function csvReader(delimiter: ',' | '\t'): Reader {
  return async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem[]> {
    const baseDir = path.dirname(absPath);
    const parser = openInput(absPath, onBytes).pipe(
      parse({ delimiter, columns: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, bom: true, info: true }),
    );
    let header: number | undefined;
    let items: RawItem[] = [];
    try {
      for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; invalid_field_length: number } }>) {
        const line = rec.info.lines;
        header ??= Object.keys(rec.record).length;
        const at = { file: relPath, location: `line ${line}`, key: `line ${line}`, baseDir };
        if (Object.keys(rec.record).length !== header || rec.info.invalid_field_length > 0) {
          items.push({ ...at, error: { reason: 'invalid_csv_row', detail: `expected ${header} columns as in the header` } });
        } else items.push({ ...at, fields: rec.record });
        if (items.length >= BATCH) {
          yield items;
          items = [];
        }
      }
      if (items.length) yield items;
    } catch (err) {
      throw new UnreadableFileError(relPath, `cannot parse ${relPath} as ${delimiter === ',' ? 'CSV' : 'TSV'}: ${(err as Error).message}`);
    }
  };
}
