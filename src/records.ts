/**
 * The record kinds and the things every stage needs to know about them. The shapes themselves come from
 * schemas/record-*.schema.json (see records.generated.ts).
 */
import { hash } from 'node:crypto';
import type { CaptionRecord, InterleavedRecord, TextRecord, MixtureRecord, Image } from './records.generated.js';

export type { CaptionRecord, InterleavedRecord, TextRecord, MixtureRecord, Image };
export type Kind = 'caption' | 'interleaved' | 'text';
export const KINDS: readonly Kind[] = Object.freeze(['caption', 'interleaved', 'text']);
export type AnyRecord = CaptionRecord | InterleavedRecord | TextRecord;
/** The schema a dataset's shards follow: one per kind, or the mixture's. */
export type Layout = Kind | 'mixture';

export function isKind(v: string): v is Kind {
  return (KINDS as readonly string[]).includes(v);
}

/**
 * An id that is the same on every run over the same input: it hashes where the record came from (source,
 * file relative to the input root, and the key, line or row), not when it was read.
 */
export function recordId(source: string, file: string, key: string): string {
  return hash('sha256', `${source}\0${file}\0${key}`, 'hex').slice(0, 32);
}
