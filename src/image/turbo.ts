/**
 * @julusian/jpeg-turbo (libjpeg-turbo's TurboJPEG API, prebuilt), loaded lazily. It encodes a 256x256 JPEG in
 * about a seventh of the CPU time sharp needs (libvips' fixed cost per call dominates there) and decodes a web
 * photo in about half of zune-jpeg's (docs/benchmarks.md, "Library choices"). It is an optional dependency:
 * where its binary is missing, callers get null and take the sharp / @napi-rs/image path.
 */
export type Turbo = typeof import('@julusian/jpeg-turbo');

let loaded: Promise<Turbo | null> | undefined;

/** MMCURATE_NO_JPEG_TURBO=1 takes the path of a machine without the binary (read at every call: tests take both). */
export function jpegTurbo(): Promise<Turbo | null> {
  if (process.env.MMCURATE_NO_JPEG_TURBO) return Promise.resolve(null);
  loaded ??= import('@julusian/jpeg-turbo').then((m) => ((m as { default?: Turbo }).default ?? m) as Turbo)
    .then((m) => (m && typeof m.compress === 'function' && typeof m.decompress === 'function' ? m : null))
    .catch(() => null);
  return loaded;
}

/**
 * Reused frames and output buffers for the in-thread image paths. Without them each TurboJPEG call allocates a
 * zero-filled buffer of its whole output on the calling thread (TurboJPEG's worst-case size for an encode, the
 * frame for a decode): on a download of 4,000 photos, that zeroing, its page faults and the garbage collections it
 * caused were a third of the process's CPU time. A buffer is taken for one call and given back once its bytes are
 * used. (The image threads keep their frames in WebAssembly memory instead: box.ts.)
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep = 8) {}

  take(bytes: number): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      if (this.free[i]!.length >= bytes) return this.free.splice(i, 1)[0]!;
    }
    // rounded up so that a few sizes serve every frame of a crawl
    return Buffer.allocUnsafeSlow(Math.max(1 << 16, 2 ** Math.ceil(Math.log2(bytes))));
  }

  give(b: Buffer): void {
    if (this.free.length < this.keep) this.free.push(b);
  }
}
