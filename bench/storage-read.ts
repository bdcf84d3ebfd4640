/**
 * One read for `npm run bench -- storage`, in its own process so its CPU time is its own (the S3 emulator
 * runs in the benchmark's process): `node storage-read.js parquet|npy LOCATION`. Prints one JSON line.
 */
import { openParquet, readRowGroup } from '../src/io/parquet.js';
import { NpyReader } from '../src/util/npy.js';
import * as storage from '../src/storage/index.js';

const [kind, loc] = process.argv.slice(2) as [string, string];
// the AWS SDK loads and connects once per process: not part of the throughput
if (storage.isRemote(loc)) await storage.size(loc);
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
let rows = 0;
let bytes = 0;
if (kind === 'parquet') {
  const pf = await openParquet(loc);
  for (const g of pf.groups) {
    const r = await readRowGroup(pf, g, ['url', 'caption', 'similarity']);
    rows += r.length;
  }
  bytes = pf.file.byteLength;
} else {
  const r = await NpyReader.open(loc);
  const chunk = 8192;
  const buf = new Uint16Array(chunk * r.header.cols);
  for (let s = 0; s < r.header.rows; s += chunk) {
    const n = Math.min(chunk, r.header.rows - s);
    await r.readRows(s, n, buf);
    rows += n;
  }
  bytes = r.header.rows * r.header.cols * r.header.itemSize;
  await r.close();
}
const cpu = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ rows, bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
