/**
 * `--ratio caption=45,interleaved=45,text=10` and `--input KIND=DIR[:weight]`: parsed strictly, with
 * errors that quote the bad piece and show a good one.
 */
import { UsageError } from '../errors.js';
import { KINDS, isKind, type Kind } from '../records.js';

const EXAMPLE = 'caption=45,interleaved=45,text=10';

function number(flag: string, piece: string, text: string): number {
  const v = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(v)) throw new UsageError(`${flag} ${piece}: expected a number >= 0, got "${text}"`);
  if (v < 0) throw new UsageError(`${flag} ${piece}: expected a number >= 0, got ${v}`);
  return v;
}

/** Kind → ratio as written (not normalised), in canonical kind order. */
export function parseRatios(text: string): Map<Kind, number> {
  const flag = '--ratio';
  if (!text.trim()) throw new UsageError(`${flag}: empty; expected KIND=NUMBER pairs separated by commas, e.g. ${EXAMPLE}`);
  const got = new Map<Kind, number>();
  for (const raw of text.split(',')) {
    const piece = raw.trim();
    const eq = piece.indexOf('=');
    if (eq < 0) throw new UsageError(`${flag} "${text}": "${piece}" is not KIND=NUMBER; expected e.g. ${EXAMPLE}`);
    const kind = piece.slice(0, eq).trim();
    if (!isKind(kind)) throw new UsageError(`${flag} ${piece}: unknown kind "${kind}"; expected one of ${KINDS.join(', ')}`);
    if (got.has(kind)) throw new UsageError(`${flag} "${text}": kind ${kind} is given twice`);
    got.set(kind, number(flag, piece, piece.slice(eq + 1)));
  }
  if ([...got.values()].every((v) => v === 0)) throw new UsageError(`${flag} ${text}: every ratio is 0; at least one kind needs a positive ratio`);
  return new Map(KINDS.filter((k) => got.has(k)).map((k) => [k, got.get(k)!]));
}

export interface InputSpec {
  kind: Kind;
  dir: string;
  weight?: number;
  /** The flag as given, for error messages. */
  spec: string;
}

/** `KIND=DIR[:weight]`; a trailing `:NUMBER` is a weight, so folders with colons still work. */
export function parseInput(spec: string): InputSpec {
  const eq = spec.indexOf('=');
  if (eq < 0) throw new UsageError(`--input ${spec}: expected KIND=DIR[:weight], e.g. caption=out/coco:2`);
  const kind = spec.slice(0, eq).trim();
  if (!isKind(kind)) throw new UsageError(`--input ${spec}: unknown kind "${kind}"; expected one of ${KINDS.join(', ')}`);
  let dir = spec.slice(eq + 1);
  let weight: number | undefined;
  const m = /^(.*):([^:/\\]*)$/.exec(dir);
  if (m && m[1] && /^[-+0-9.eE]+$/.test(m[2]!)) {
    weight = number('--input', spec, m[2]!);
    if (weight === 0) throw new UsageError(`--input ${spec}: expected a weight > 0, got 0; leave the input out instead`);
    dir = m[1];
  }
  if (!dir) throw new UsageError(`--input ${spec}: no folder after "${kind}="`);
  return { kind, dir, ...(weight !== undefined ? { weight } : {}), spec };
}
