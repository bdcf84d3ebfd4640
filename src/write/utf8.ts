/**
 * Bulk UTF-8 encoding of a column's strings. hyparquet-writer encodes each string value with a fresh
 * TextEncoder; for a row group of 32K captions, ids and URLs that allocation dominated the writer's time.
 * Here a column is encoded with one native call into one buffer and handed over as views into it.
 */
const NON_ASCII = /[^\x00-\x7f]/;

/** Strings become UTF-8 views; anything else (null, bytes) passes through unchanged. */
export function encodeUtf8(values: readonly unknown[]): unknown[] {
  const n = values.length;
  const out = new Array<unknown>(n);
  const strings: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === 'string') strings.push(v);
    else out[i] = v;
  }
  if (strings.length === 0) return out;
  const joined = strings.join('');
  if (!NON_ASCII.test(joined)) {
    // ASCII: latin1 bytes are the UTF-8 bytes, and byte offsets are string offsets
    const buf = Buffer.from(joined, 'latin1');
    // plain Uint8Array views: cheaper to make than Buffer.subarray's FastBuffers
    const { buffer, byteOffset } = buf;
    for (let i = 0, off = byteOffset; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'string') continue;
      out[i] = new Uint8Array(buffer, off, v.length);
      off += v.length;
    }
    return out;
  }
  // a UTF-16 unit never takes more than 3 UTF-8 bytes; each value is written on its own, so a lone surrogate
  // is replaced exactly as TextEncoder would
  const buf = Buffer.allocUnsafeSlow(joined.length * 3);
  for (let i = 0, off = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'string') continue;
    const len = buf.write(v, off, 'utf8');
    out[i] = new Uint8Array(buf.buffer, buf.byteOffset + off, len);
    off += len;
  }
  return out;
}
