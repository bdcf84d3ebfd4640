/** One of the download's image threads: TurboJPEG + the box filter in its own WebAssembly memory (image/box.ts). */
import { parentPort } from 'node:worker_threads';
import { jpegTurbo } from '../image/turbo.js';
import { BoxJpeg, type BoxJob, type BoxResult } from '../image/box.js';

const turbo = await jpegTurbo();
const box = turbo ? new BoxJpeg(turbo) : null;

parentPort!.on('message', (m: { id: number; job: BoxJob }) => {
  let r: BoxResult;
  try {
    r = box ? box.run(m.job) : { error: 'TurboJPEG is not available in this thread' };
  } catch (err) {
    r = { error: (err as Error).message };
  }
  // the body goes back too (it was moved here, not copied): the caller's fallback paths read it
  const body = m.job.body;
  parentPort!.postMessage({ id: m.id, r, body }, 'bytes' in r ? [r.bytes.buffer as ArrayBuffer, body.buffer as ArrayBuffer] : [body.buffer as ArrayBuffer]);
});
