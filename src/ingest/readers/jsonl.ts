import path from 'node:path';
import { MAX_DEPTH, nestsDeeperThan, SHALLOW_CHARS, tooDeepDetail } from '../depth.js';
import { withExactIntegers } from '../json.js';
import { lineTooLong, readLineBatches } from './lines.js';
import { BATCH, type RawItem, type Reader } from './types.js';

export const readJsonl: Reader = async function* ({ absPath, relPath, onBytes, part, maxLineBytes }): AsyncGenerator<RawItem[]> {
  const baseDir = path.dirname(absPath);
  for await (const { lines, first, tooLong } of readLineBatches(absPath, relPath, onBytes, BATCH, part && 'start' in part ? part : undefined, maxLineBytes)) {
    const items: RawItem[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (tooLong?.has(i)) {
        const location = `line ${first + i}`;
        items.push({ file: relPath, location, key: location, baseDir, error: lineTooLong(first + i, tooLong.get(i)!, maxLineBytes) });
        continue;
      }
      if (line.length === 0 || line.trim() === '') continue; // blank lines separate nothing; they are not records
      const location = `line ${first + i}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        items.push({ file: relPath, location, key: location, baseDir, error: { reason: 'invalid_json', detail: (err as Error).message } });
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        const got = Array.isArray(value) ? 'an array' : typeof value === 'bigint' ? String(value) : JSON.stringify(value)?.slice(0, 40);
        items.push({ file: relPath, location, key: location, baseDir, error: { reason: 'not_an_object', detail: `expected a JSON object, got ${got}` } });
        continue;
      }
      // JSON.parse itself does not recurse; what is done with the value later would
      if (line.length > SHALLOW_CHARS && nestsDeeperThan(value, MAX_DEPTH)) {
        items.push({ file: relPath, location, key: location, baseDir, error: { reason: 'too_deep', detail: tooDeepDetail('the record') } });
        continue;
      }
      // a line with an integer beyond 2^53 holds a bigint: not plain JSON any more, metadata writes it by its digits
      const exact = withExactIntegers(line, value);
      items.push({ file: relPath, location, key: location, baseDir, fields: exact.value as Record<string, unknown>, plain: !exact.big });
    }
    if (items.length) yield items;
  }
};
