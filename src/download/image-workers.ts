/**
 * The threads that scale and re-encode web JPEGs for `download` (image-worker.ts), one per core, shared by the
 * process. Each keeps its WebAssembly memory between images, which is why the work runs there and not on libuv's
 * pool. The threads are unref'd: they never keep a finished process alive. Null where threads cannot start;
 * callers then take the in-thread path.
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import type { BoxJob, BoxResult } from '../image/box.js';

type Pending = { resolve: (r: Ran) => void; worker: number; body: Uint8Array };

/** The result, and the body, which moved to the thread and back (the one passed in is detached). */
export interface Ran {
  r: BoxResult;
  body: Uint8Array;
}

export class ImageWorkers {
  private readonly workers: { w: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private next = 1;
  broken: string | undefined;

  constructor(n: number) {
    const file = new URL('./image-worker.js', import.meta.url);
    for (let i = 0; i < n; i++) {
      const w = new Worker(file);
      w.on('message', (m: { id: number; r: BoxResult; body: Uint8Array }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        // a thread holds the process open only while it holds work
        if (--this.workers[p.worker]!.busy === 0) w.unref();
        p.resolve({ r: m.r, body: m.body });
      });
      // a thread that dies fails what it held; the pool is then not used again (callers fall back)
      const fail = (why: string) => {
        this.broken ??= why;
        for (const [id, p] of this.pending) {
          if (p.worker !== i) continue;
          this.pending.delete(id);
          p.resolve({ r: { error: why }, body: p.body });
        }
      };
      w.on('error', (err) => fail(`image thread failed: ${err.message}`));
      w.on('exit', (code) => fail(`image thread exited (${code})`));
      // after the listeners: adding one refs the thread again
      w.unref();
      this.workers.push({ w, busy: 0 });
    }
  }

  /**
   * The job's body is moved to the thread, not copied (a structured clone of each ~50 KB body cost the main thread
   * 0.2 ms): a body that shares its ArrayBuffer (Node's pool holds bodies under 4 KiB) is copied out first.
   */
  run(job: BoxJob): Promise<Ran> {
    if (this.broken) return Promise.resolve({ r: { error: this.broken }, body: job.body });
    const own = job.body.byteOffset === 0 && job.body.buffer.byteLength === job.body.byteLength ? job.body : new Uint8Array(job.body);
    let best = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.workers[i]!.busy < this.workers[best]!.busy) best = i;
    const id = this.next++;
    if (this.workers[best]!.busy++ === 0) this.workers[best]!.w.ref();
    return new Promise<Ran>((resolve) => {
      this.pending.set(id, { resolve, worker: best, body: own });
      this.workers[best]!.w.postMessage({ id, job: { ...job, body: own } }, [own.buffer as ArrayBuffer]);
    });
  }
}

let shared: ImageWorkers | null | undefined;

export function imageWorkers(): ImageWorkers | null {
  if (shared === undefined) {
    try {
      shared = new ImageWorkers(Math.max(1, os.availableParallelism()));
    } catch {
      shared = null;
    }
  }
  return shared && !shared.broken ? shared : null;
}
