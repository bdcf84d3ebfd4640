/**
 * A WebDataset shard written with tar-stream: fixed headers (mtime 0, uid/gid 0, no user or group name,
 * mode 0644) so the same samples give the same bytes on any machine, and written under a temporary name,
 * fsynced, then renamed, so a shard appears whole or not at all.
 */
import { closeSync, createWriteStream, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pack as tarPack, type Pack } from 'tar-stream';
import { tmpName } from '../write/atomic.js';
import type { Part } from './sample.js';

const FIXED = { mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0), type: 'file' as const };

export class TarShard {
  private readonly pack: Pack;
  private readonly tmp: string;
  private readonly hash = createHash('sha256');
  private readonly done: Promise<void>;
  bytes = 0;
  samples = 0;

  constructor(private readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.tmp = tmpName(file);
    this.pack = tarPack();
    const out = createWriteStream(this.tmp);
    this.pack.on('data', (data: unknown) => {
      const chunk = data as Uint8Array;
      this.hash.update(chunk);
      this.bytes += chunk.length;
    });
    this.pack.pipe(out);
    this.done = new Promise((resolve, reject) => {
      out.on('close', resolve);
      out.on('error', reject);
      this.pack.on('error', reject);
    });
  }

  /** Adds one sample's parts, in order, as `KEY.EXT` entries; waits while the file is behind. */
  async add(key: string, parts: readonly Part[]): Promise<void> {
    for (const p of parts) {
      await new Promise<void>((resolve, reject) => {
        this.pack.entry({ ...FIXED, name: `${key}.${p.ext}`, size: p.data.length }, Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength), (err) => (err ? reject(err) : resolve()));
      });
    }
    this.samples++;
  }

  /** Ends the archive, makes it durable and renames it into place; returns its size and sha256. */
  async close(): Promise<{ bytes: number; sha256: string }> {
    this.pack.finalize();
    try {
      await this.done;
      const fd = openSync(this.tmp, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(this.tmp, this.file);
    } catch (err) {
      rmSync(this.tmp, { force: true });
      throw new Error(`export: writing ${this.file} failed: ${(err as Error).message} (is the disk full or the folder not writable?)`);
    }
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}
