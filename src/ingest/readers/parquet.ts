import path from 'node:path';
import { openParquet, readRowGroup, slices } from '../../io/parquet.js';
import { UnreadableFileError, type RawItem, type Reader } from './types.js';

export const readParquet: Reader = async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem> {
  const baseDir = path.dirname(absPath);
  let pf;
  try {
    pf = await openParquet(absPath);
  } catch (err) {
    throw new UnreadableFileError(relPath, `cannot read ${relPath} as Parquet: ${(err as Error).message}`);
  }
  const bytesPerRow = pf.rows > 0 ? pf.file.byteLength / pf.rows : 0;
  let row = 0;
  for (const group of pf.groups) {
    for (const slice of slices(group, 8192)) {
      let rows: Record<string, unknown>[];
      try {
        rows = await readRowGroup(pf, slice);
      } catch (err) {
        throw new UnreadableFileError(relPath, `cannot read rows ${slice.start}-${slice.end - 1} of ${relPath}: ${(err as Error).message}`);
      }
      for (const fields of rows) {
        yield { file: relPath, location: `row ${row}`, key: `row ${row}`, baseDir, fields };
        row++;
      }
      onBytes(bytesPerRow * rows.length);
    }
  }
};
