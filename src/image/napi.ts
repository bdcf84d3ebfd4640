/**
 * @napi-rs/image (zune-jpeg, fast_image_resize), loaded lazily: it decodes a JPEG in about half the CPU time
 * sharp needs (see README, "Library choices"). Where its prebuilt binary is missing, callers get null and
 * sharp does all the work.
 */
export type NapiImage = typeof import('@napi-rs/image');

let loaded: Promise<NapiImage | null> | undefined;

export function napiImage(): Promise<NapiImage | null> {
  loaded ??= import('@napi-rs/image').catch(() => null);
  return loaded;
}
