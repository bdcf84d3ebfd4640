#!/usr/bin/env node
// Serves the demo images on 127.0.0.1 for `mmcurate download` (pipelines/laion-download-score-coreset.json):
//   /images/NAME   the file demo/data/images/NAME
//   /moved/NAME    301 to /images/NAME
//   /page/NAME     an HTML page served as image/jpeg
//   /noai/NAME     the image, with X-Robots-Tag: noai
// Anything else is 404. Usage: node scripts/serve-images.mjs [--port 8765] [--dir demo/data/images]
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(opt('dir', path.join(root, 'demo', 'data', 'images')));
const port = Number(opt('port', '8765'));
const TYPES = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif' };

const server = http.createServer(async (req, res) => {
  const m = /^\/(images|moved|page|noai)\/([\w.-]+)$/.exec((req.url ?? '').split('?')[0]);
  // names are one path segment of letters, digits, "_", "-" and "."; never "..", never a folder
  if (!m || m[2].startsWith('.')) return void res.writeHead(404).end();
  const [, kind, name] = m;
  if (kind === 'moved') return void res.writeHead(301, { location: `/images/${name}` }).end();
  if (kind === 'page') return void res.writeHead(200, { 'content-type': 'image/jpeg' }).end('<!DOCTYPE html><html><body><img src="/images/x.jpg"></body></html>');
  let body;
  try {
    body = await readFile(path.join(dir, name));
  } catch {
    return void res.writeHead(404).end();
  }
  const headers = { 'content-type': TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream', 'content-length': String(body.length) };
  if (kind === 'noai') headers['x-robots-tag'] = 'noai';
  res.writeHead(200, headers).end(body);
});
server.listen(port, '127.0.0.1', () => console.log(`serving ${dir} on http://127.0.0.1:${port}/images/ (Ctrl-C stops)`));
