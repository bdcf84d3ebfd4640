import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tmpDir } from './helpers.js';
import { NpyReader, NpyWriter, readNpy, readNpyHeader, writeNpy } from '../src/util/npy.js';
import { f16ToF32, f32ToF16, f32ToF16Bits } from '../src/util/float16.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'coreset');
const ref = JSON.parse(readFileSync(path.join(FIX, 'km_ref.json'), 'utf8')) as { x16_first_row: number[]; x16_last_row: number[]; n: number; d: number };

test('reads numpy-written float32 and float16 files in chunks, as numpy decodes them', async () => {
  const h = await readNpyHeader(path.join(FIX, 'km_x.npy'));
  assert.deepEqual([h.dtype, h.rows, h.cols], ['float32', ref.n, ref.d]);
  const r = await NpyReader.open(path.join(FIX, 'km_x16.npy'));
  assert.equal(r.header.dtype, 'float16');
  const first = f16ToF32((await r.readRows(0, 1)) as Uint16Array);
  const last = f16ToF32((await r.readRows(ref.n - 1, 1)) as Uint16Array);
  await r.close();
  assert.deepEqual(Array.from(first), ref.x16_first_row);
  assert.deepEqual(Array.from(last), ref.x16_last_row);
  // The float16 file is the float32 one rounded as numpy rounds (nearest-even).
  const x32 = (await readNpy(path.join(FIX, 'km_x.npy'))).values as Float32Array;
  const x16 = (await readNpy(path.join(FIX, 'km_x16.npy'))).values as Uint16Array;
  assert.deepEqual(f32ToF16(x32), x16);
});

test('float16 conversion: exact values, rounding ties to even, overflow, NaN and subnormals', () => {
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(-2), 0xc000);
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(65520), 0x7c00); // rounds up to Inf
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie -> even
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
  assert.equal(f32ToF16Bits(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f32ToF16Bits(2 ** -26), 0x0000);
  assert.ok(Number.isNaN(f16ToF32(Uint16Array.of(f32ToF16Bits(NaN)))[0]));
  // Every finite half survives a round trip.
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = f32ToF16(f16ToF32(all));
  for (let h = 0; h < 65536; h++) if ((h & 0x7c00) !== 0x7c00) assert.equal(back[h], h);
});

test('writes .npy that reads back, atomically, streamed by rows', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'c.npy');
  const v = Float32Array.from({ length: 12 }, (_, i) => i / 3);
  await writeNpy(f, v, 3, 4);
  const back = await readNpy(f);
  assert.deepEqual([back.header.rows, back.header.cols, back.header.dtype], [3, 4, 'float32']);
  assert.deepEqual(back.values, v);
  const w = await NpyWriter.create(path.join(dir, 'h.npy'), 'float16', 2, 2);
  await w.write(Uint16Array.of(0x3c00, 0x4000));
  await w.write(Uint16Array.of(0x4200, 0x4400));
  await w.close();
  assert.deepEqual(Array.from(f16ToF32((await readNpy(path.join(dir, 'h.npy'))).values as Uint16Array)), [1, 2, 3, 4]);
  const short = await NpyWriter.create(path.join(dir, 's.npy'), 'float32', 2, 2);
  await short.write(Float32Array.of(1, 2));
  await assert.rejects(short.close(), /1 rows written but 2 declared/);
});

test('bad .npy files are errors that name the file and say what was expected', async () => {
  const dir = tmpDir();
  const npy = (dict: string, body = 0): Buffer => {
    const h = Buffer.from(dict.padEnd(118, ' ') + '\n', 'latin1');
    const b = Buffer.alloc(10 + h.length + body);
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(b);
    b.writeUInt16LE(h.length, 8);
    h.copy(b, 10);
    return b;
  };
  const cases: [string, Buffer, RegExp][] = [
    ['text.npy', Buffer.from('hello world, not numpy'), /not a \.npy file/],
    ['f8.npy', npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 32), /dtype <f8 is not supported/],
    ['fortran.npy', npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16), /Fortran-ordered/],
    ['3d.npy', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", 32), /not 2-D/],
    ['short.npy', npy("{'descr': '<f2', 'fortran_order': False, 'shape': (4, 8), }", 10), /truncated or corrupt/],
  ];
  for (const [name, bytes, re] of cases) {
    const f = path.join(dir, name);
    writeFileSync(f, bytes);
    await assert.rejects(readNpyHeader(f), (e: Error) => re.test(e.message) && e.message.includes(f), name);
  }
  await assert.rejects(readNpyHeader(path.join(dir, 'missing.npy')), /cannot open .*missing\.npy/);
});
