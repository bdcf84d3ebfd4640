import path from 'node:path';
import { parseJsonExact } from '../json.js';
import { readLineBatches } from './lines.js';
import { BATCH, type RawItem, type Reader } from './types.js';

export const readJsonl: Reader = async function* ({ absPath, relPath, onBytes, part }): AsyncGenerator<RawItem[]> {
  const baseDir = path.dirname(absPath);
  for await (const { lines, first } of readLineBatches(absPath, relPath, onBytes, BATCH, part && 'start' in part ? part : undefined)) {
    const items: RawItem[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0 || line.trim() === '') continue; // blank lines separate nothing; they are not records
      const location = `line ${first + i}`;
      let value: unknown;
      let big: boolean;
      try {
        ({ value, big } = parseJsonExact(line));
      } catch (err) {
        items.push({ file: relPath, location, key: location, baseDir, error: { reason: 'invalid_json', detail: (err as Error).message } });
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        const got = Array.isArray(value) ? 'an array' : typeof value === 'bigint' ? String(value) : JSON.stringify(value)?.slice(0, 40);
        items.push({ file: relPath, location, key: location, baseDir, error: { reason: 'not_an_object', detail: `expected a JSON object, got ${got}` } });
        continue;
      }
      // a line with an integer beyond 2^53 holds a bigint: not plain JSON any more, metadata writes it by its digits
      items.push({ file: relPath, location, key: location, baseDir, fields: value as Record<string, unknown>, plain: !big });
    }
    if (items.length) yield items;
  }
};
