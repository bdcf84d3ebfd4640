import path from 'node:path';
import { readLineBatches } from './lines.js';
import { BATCH, type RawItem, type Reader } from './types.js';

export const readJsonl: Reader = async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem[]> {
  const baseDir = path.dirname(absPath);
  for await (const lines of readLineBatches(absPath, relPath, onBytes, BATCH)) {
    const items: RawItem[] = [];
    for (const { line, n } of lines) {
      if (line.trim() === '') continue; // blank lines separate nothing; they are not records
      const at = { file: relPath, location: `line ${n}`, key: `line ${n}`, baseDir };
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        items.push({ ...at, error: { reason: 'invalid_json', detail: (err as Error).message } });
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        items.push({ ...at, error: { reason: 'not_an_object', detail: `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)?.slice(0, 40)}` } });
        continue;
      }
      items.push({ file: relPath, location: at.location, key: at.key, baseDir, fields: value as Record<string, unknown>, plain: true });
    }
    if (items.length) yield items;
  }
};
