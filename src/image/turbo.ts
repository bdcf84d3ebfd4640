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
