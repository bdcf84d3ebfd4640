/** What every storage backend does. Locations are full strings (a path, or a URL as location.ts reads it). */
import type { Readable } from 'node:stream';

export interface Entry {
  /** The full location of the object (same form as the prefix given to list). */
  loc: string;
  size: number;
}

export interface Backend {
  /** Size in bytes, or undefined when there is no such object. */
  size(loc: string): Promise<number | undefined>;
  /** Bytes [start, end) as a stream that resumes after a dropped connection. */
  stream(loc: string, start?: number, end?: number): Readable;
  /** Bytes [start, end) in one buffer. */
  read(loc: string, start: number, end: number): Promise<Uint8Array>;
  /** Every object under a folder (recursively), sorted by location. */
  list(dir: string): Promise<Entry[]>;
  /** Writes an object whole: a reader sees the old object or the new one, never part of one. */
  put(loc: string, data: Uint8Array | string): Promise<void>;
  /** Uploads a local file (multipart for large files, completed last). */
  putFile(loc: string, file: string): Promise<void>;
  /** Writes only when no object is there; false when one is. */
  putIfAbsent(loc: string, data: Uint8Array | string): Promise<boolean>;
  remove(loc: string): Promise<void>;
}
