/** A real HTTP server on 127.0.0.1 for the download tests: every misbehaviour a web host shows, by path. */
import http from 'node:http';
import { deflateSync, gzipSync, brotliCompressSync, crc32 } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import sharp, { type Sharp } from 'sharp';

export interface ImageServer {
  port: number;
  base: string;
  /** Requests per path (query left out). */
  hits: Map<string, number>;
  close(): Promise<void>;
}

export interface Images {
  jpeg: Buffer;
  png: Buffer;
  pngAlpha: Buffer;
  webp: Buffer;
  gif: Buffer;
  tiff: Buffer;
  avif: Buffer;
  truncated: Buffer;
  bomb: Buffer;
  tiny: Buffer;
  wide: Buffer;
}

/** A picture with structure (gradients, a disc), so a resize that goes wrong shows. */
export async function picture(width: number, height: number, alpha = false): Promise<Sharp> {
  const ch = alpha ? 4 : 3;
  const px = Buffer.alloc(width * height * ch);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * ch;
      const inDisc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 3) ** 2;
      px[i] = Math.round((255 * x) / width);
      px[i + 1] = Math.round((255 * y) / height);
      px[i + 2] = inDisc ? 230 : 40;
      if (alpha) px[i + 3] = x < width / 4 ? 0 : x < width / 2 ? 128 : 255;
    }
  }
  return sharp(px, { raw: { width, height, channels: ch } });
}

/** A PNG whose header says width x height: 1-bit grey, all zero, so it deflates to almost nothing. */
export function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((1 + Math.ceil(width / 8)) * height); // filter byte 0 + zero pixels, every row
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

export async function makeImages(): Promise<Images> {
  const jpeg = await (await picture(640, 480)).jpeg({ quality: 90 }).toBuffer();
  return {
    jpeg,
    png: await (await picture(300, 200)).png().toBuffer(),
    pngAlpha: await (await picture(200, 300, true)).png().toBuffer(),
    webp: await (await picture(320, 240)).webp({ quality: 90 }).toBuffer(),
    gif: await (await picture(120, 90)).gif().toBuffer(),
    tiff: await (await picture(100, 100)).tiff().toBuffer(),
    avif: await (await picture(160, 120)).avif({ quality: 60, effort: 0 }).toBuffer(),
    truncated: jpeg.subarray(0, Math.floor(jpeg.length * 0.6)),
    bomb: pngBomb(10_000, 10_000),
    tiny: await (await picture(20, 20)).png().toBuffer(),
    wide: await (await picture(400, 40)).png().toBuffer(),
  };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void;

export function routes(img: Images): Record<string, Handler> {
  const send = (type: string, body: Buffer, extra: Record<string, string> = {}): Handler => (_q, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(body.length), ...extra });
    res.end(body);
  };
  const redirect = (to: string, code = 302): Handler => (_q, res) => {
    res.writeHead(code, { location: to });
    res.end();
  };
  return {
    '/img/photo.jpg': send('image/jpeg', img.jpeg),
    '/img/chart.png': send('image/png', img.png),
    '/img/alpha.png': send('image/png', img.pngAlpha),
    '/img/pic.webp': send('image/webp', img.webp),
    '/img/anim.gif': send('image/gif', img.gif),
    '/img/scan.tiff': send('image/tiff', img.tiff),
    '/img/pic.avif': send('image/avif', img.avif),
    '/img/tiny.png': send('image/png', img.tiny),
    '/img/wide.png': send('image/png', img.wide),
    '/gzip/photo.jpg': send('image/jpeg', gzipSync(img.jpeg), { 'content-encoding': 'gzip' }),
    '/br/photo.jpg': send('image/jpeg', brotliCompressSync(img.jpeg), { 'content-encoding': 'br' }),
    '/deflate/chart.png': send('image/png', deflateSync(img.png), { 'content-encoding': 'deflate' }),
    '/missing.jpg': (_q, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<html>not found</html>');
    },
    '/gone.jpg': (_q, res) => {
      res.writeHead(410);
      res.end();
    },
    '/broken.jpg': (_q, res) => {
      res.writeHead(500);
      res.end();
    },
    // fails once, then serves: a retry gets it
    '/flaky.jpg': (q, res, hit) => (hit === 1 ? (res.writeHead(500), res.end()) : send('image/jpeg', img.jpeg)(q, res, hit)),
    '/busy.jpg': (q, res, hit) => (hit === 1 ? (res.writeHead(429, { 'retry-after': '1' }), res.end()) : send('image/jpeg', img.jpeg)(q, res, hit)),
    '/slow.jpg': (q, res, hit) => void setTimeout(() => !res.destroyed && send('image/jpeg', img.jpeg)(q, res, hit), 4000),
    '/huge.jpg': send('image/jpeg', Buffer.concat([img.jpeg, Buffer.alloc(300_000)])),
    // no Content-Length: the limit must cut the stream itself
    '/huge-stream.jpg': (_q, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write(img.jpeg);
      const chunk = Buffer.alloc(64 * 1024);
      let n = 0;
      const more = () => {
        while (n++ < 40 && !res.destroyed) if (!res.write(chunk)) return void res.once('drain', more);
        res.end();
      };
      more();
    },
    '/gzip-bomb.jpg': send('image/jpeg', gzipSync(Buffer.alloc(20 * 1024 * 1024)), { 'content-encoding': 'gzip' }),
    '/r/1': redirect('/r/2', 301),
    '/r/2': redirect('/r/3', 307),
    '/r/3': redirect('/img/photo.jpg', 308),
    '/loop/a': redirect('/loop/b'),
    '/loop/b': redirect('/loop/a'),
    '/page.jpg': send('image/jpeg', Buffer.from('<!DOCTYPE html><html><head><title>Image</title></head><body><img src="x.jpg"></body></html>')),
    '/cut.jpg': send('image/jpeg', img.truncated),
    '/noai.jpg': send('image/jpeg', img.jpeg, { 'x-robots-tag': 'noai' }),
    '/other-bot.jpg': send('image/jpeg', img.jpeg, { 'x-robots-tag': 'otherbot: noai' }),
    '/bomb.png': send('image/png', img.bomb),
    '/to-private.jpg': redirect('http://10.1.2.3/photo.jpg'),
    '/to-mapped.jpg': redirect('http://[::ffff:7f00:2]/photo.jpg'),
    '/to-metadata': redirect('http://169.254.169.254/latest/meta-data/iam/security-credentials/'),
  };
}

