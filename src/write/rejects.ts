/**
 * Rejected input records, one JSON line each, with where they came from and why: the other half of the
 * accounting (read = kept + rejected, per source).
 */
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { tmpName } from './atomic.js';

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

  constructor(outDir: string, rank: number) {
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
    if (this.fd === undefined) {
      mkdirSync(path.dirname(this.final), { recursive: true });
      this.fd = openSync(this.tmp, 'w');
    }
    writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
  }

  /** Returns the file's path relative to the dataset, or undefined when nothing was rejected. */
  close(): { path: string; rows: number } | undefined {
    this.flush();
    if (this.fd === undefined) return undefined;
    closeSync(this.fd);
    renameSync(this.tmp, this.final);
    return { path: this.rel, rows: this.rows };
  }
}
