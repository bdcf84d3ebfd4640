/**
 * Worker-thread entry for the preprocessing pool: decodes and preprocesses images off the main thread, so
 * the thread that feeds the model is never busy with pixels. The tensor's buffer is transferred back, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import type { PreprocessConfig } from './preprocess-config.js';
import { preprocessImage } from './preprocess.js';

interface Init {
  cfg: PreprocessConfig;
  sharpConcurrency?: number;
}

const init = workerData as Init;
if (init.sharpConcurrency) sharp.concurrency(init.sharpConcurrency);

parentPort!.on('message', (msg: { id: number; bytes: Uint8Array }) => {
  preprocessImage(msg.bytes, init.cfg).then(
    (r) => {
      if (r.ok) parentPort!.postMessage({ id: msg.id, result: r }, [r.pixels.buffer as ArrayBuffer]);
      else parentPort!.postMessage({ id: msg.id, result: r });
    },
    (err: unknown) => {
      parentPort!.postMessage({ id: msg.id, result: { ok: false, reason: 'image_decode_failed', detail: String(err) } });
    },
  );
});
