/**
 * Synchronous access to small remote files (markers, plans, manifests, the lock): the stage contract
 * decides "done" synchronously, everywhere, and stays so. A remote call runs on a helper thread while
 * this one waits on an Atomics flag: slower than fs, but these are a few small files per task.
 * Local paths never touch the helper thread.
 */
import { existsSync as fsExists, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { MessageChannel, receiveMessageOnPort, SHARE_ENV, Worker } from 'node:worker_threads';
import type { Entry } from './backend.js';
import { isRemote, normalize } from './location.js';
import { StorageError } from './retry.js';

let worker: Worker | undefined;

function call<T>(op: string, loc: string, data?: string | Uint8Array): T {
  worker ??= new Worker(new URL('./sync-worker.js', import.meta.url), { env: SHARE_ENV });
  worker.unref();
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  worker.postMessage({ port: port2, flag, op, loc: normalize(loc), data }, [port2]);
  Atomics.wait(flag, 0, 0);
  const m = receiveMessageOnPort(port1)?.message as { ok: boolean; value?: T; message?: string; status?: number; code?: string } | undefined;
  port1.close();
  if (!m) throw new StorageError(`${loc}: the storage thread gave no answer`);
  if (!m.ok) throw new StorageError(m.message!, { status: m.status, code: m.code });
  return m.value as T;
}

/** Size of a file, or undefined when there is none. */
export function sizeSync(loc: string): number | undefined {
  if (isRemote(loc)) return call<number | undefined>('size', loc) ?? undefined;
  try {
    return statSync(loc).size;
  } catch {
    return undefined;
  }
}

export function existsSync(loc: string): boolean {
  return isRemote(loc) ? sizeSync(loc) !== undefined : fsExists(loc);
}

/** The text of a file, or undefined when there is none. */
export function readTextSync(loc: string): string | undefined {
  if (isRemote(loc)) return call<string | null>('readText', loc) ?? undefined;
  try {
    return readFileSync(loc, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Remote only: local writes go through write/atomic.ts (temp file, fsync, rename). */
export function putSync(loc: string, data: string | Uint8Array): void {
  call('put', loc, data);
}

export function putIfAbsentSync(loc: string, text: string): boolean {
  return call<boolean>('putIfAbsent', loc, text);
}

export function removeSync(loc: string): void {
  if (isRemote(loc)) call('remove', loc);
  else rmSync(loc, { force: true });
}

/** Every file under a folder, recursively, sorted (locations in the folder's own form). */
export function listSync(dir: string): Entry[] {
  if (isRemote(dir)) return call<Entry[]>('list', dir);
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return [];
  }
  const out: Entry[] = [];
  for (const n of names.sort()) {
    try {
      const st = statSync(path.join(dir, n));
      if (st.isFile()) out.push({ loc: path.join(dir, n), size: st.size });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

