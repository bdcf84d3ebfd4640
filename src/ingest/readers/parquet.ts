import path from 'node:path';
import { openParquet, readRowGroup, slices } from '../../io/parquet.js';
import { BATCH, UnreadableFileError, type RawItem, type Reader } from './types.js';

export const readParquet: Reader = async function* ({ absPath, relPath, onBytes, part }): AsyncGenerator<RawItem[]> {
  const baseDir = path.dirname(absPath);
  let pf;
  try {
    pf = await openParquet(absPath);
  } catch (err) {
    throw new UnreadableFileError(relPath, `cannot read ${relPath} as Parquet: ${(err as Error).message}`);
  }
  const bytesPerRow = pf.rows > 0 ? pf.file.byteLength / pf.rows : 0;
  const groups = part && 'firstGroup' in part ? pf.groups.slice(part.firstGroup, part.endGroup) : pf.groups;
  let row = groups[0]?.start ?? 0;
  for (const group of groups) {
    for (const slice of slices(group, BATCH)) {
      let rows: Record<string, unknown>[];
      try {
        rows = await readRowGroup(pf, slice);
      } catch (err) {
        throw new UnreadableFileError(relPath, `cannot read rows ${slice.start}-${slice.end - 1} of ${relPath}: ${(err as Error).message}`);
      }
      onBytes(bytesPerRow * rows.length);
      yield rows.map((fields) => {
        const at = row++;
        return { file: relPath, location: `row ${at}`, key: `row ${at}`, baseDir, fields };
      });
    }
  }
};
