import path from 'node:path';
import { readLines } from './lines.js';
import type { RawItem, Reader } from './types.js';

export const readJsonl: Reader = async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem> {
  const baseDir = path.dirname(absPath);
  for await (const { line, n } of readLines(absPath, relPath, onBytes)) {
    if (line.trim() === '') continue; // blank lines separate nothing; they are not records
    const at = { file: relPath, location: `line ${n}`, key: `line ${n}`, baseDir };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      yield { ...at, error: { reason: 'invalid_json', detail: (err as Error).message } };
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield { ...at, error: { reason: 'not_an_object', detail: `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)?.slice(0, 40)}` } };
      continue;
    }
    yield { ...at, fields: value as Record<string, unknown> };
  }
};
