import path from 'node:path';
import { readLines } from './lines.js';
import type { RawItem, Reader } from './types.js';

/** Plain text corpora: one document per non-blank line (`--text-split line`) or per paragraph/file. */
export function textReader(split: 'line' | 'paragraph' | 'file'): Reader {
  return async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem> {
    const baseDir = path.dirname(absPath);
    let buf: string[] = [];
    let startLine = 0;
    const flush = (): RawItem | undefined => {
      const text = buf.join('\n');
      buf = [];
      if (text.trim() === '') return undefined;
      const loc = split === 'file' ? 'file' : `line ${startLine}`;
      return { file: relPath, location: loc, key: loc, baseDir, fields: { text } };
    };
    for await (const { line, n } of readLines(absPath, relPath, onBytes)) {
      if (split === 'line') {
        if (line.trim() === '') continue;
        yield { file: relPath, location: `line ${n}`, key: `line ${n}`, baseDir, fields: { text: line } };
        continue;
      }
      if (split === 'paragraph' && line.trim() === '') {
        const item = flush();
        if (item) yield item;
        continue;
      }
      if (buf.length === 0) startLine = n;
      buf.push(line);
    }
    const item = flush();
    if (item) yield item;
  };
}
