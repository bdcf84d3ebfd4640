/**
 * Grouping rows by a multi-word key in one pass, with an open-addressing table over the key words (keys are
 * hashes already, so the first word is a good slot): O(n) time, 4 bytes a slot, no string or object per row.
 */

/** For each of `n` keys (`width` int32 words each), the index of the first row with the same key (itself when new). */
export function firstOfKey(keys: Int32Array, width: number, n: number): Int32Array {
  let cap = 1;
  while (cap < n * 2) cap <<= 1;
  const mask = cap - 1;
  const slots = new Int32Array(cap).fill(-1);
  const first = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * width;
    let h = keys[o]! ^ Math.imul(keys[o + width - 1]!, 0x9e3779b1);
    let s = h & mask;
    for (;;) {
      const j = slots[s]!;
      if (j < 0) {
        slots[s] = i;
        first[i] = i;
        break;
      }
      let same = true;
      const p = j * width;
      for (let w = 0; w < width; w++) {
        if (keys[p + w] !== keys[o + w]) {
          same = false;
          break;
        }
      }
      if (same) {
        first[i] = j;
        break;
      }
      s = (s + 1) & mask;
      h++;
    }
  }
  return first;
}

/** Groups of size >= 2, each as the row indices in row order (rows are given in ascending global order). */
export function groupsOf(first: Int32Array): Int32Array[] {
  const n = first.length;
  const size = new Int32Array(n);
  for (let i = 0; i < n; i++) size[first[i]!]++;
  const out: Int32Array[] = [];
  const at = new Int32Array(n).fill(-1);
  const fill = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const f = first[i]!;
    if (f === i && size[i]! >= 2) {
      at[i] = out.length;
      out.push(new Int32Array(size[i]!));
    }
    if (at[f]! < 0) continue;
    out[at[f]!]![fill[f]!++] = i;
  }
  return out;
}
