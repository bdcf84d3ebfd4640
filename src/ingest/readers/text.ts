import path from 'node:path';
import { readLineBatches } from './lines.js';
import { BATCH, type RawItem, type Reader } from './types.js';

/** Plain text corpora: one document per non-blank line (`--text-split line`), per paragraph, or per file. */
export function textReader(split: 'line' | 'paragraph' | 'file'): Reader {
  return async function* ({ absPath, relPath, onBytes, part }): AsyncGenerator<RawItem[]> {
    const baseDir = path.dirname(absPath);
    let buf: string[] = [];
    let startLine = 0;
    let items: RawItem[] = [];
    const flush = (): void => {
      const text = buf.join('\n');
      buf = [];
      if (text.trim() === '') return;
      const loc = split === 'file' ? 'file' : `line ${startLine}`;
      items.push({ file: relPath, location: loc, key: loc, baseDir, fields: { text } });
    };
    for await (const { lines, first } of readLineBatches(absPath, relPath, onBytes, BATCH, part && 'start' in part ? part : undefined)) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        const n = first + i;
        if (split === 'line') {
          if (line.trim() !== '') items.push({ file: relPath, location: `line ${n}`, key: `line ${n}`, baseDir, fields: { text: line } });
          continue;
        }
        if (split === 'paragraph' && line.trim() === '') {
          flush();
          continue;
        }
        if (buf.length === 0) startLine = n;
        buf.push(line);
      }
      if (items.length) {
        yield items;
        items = [];
      }
    }
    flush();
    if (items.length) yield items;
  };
}
