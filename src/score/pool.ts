/**
 * Decode + preprocess images on worker threads (or on the calling thread when `workers` is 0). Callers bound
 * how many images are in flight; the pool only spreads them over its workers.
 */
import { Worker } from 'node:worker_threads';
import type { PreprocessConfig } from './preprocess-config.js';
import { preprocessImage, type PreprocessResult } from './preprocess.js';

export interface PoolOptions {
  /** Worker threads; 0 runs sharp from the calling thread (its native work still uses libuv's pool). */
  workers: number;
  /** libvips threads per image; 1 when many images run at once. */
  sharpConcurrency?: number;
}

export class PreprocessPool {
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, { resolve: (r: PreprocessResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | undefined;

  constructor(
    private readonly cfg: PreprocessConfig,
    opts: PoolOptions,
  ) {
    for (let i = 0; i < opts.workers; i++) {
      const worker = new Worker(new URL('./preprocess-worker.js', import.meta.url), {
        workerData: { cfg, sharpConcurrency: opts.sharpConcurrency },
        // Flags such as --input-type=module (node -e) make a file-backed worker fail to start.
        execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type') && a !== '-e' && a !== '--eval'),
      });
      const slot = { worker, busy: 0 };
      worker.on('message', (m: { id: number; result: PreprocessResult }) => {
        slot.busy--;
        const done = this.pending.get(m.id);
        this.pending.delete(m.id);
        done?.resolve(m.result);
      });
      worker.on('error', (err) => this.fail(err));
      this.workers.push(slot);
    }
  }

  run(bytes: Uint8Array): Promise<PreprocessResult> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.workers.length === 0) return preprocessImage(bytes, this.cfg);
    let slot = this.workers[0];
    for (const w of this.workers) if (w.busy < slot.busy) slot = w;
    slot.busy++;
    const id = this.nextId++;
    // A copy of exactly these bytes (a view would clone its whole backing buffer), moved to the worker.
    const copy = bytes.slice();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, bytes: copy }, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }

  /** A crashed worker is a failure of the run, not of the images it held: they are not rejected as undecodable. */
  private fail(err: Error): void {
    this.failed = new Error(`image preprocessing worker crashed: ${err.message}`);
    for (const done of this.pending.values()) done.reject(this.failed);
    this.pending.clear();
  }
}
