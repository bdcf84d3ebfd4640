import type { FilePart } from '../detect.js';

/** What every input reader yields: raw fields with their location, or a record-level error. */
export interface RawItem {
  /** Input file relative to the input root (what rejects and ids name). */
  file: string;
  /** Human location inside the file: `line 17`, `row 3`, `key 000123`, `image cat.jpg`. */
  location: string;
  /** Stable key for the record id. */
  key: string;
  fields?: Record<string, unknown>;
  /** A WebDataset sample's KEY.json (img2dataset: url, width, height, status...): its keys join the metadata. */
  sidecar?: Record<string, unknown>;
  error?: { reason: string; detail: string };
  /** Folder that relative image paths in this record resolve against. */
  baseDir: string;
  /** The fields came from JSON text (no bytes, no bigints) and belong to this item alone: mapping may consume them. */
  plain?: boolean;
}

export interface ReaderInput {
  absPath: string;
  relPath: string;
  /** Read only this part of the file (split.ts); absent: all of it. */
  part?: FilePart;
  /** Reports bytes consumed, for progress. */
  onBytes: (n: number) => void;
  /** Line-based formats: a longer line is rejected as `line_too_long` (default DEFAULT_MAX_LINE_BYTES). */
  maxLineBytes?: number;
}

/** Readers yield batches: one await per batch, not per record, keeps small records cheap. */
export type Reader = (input: ReaderInput) => AsyncIterable<RawItem[]>;

/** Rows per batch: large enough to amortise the async hops, small enough to bound the images in flight. */
export const BATCH = 256;

/** A whole file failed (truncated Parquet, broken tar): the run reports it and goes on with other files. */
export class UnreadableFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnreadableFileError';
  }
}
