/**
 * Test servers, run on a worker thread (the pipeline's synchronous marker reads block the main thread, so a
 * server there could not answer them): s3rver (an S3 emulator from npm), a fault-injecting proxy in front
 * of it, and a static HTTP server with Range support that also stands in for the Hugging Face Hub.
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import S3rver from 's3rver';

// the test runner runs every file under test/ on its own: outside a worker thread there is nothing to serve
if (parentPort) await serve(parentPort);

async function serve(port: MessagePort): Promise<void> {
  const { s3Dir, webRoot } = workerData as { s3Dir: string; webRoot: string };

  /** Faults the proxy injects, set by the test: 503 SlowDown to the next N requests, a cut GET body. */
  const faults = { slowDown: 0, resetGetAfter: 0, log: [] as string[] };
  port.on('message', (m: { slowDown?: number; resetGetAfter?: number; clearLog?: boolean }) => {
    if (m.slowDown !== undefined) faults.slowDown = m.slowDown;
    if (m.resetGetAfter !== undefined) faults.resetGetAfter = m.resetGetAfter;
    if (m.clearLog) faults.log = [];
    port.postMessage({ type: 'ack', log: faults.log });
  });

  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Dir, configureBuckets: [{ name: 'bucket', configs: [] }] });
  const info = (await s3.run()) as { port: number };

  const proxy = http.createServer((req, res) => {
    if (faults.slowDown > 0) {
      faults.slowDown--;
      faults.log.push(`503 ${req.method} ${req.url}`);
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const cut = req.method === 'GET' && faults.resetGetAfter > 0 && !/[?&](list-type|prefix)=/.test(req.url ?? '') ? faults.resetGetAfter : 0;
    if (cut) faults.resetGetAfter = 0;
    const up = http.request({ host: '127.0.0.1', port: info.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (!cut) return void ur.pipe(res);
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (sent + c.length >= cut) {
          res.write(c.subarray(0, cut - sent));
          faults.log.push(`reset ${req.url} after ${cut} bytes`);
          ur.destroy();
          res.socket?.destroy();
          return;
        }
        sent += c.length;
        res.write(c);
      });
      ur.on('end', () => res.end());
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));

  /** Static files with Range; `/api/datasets/O/N/tree/main/DIR` and `/datasets/O/N/resolve/main/PATH` as the Hub serves them. */
  const web = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    faults.log.push(`${req.method} ${url.pathname} ${req.headers.authorization ? 'auth' : 'anon'}`);
    const tree = /^\/api\/datasets\/([^/]+)\/([^/]+)\/tree\/[^/]+\/?(.*)$/.exec(url.pathname);
    if (tree) {
      const base = path.join(webRoot, tree[1]!, tree[2]!);
      const dir = path.join(base, decodeURIComponent(tree[3] ?? ''));
      const items = (readdirSync(dir, { recursive: true }) as string[]).sort().map((n) => {
        const st = statSync(path.join(dir, n));
        return { type: st.isFile() ? 'file' : 'directory', path: path.relative(base, path.join(dir, n)), size: st.size };
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(items));
    }
    const resolve = /^\/datasets\/([^/]+)\/([^/]+)\/resolve\/[^/]+\/(.*)$/.exec(url.pathname);
    const file = resolve ? path.join(webRoot, resolve[1]!, resolve[2]!, decodeURIComponent(resolve[3]!)) : path.join(webRoot, decodeURIComponent(url.pathname));
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      res.writeHead(404);
      return void res.end();
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!range) {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
      if (req.method === 'HEAD') return void res.end();
      return void createReadStream(file).pipe(res);
    }
    const start = Number(range[1]);
    const end = range[2] ? Math.min(size - 1, Number(range[2])) : size - 1;
    res.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));

  port.postMessage({
    type: 'ready',
    s3Port: info.port,
    proxyPort: (proxy.address() as { port: number }).port,
    webPort: (web.address() as { port: number }).port,
  });
}