export async function startServer(handlers: Record<string, Handler>): Promise<ImageServer> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0]!;
    const n = (hits.get(p) ?? 0) + 1;
    hits.set(p, n);
    const h = handlers[p];
    if (!h) {
      res.writeHead(404);
      res.end();
      return;
    }
    h(req, res, n);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface DnsServer {
  port: number;
  /** Questions asked, as "name TYPE". */
  asked: string[];
  close(): Promise<void>;
}

/**
 * A real DNS server on 127.0.0.1 (UDP): names in `a` answer with their IPv4 address (no AAAA record: NOERROR,
 * no answer), names in `silent` get no reply at all (a server that is down), every other name NXDOMAIN.
 */
export async function dnsServer(a: Record<string, string>, silent: string[] = []): Promise<DnsServer> {
  const dgram = await import('node:dgram');
  const sock = dgram.createSocket('udp4');
  const asked: string[] = [];
  sock.on('message', (q, from) => {
    // header (12 bytes), then one question: labels, QTYPE, QCLASS
    let o = 12;
    const labels: string[] = [];
    while (q[o]! > 0) {
      labels.push(q.subarray(o + 1, o + 1 + q[o]!).toString('latin1'));
      o += q[o]! + 1;
    }
    const qend = o + 5;
    const qtype = q.readUInt16BE(o + 1);
    const name = labels.join('.').toLowerCase();
    asked.push(`${name} ${qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : qtype}`);
    if (silent.includes(name)) return;
    const ip = a[name];
    const answer = ip !== undefined && qtype === 1;
    const head = Buffer.alloc(12);
    q.copy(head, 0, 0, 2); // the query's id
    head.writeUInt16BE(ip === undefined ? 0x8183 : 0x8180, 2); // response, recursion desired + available; NXDOMAIN or NOERROR
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(answer ? 1 : 0, 6);
    const parts = [head, q.subarray(12, qend)];
    if (answer) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((b, i) => (rr[12 + i] = Number(b)));
      parts.push(rr);
    }
    sock.send(Buffer.concat(parts), from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, asked, close: () => new Promise<void>((r) => sock.close(() => r())) };
}
