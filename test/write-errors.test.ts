/**
 * A write that fails names the stage, the file and what to do, on a real full disk: a 256 KiB tmpfs. Mounting
 * one needs root (or CAP_SYS_ADMIN); where that is not permitted the tests are skipped, saying so.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { runMain, tmpDir } from './helpers.js';
import { RejectWriter } from '../src/write/rejects.js';

/** A fresh 256 KiB tmpfs, unmounted when the test ends, or the reason there is none. */
function smallDisk(t: TestContext): { dir: string } | { skip: string } {
  const dir = tmpDir('mmcurate-full-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return { skip: `mounting a small tmpfs is not permitted here (${(r.stderr || r.error?.message || '').trim()}); a full disk cannot be simulated` };
  t.after(() => {
    // a descriptor left open on it would keep it busy: a lazy unmount still lets the folder go
    if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
  });
  return { dir };
}

/** Fills a disk to the last byte. */
function fill(dir: string): void {
  const fd = openSync(path.join(dir, 'filler'), 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}

test('ingest onto a full disk: the error names the stage and the shard, says the disk is full and what to do', async (t) => {
  const disk = smallDisk(t);
  if ('skip' in disk) return t.skip(disk.skip);
  const input = path.join(tmpDir(), 'random.jsonl');
  // 1.2 MB of text that does not compress: more than the disk holds
  writeFileSync(input, Array.from({ length: 400 }, () => JSON.stringify({ text: randomBytes(3000).toString('base64') })).join('\n') + '\n');
  const out = path.join(disk.dir, 'out');
  const r = await runMain(['ingest', '--kind', 'text', '--input', input, '--out', out, '--quiet']);
  assert.equal(r.code, 1);
  assert.deepEqual(readdirSync(path.join(out, 'data')), [], 'the partial shard is removed: its space is given back');
  assert.match(r.stderr, new RegExp(`error: ingest: cannot write the shard ${out}/data/part-00000-00000\\.parquet: the disk is full: free space on it, or give an --out on another disk \\(ENOSPC\\)`));
});

test('a rejects file on a full disk: the error names it', async (t) => {
  const disk = smallDisk(t);
  if ('skip' in disk) return t.skip(disk.skip);
  mkdirSync(path.join(disk.dir, 'out', 'rejects'), { recursive: true });
  fill(disk.dir);
  const w = new RejectWriter(path.join(disk.dir, 'out'), 3, 'score');
  for (let i = 0; i < 100; i++) w.write({ source: 's', file: 'f.jsonl', location: `line ${i}`, reason: 'low_clip_score', detail: 'x'.repeat(100) });
  assert.throws(() => w.close(), (err: Error) => {
    assert.deepEqual(readdirSync(path.join(disk.dir, 'out', 'rejects')), [], 'the partial file is removed');
    assert.match(err.message, new RegExp(`^score: cannot write the rejects file ${disk.dir}/out/rejects/rejects-00003\\.jsonl: the disk is full.*\\(ENOSPC\\)`));
    assert.equal((err as { exitCode?: number }).exitCode, 1);
    return true;
  });
});
