/**
 * Rejected input records, one JSON line each, with where they came from and why: the other half of the
 * accounting (read = kept + rejected, per source).
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { tmpName } from './atomic.js';
import { writeError } from './io-error.js';

export interface Reject {
  source: string;
  /** Input file, relative to the input root where possible. */
  file: string;
  /** `line 17`, `row 3`, `key 000123`, `byte 4096`... */
  location: string;
  /** A reason code, e.g. `invalid_json`, `image_decode_failed`, `low_clip_score`, `near_duplicate`. */
  reason: string;
  detail?: string;
  id?: string;
  /** Extra fields a stage records, e.g. the clip score or the id a duplicate duplicates. */
  [extra: string]: unknown;
}

export class RejectWriter {
  private fd?: number;
  private buf: string[] = [];
  rows = 0;
  readonly rel: string;
  private readonly final: string;
  private readonly tmp: string;

  /** `stage` names the stage in an error message (a full disk, a folder not writable). */
  constructor(
    outDir: string,
    rank: number,
    private readonly stage?: string,
  ) {
    this.rel = `rejects/rejects-${String(rank).padStart(5, '0')}.jsonl`;
    this.final = path.join(outDir, this.rel);
    this.tmp = tmpName(this.final);
  }

  write(r: Reject): void {
    this.buf.push(JSON.stringify(r));
    this.rows++;
    if (this.buf.length >= 4096) this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    try {
      if (this.fd === undefined) {
        mkdirSync(path.dirname(this.final), { recursive: true });
        this.fd = openSync(this.tmp, 'w');
      }
      const text = Buffer.from(this.buf.join('\n') + '\n');
      // writeSync may write less than asked (a disk filling up): the rest follows, or the error says why
      for (let off = 0; off < text.length; ) off += writeSync(this.fd, text, off);
    } catch (err) {
      throw this.fail(err);
    }
    this.buf = [];
  }

  /** The error for a failed write; the partial file is given up (on a full disk, that is space back). */
  private fail(err: unknown): Error {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // closing a descriptor whose writes failed may fail too; the error reported is the first
      }
      this.fd = undefined;
    }
    rmSync(this.tmp, { force: true });
    return writeError(err, { stage: this.stage, what: 'the rejects file', file: this.final });
  }

  /** Returns the file's path relative to the dataset, or undefined when nothing was rejected. */
  close(): { path: string; rows: number } | undefined {
    this.flush();
    if (this.fd === undefined) return undefined;
    try {
      closeSync(this.fd);
      this.fd = undefined;
      renameSync(this.tmp, this.final);
    } catch (err) {
      throw this.fail(err);
    }
    return { path: this.rel, rows: this.rows };
  }
}
