/**
 * Cuts large input files into parts, so one big LAION metadata file or text corpus keeps every core busy
 * and a failed run redoes a part, not the file. Only what can be cut exactly is cut: line-delimited files
 * (JSONL, plain text one document per line) at line starts, CSV/TSV where a record ends (never inside a
 * quoted field that holds a newline), Parquet at row-group boundaries. Compressed streams, tars and image
 * folders stay whole. Parts depend only on the file
 * and the part size, so a re-run makes the same tasks and resumes.
 */
import { createReadStream } from 'node:fs';
import * as storage from '../storage/index.js';
import { openParquet } from '../io/parquet.js';
import { COMPRESSED } from './readers/decompress.js';
import { CsvRecordEnds } from './csv-records.js';
import type { InputUnit } from './detect.js';

/** Default part size: large enough that a part's fixed costs vanish, small enough to spread a 1 GB file. */
export const DEFAULT_PART_BYTES = 256 * 1024 * 1024;

export interface SplitOptions {
  partBytes: number;
  /** Plain text split by paragraph or as whole files cannot be cut at any line. */
  textSplit: 'line' | 'paragraph' | 'file';
}

export async function splitUnits(units: InputUnit[], o: SplitOptions): Promise<InputUnit[]> {
  const out: InputUnit[] = [];
  for (const u of units) {
    if (o.partBytes <= 0 || u.bytes <= o.partBytes) out.push(u);
    else if (u.format === 'parquet') out.push(...(await parquetParts(u, o.partBytes)));
    else if (lineSplittable(u, o)) out.push(...(await lineParts(u, o.partBytes)));
    else out.push(u);
  }
  return out;
}

function lineSplittable(u: InputUnit, o: SplitOptions): boolean {
  if (COMPRESSED.test(u.absPath)) return false;
  return u.format === 'jsonl' || u.format === 'csv' || u.format === 'tsv' || (u.format === 'txt' && o.textSplit === 'line');
}

/**
 * One pass over the file counts newlines up to each cut, which is moved to the next line start (for CSV,
 * the next record start): every part knows the number of its first line, so rejects and ids name the same
 * lines as an uncut read.
 */
async function lineParts(u: InputUnit, partBytes: number): Promise<InputUnit[]> {
  const cuts: { start: number; firstLine: number }[] = [{ start: 0, firstLine: 1 }];
  const csv = u.format === 'csv' || u.format === 'tsv' ? new CsvRecordEnds(u.format === 'csv' ? 44 : 9, u.format === 'csv') : undefined;
  let target = partBytes;
  let pos = 0;
  let lines = 0;
  const onNewline = (nl: number, endsRecord: boolean): void => {
    lines++;
    const next = pos + nl + 1;
    if (endsRecord && next >= target && next < u.bytes) {
      cuts.push({ start: next, firstLine: lines + 1 });
      target = next + partBytes;
    }
  };
  for await (const chunk of (storage.isRemote(u.absPath) ? storage.stream(u.absPath) : createReadStream(u.absPath, { highWaterMark: 4 << 20 })) as AsyncIterable<Buffer>) {
    if (csv) csv.scan(chunk, onNewline);
    else for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, nl + 1)) onNewline(nl, true);
    pos += chunk.length;
  }
  return cuts.map((c, i) => {
    const end = i + 1 < cuts.length ? cuts[i + 1]!.start : u.bytes;
    return { ...u, bytes: end - c.start, part: { start: c.start, end, firstLine: c.firstLine } };
  });
}

async function parquetParts(u: InputUnit, partBytes: number): Promise<InputUnit[]> {
  let groups: number[];
  try {
    groups = (await openParquet(u.absPath)).metadata.row_groups.map((g) => Number(g.total_compressed_size ?? g.total_byte_size));
  } catch {
    return [u]; // unreadable: the task reports it with its path, as for an uncut file
  }
  const parts: InputUnit[] = [];
  let first = 0;
  let bytes = 0;
  for (let g = 0; g < groups.length; g++) {
    bytes += groups[g]!;
    if (bytes >= partBytes || g === groups.length - 1) {
      parts.push({ ...u, bytes, part: { firstGroup: first, endGroup: g + 1 } });
      first = g + 1;
      bytes = 0;
    }
  }
  return parts.length > 1 ? parts : [u];
}
