/**
 * One driver per output folder. A run holds `DIR/_lock.json` (host, pid, a heartbeat it renews) while it
 * plans and runs a stage; a second run on the same folder is refused with the holder named, instead of
 * racing it. A holder on this host is live while its pid is; on another host, while its heartbeat is
 * fresh, so a run killed on another machine is recognised by the lock's age, not by a local pid.
 * Cluster tasks (`mmcurate task`) take no lock: they never share a file (names carry the rank) and a
 * marker is written last.
 *
 * In a bucket the lock is an object written with a conditional PUT (If-None-Match: *), which AWS S3 and
 * GCS honour: of two runs starting at once one gets 412 and is refused. A store that ignores the header
 * (older MinIO, the s3rver emulator) still refuses a second run that starts after the first has written
 * its lock, but two starting in the same instant could both proceed (docs/storage.md).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as storage from '../storage/index.js';
import { putIfAbsentSync, putSync, readTextSync, removeSync } from '../storage/sync.js';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { writeDurable } from '../write/atomic.js';
import { pidAlive } from '../util/pid.js';

export const HEARTBEAT_MS = 15_000;
/** A lock from another host whose heartbeat is older than this belongs to a dead run. */
export const STALE_MS = 4 * HEARTBEAT_MS;

interface LockInfo {
  host: string;
  pid: number;
  since: string;
  heartbeat: number;
  command: string;
}


function read(file: string): LockInfo | undefined {
  try {
    const text = readTextSync(file);
    return text === undefined ? undefined : (JSON.parse(text) as LockInfo);
  } catch {
    return undefined;
  }
}

export function lockHolder(dir: string): (LockInfo & { live: boolean }) | undefined {
  const l = read(lockFile(dir));
  if (!l) return undefined;
  const live = l.host === os.hostname() ? pidAlive(l.pid) : Date.now() - l.heartbeat < STALE_MS;
  return { ...l, live };
}

function lockFile(dir: string): string {
  return storage.isRemote(dir) ? storage.join(dir, '_lock.json') : path.join(path.resolve(dir), '_lock.json');
}

export interface Lock {
  release(): void;
}

const held = new Set<string>();

/** Takes the folder's lock or throws a UsageError naming its live holder (another process, or another run in this one). */
export function acquireLock(dir: string, command: string): Lock {
  const remote = storage.isRemote(dir);
  const file = lockFile(dir);
  if (!remote) mkdirSync(path.dirname(file), { recursive: true });
  const h = lockHolder(remote ? dir : path.dirname(file));
  const mine = h?.host === os.hostname() && h.pid === process.pid;
  const refuse = (h: LockInfo) =>
    new UsageError(
      `${storage.redact(dir)} is in use by another run (${storage.redact(h.command)}; host ${h.host}, pid ${h.pid}, since ${h.since}); wait for it to finish, or stop it. ` +
        `A lock left by a run that died on another machine expires ${STALE_MS / 1000} s after its last heartbeat.`,
    );
  if (h && ((h.live && !mine) || (mine && held.has(file)))) throw refuse(h);
  const me: LockInfo = { host: os.hostname(), pid: process.pid, since: new Date().toISOString(), heartbeat: Date.now(), command: storage.redact(command) };
  if (!remote) writeDurable(file, JSON.stringify(me));
  else if (h) putSync(file, JSON.stringify(me)); // a dead run's lock: taken over
  else if (!putIfAbsentSync(file, JSON.stringify(me))) {
    const other = read(file);
    throw refuse(other ?? { ...me, host: '?', pid: 0, command: 'another run' });
  }
  const timer = setInterval(() => {
    const beat = JSON.stringify({ ...me, heartbeat: Date.now() });
    // the folder went away, or the store is briefly unreachable: the next beat tries again
    if (remote) void storage.put(file, beat).catch(() => undefined);
    else {
      try {
        writeFileSync(file, beat);
      } catch {
        // nothing to renew
      }
    }
  }, HEARTBEAT_MS);
  timer.unref();
  timers.set(file, timer);
  held.add(file);
  return { release: () => releaseOne(file) };
}

const timers = new Map<string, NodeJS.Timeout>();

function releaseOne(file: string): void {
  if (!held.delete(file)) return;
  clearInterval(timers.get(file));
  timers.delete(file);
  const l = read(file);
  if (l && l.host === os.hostname() && l.pid === process.pid) removeSync(file);
}
