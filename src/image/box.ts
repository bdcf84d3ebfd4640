/**
 * A JPEG scaled down and re-encoded without a frame allocated per image: TurboJPEG decodes into WebAssembly memory,
 * the box filter (box.wat: area weights, as OpenCV's INTER_AREA and close to Pillow's BOX, in 128-bit SIMD) scales
 * it there, the border or crop is laid out there, and TurboJPEG encodes from there. One instance per thread (the
 * download's image workers): its memory grows to the largest frame seen and is then reused, where each call into
 * @napi-rs/image allocated, zero-filled and copied the frame two or three times (a third of the image step's CPU on
 * the benchmark's photos; docs/benchmarks.md).
 */
import type { Turbo } from './turbo.js';
import { BOX_WASM } from './box-wasm.js';

export type BoxLayout = 'fit' | 'border' | 'center_crop';

export interface BoxJob {
  body: Uint8Array;
  /** The stored size (the header's), and the size to scale to (at most the stored size on both sides). */
  width: number;
  height: number;
  tw: number;
  th: number;
  /** fit: the scaled image as it is; border: centred on a white size x size square; center_crop: its middle size x size. */
  layout: BoxLayout;
  size: number;
  quality: number;
}

export type BoxResult = { bytes: Uint8Array; width: number; height: number } | { error: string };

/** The part of the WebAssembly API used here (this project's TypeScript libs do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

interface Kernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  hpass(src: number, sw: number, sh: number, tmp: number, dw: number, hstart: number, hcount: number, hw: number, hmax: number): void;
  vpass(tmp: number, dw: number, dst: number, dstride: number, dh: number, vstart: number, vcount: number, vw: number, vmax: number): void;
}

/** Fixed-point weights: each output's weights sum to exactly 2^14. */
const ONE = 1 << 14;

interface Weights {
  start: Int32Array;
  count: Int32Array;
  w: Int32Array;
  max: number;
}

/** For each output pixel, the source pixels it covers and the share of each (the overlap of the two intervals). */
export function areaWeights(src: number, dst: number): Weights {
  const scale = src / dst;
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  let max = 0;
  for (let d = 0; d < dst; d++) {
    const a = d * scale;
    const s0 = Math.floor(a);
    const s1 = Math.min(src, Math.ceil(a + scale - 1e-9));
    start[d] = s0;
    count[d] = s1 - s0;
    if (s1 - s0 > max) max = s1 - s0;
  }
  const w = new Int32Array(dst * max);
  for (let d = 0; d < dst; d++) {
    const a = d * scale;
    const b = a + scale;
    let sum = 0;
    let big = 0;
    for (let k = 0; k < count[d]!; k++) {
      const s = start[d]! + k;
      const v = Math.round(((Math.min(b, s + 1) - Math.max(a, s)) / scale) * ONE);
      w[d * max + k] = v;
      sum += v;
      if (v > w[d * max + big]!) big = k;
    }
    // rounding goes to the largest share, so a flat colour stays exactly that colour
    w[d * max + big]! += ONE - sum;
  }
  return { start, count, w, max };
}

const align = (n: number) => (n + 63) & ~63;

export class BoxJpeg {
  private readonly k: Kernel;

  constructor(private readonly turbo: Turbo) {
    const mod = new WebAssembly.Module(Buffer.from(BOX_WASM, 'base64'));
    this.k = new WebAssembly.Instance(mod).exports as unknown as Kernel;
  }

  run(j: BoxJob): BoxResult {
    const { turbo, k } = this;
    const H = areaWeights(j.width, j.tw);
    const V = areaWeights(j.height, j.th);
    const [W, Hh] = j.layout === 'border' ? [j.size, j.size] : [j.tw, j.th];
    // memory: the decoded frame, the horizontal pass (16 bytes a pixel), the weights, the output (+ a row of slack
    // for a crop's last row), laid out from 0 and grown when a frame needs more
    const src = 0;
    const tmp = align(src + j.width * j.height * 4);
    const meta = align(tmp + j.height * j.tw * 16);
    const metaInts = 2 * j.tw + H.w.length + 2 * j.th + V.w.length;
    const dst = align(meta + metaInts * 4);
    const end = dst + (W * Hh + W) * 4;
    const have = k.memory.buffer.byteLength;
    if (end > have) k.memory.grow(Math.ceil((end - have) / 65536));
    const mem = k.memory.buffer;
    const d = turbo.decompressSync(Buffer.from(j.body.buffer, j.body.byteOffset, j.body.byteLength), Buffer.from(mem, src, j.width * j.height * 4), { format: turbo.FORMAT_RGBX });
    if (d.width !== j.width || d.height !== j.height) return { error: `decoded ${d.width}x${d.height}, the header said ${j.width}x${j.height}` };
    const i32 = new Int32Array(mem);
    let at = meta >> 2;
    const put = (a: Int32Array): number => {
      i32.set(a, at);
      const p = at << 2;
      at += a.length;
      return p;
    };
    const hs = put(H.start), hc = put(H.count), hw = put(H.w), vs = put(V.start), vc = put(V.count), vw = put(V.w);
    k.hpass(src, j.width, j.height, tmp, j.tw, hs, hc, hw, H.max);
    let out = dst;
    let stride = W;
    let ow = W;
    let oh = Hh;
    if (j.layout === 'border') {
      new Uint8Array(mem, dst, W * Hh * 4).fill(255);
      out = dst + ((Math.floor((j.size - j.th) / 2) * W + Math.floor((j.size - j.tw) / 2)) * 4);
    }
    k.vpass(tmp, j.tw, out, W * 4, j.th, vs, vc, vw, V.max);
    let from = dst;
    if (j.layout === 'center_crop') {
      ow = Math.min(j.size, j.tw);
      oh = Math.min(j.size, j.th);
      from = dst + (Math.max(0, Math.floor((j.th - j.size) / 2)) * j.tw + Math.max(0, Math.floor((j.tw - j.size) / 2))) * 4;
      stride = j.tw;
    }
    const enc = turbo.compressSync(Buffer.from(mem, from, stride * oh * 4), { format: turbo.FORMAT_RGBX, subsampling: turbo.SAMP_420, width: ow, height: oh, stride, quality: j.quality });
    // its own copy: the encoder's buffer is the worst-case size
    return { bytes: new Uint8Array(enc), width: ow, height: oh };
  }
}
