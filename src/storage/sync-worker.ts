/** The thread behind sync.ts: runs one storage call at a time and wakes the waiting thread. */
import { parentPort, type MessagePort } from 'node:worker_threads';
import * as storage from './index.js';

interface Request {
  port: MessagePort;
  flag: Int32Array;
  op: 'size' | 'readText' | 'put' | 'putIfAbsent' | 'remove' | 'list';
  loc: string;
  data?: string | Uint8Array;
}

parentPort!.on('message', async (r: Request) => {
  let reply: { ok: true; value: unknown } | { ok: false; message: string; status?: number; code?: string };
  try {
    let value: unknown;
    switch (r.op) {
      case 'size':
        value = await storage.size(r.loc);
        break;
      case 'readText':
        value = (await storage.readTextIfExists(r.loc)) ?? null;
        break;
      case 'put':
        await storage.put(r.loc, r.data!);
        break;
      case 'putIfAbsent':
        value = await storage.putIfAbsent(r.loc, r.data!);
        break;
      case 'remove':
        await storage.remove(r.loc);
        break;
      case 'list':
        value = await storage.list(r.loc);
        break;
    }
    reply = { ok: true, value };
  } catch (err) {
    const e = err as { message?: string; status?: number; code?: string };
    reply = { ok: false, message: storage.redact(e?.message ?? String(err)), status: e?.status, code: e?.code };
  }
  r.port.postMessage(reply);
  Atomics.store(r.flag, 0, 1);
  Atomics.notify(r.flag, 0);
});
