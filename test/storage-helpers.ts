/** Starts the storage test servers (storage-servers-thread.ts) once per test file and points the pipeline at them. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface Servers {
  /** The S3 emulator behind the fault-injecting proxy. */
  endpoint: string;
  /** The emulator itself. */
  direct: string;
  /** The static / Hub stand-in server. */
  web: string;
  webRoot: string;
  /** Sets faults for the next requests; returns the proxy's log. */
  fault(f: { slowDown?: number; resetGetAfter?: number; clearLog?: boolean }): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startServers(webRoot = mkdtempSync(path.join(os.tmpdir(), 'mmc-web-'))): Promise<Servers> {
  const s3Dir = mkdtempSync(path.join(os.tmpdir(), 'mmc-s3-'));
  const w = new Worker(new URL('./storage-servers-thread.js', import.meta.url), { workerData: { s3Dir, webRoot } });
  const ready = await new Promise<{ s3Port: number; proxyPort: number; webPort: number }>((resolve, reject) => {
    w.once('error', reject);
    w.on('message', (m: { type: string }) => m.type === 'ready' && resolve(m as never));
  });
  const endpoint = `http://127.0.0.1:${ready.proxyPort}`;
  // the S3 emulator accepts any signed request; these are its documented defaults, not secrets
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.HF_ENDPOINT = `http://127.0.0.1:${ready.webPort}`;
  process.env.MMCURATE_STORAGE_BACKOFF_MS = '5';
  return {
    endpoint,
    direct: `http://127.0.0.1:${ready.s3Port}`,
    web: `http://127.0.0.1:${ready.webPort}`,
    webRoot,
    fault: (f) =>
      new Promise((resolve) => {
        const on = (m: { type: string; log: string[] }) => {
          if (m.type !== 'ack') return;
          w.off('message', on);
          resolve(m.log);
        };
        w.on('message', on);
        w.postMessage(f);
      }),
    stop: async () => {
      await w.terminate();
    },
  };
}
