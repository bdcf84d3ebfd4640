import path from 'node:path';
import { lineTooLong, readLineBatches } from './lines.js';
import { BATCH, type RawItem, type Reader } from './types.js';

/**
 * Plain text corpora: one document per non-blank line (`--text-split line`), per paragraph, or per file. A
 * line over the length limit is a `line_too_long` reject; a paragraph or file holding one is rejected whole
 * (a document with a line cut out of it would be kept as something it never was).
 */
export function textReader(split: 'line' | 'paragraph' | 'file'): Reader {
  return async function* ({ absPath, relPath, onBytes, part, maxLineBytes }): AsyncGenerator<RawItem[]> {
    const baseDir = path.dirname(absPath);
    let buf: string[] = [];
    let startLine = 0;
    /** The document being gathered holds a line over the limit: the reject it becomes. */
    let overLong: { reason: string; detail: string } | undefined;
    let items: RawItem[] = [];
    const flush = (): void => {
      const text = buf.join('\n');
      buf = [];
      const bad = overLong;
      overLong = undefined;
      if (!bad && text.trim() === '') return;
      const loc = split === 'file' ? 'file' : `line ${startLine}`;
      items.push({ file: relPath, location: loc, key: loc, baseDir, ...(bad ? { error: bad } : { fields: { text } }) });
    };
    for await (const { lines, first, tooLong } of readLineBatches(absPath, relPath, onBytes, BATCH, part && 'start' in part ? part : undefined, maxLineBytes)) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        const n = first + i;
        if (tooLong?.has(i)) {
          const reject = lineTooLong(n, tooLong.get(i)!, maxLineBytes);
          if (split === 'line') items.push({ file: relPath, location: `line ${n}`, key: `line ${n}`, baseDir, error: reject });
          else {
            if (buf.length === 0) startLine = n;
            buf.push('');
            overLong ??= { reason: reject.reason, detail: `the ${split === 'file' ? 'file' : 'paragraph'} holds ${reject.detail}` };
          }
          continue;
        }
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
