/**
 * Arrow IPC as Hugging Face `datasets` writes it: the `data-0000N-of-0000M.arrow` shards of a `save_to_disk`
 * folder (and the `.arrow` files of its cache) are IPC *streams*, one record batch after another (1,000 rows,
 * 100 for image datasets). Read batch by batch, so memory holds one batch whatever the file size. Values come
 * out as the Parquet reader gives them: an `Image` feature is a struct `{bytes, path}` with bytes as a
 * Uint8Array, int64 is a bigint (every digit kept), lists are arrays, structs plain objects.
 */
import * as storage from '../../storage/index.js';
import path from 'node:path';
import { UnreadableFileError, type RawItem, type Reader } from './types.js';

/** Rows per yielded batch: a record batch is cut to this, as the Parquet reader cuts row groups. */
const ROWS = 256;

export const readArrow: Reader = async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem[]> {
  const baseDir = path.dirname(absPath);
  // loaded here: only an Arrow input pays for the library
  const { RecordBatchReader, Vector } = await import('apache-arrow');
  const plain = plainOf(Vector);
  const src = storage.stream(absPath);
  const counted = (async function* (): AsyncGenerator<Uint8Array> {
    for await (const c of src as AsyncIterable<Buffer>) {
      onBytes(c.length);
      yield c;
    }
  })();
  let row = 0;
  const fail = (err: unknown): UnreadableFileError =>
    new UnreadableFileError(relPath, `cannot read ${relPath} as an Arrow IPC stream${row ? ` after row ${row - 1}` : ''}: ${(err as Error).message}`);
  let reader;
  try {
    reader = await RecordBatchReader.from(counted);
  } catch (err) {
    src.destroy();
    throw fail(err);
  }
  const batches = reader[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next;
      try {
        next = await batches.next();
      } catch (err) {
        throw fail(err);
      }
      if (next.done) break;
      const batch = next.value;
      const names = batch.schema.fields.map((f) => f.name);
      const columns = names.map((_, j) => batch.getChildAt(j));
      for (let start = 0; start < batch.numRows; start += ROWS) {
        const items: RawItem[] = [];
        for (let i = start; i < Math.min(batch.numRows, start + ROWS); i++) {
          const fields: Record<string, unknown> = {};
          for (let j = 0; j < names.length; j++) fields[names[j]!] = plain(columns[j]?.get(i));
          const at = row++;
          items.push({ file: relPath, location: `row ${at}`, key: `row ${at}`, baseDir, fields });
        }
        yield items;
      }
    }
  } finally {
    src.destroy();
  }
};

/** An Arrow value as a plain JS value: struct rows become objects, list vectors arrays; bytes and bigints stay. */
function plainOf(Vector: abstract new (...args: never[]) => object): (v: unknown) => unknown {
  const plain = (v: unknown): unknown => {
    if (v === null || v === undefined || typeof v !== 'object') return v ?? null;
    if (v instanceof Uint8Array || v instanceof Date) return v;
    // a List cell is a Vector; a Struct or Map cell a row proxy whose toJSON is an object of raw cells
    if (v instanceof Vector) return Array.from(v as unknown as Iterable<unknown>, plain);
    const o = v as { toJSON?: () => unknown };
    if (typeof o.toJSON === 'function') {
      const obj = o.toJSON() as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(obj)) out[k] = plain(obj[k]);
      return out;
    }
    return v;
  };
  return plain;
}
