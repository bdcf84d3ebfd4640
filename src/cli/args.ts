/**
 * A small, strict flag parser shared by every command: `--flag value`, `--flag=value`, repeatable list
 * flags, booleans. An unknown flag or a missing value is a usage error (exit code 2) that lists the valid
 * flags, so a typo never silently changes what a run does.
 */
import { UsageError } from '../errors.js';

export type FlagType = 'string' | 'number' | 'boolean' | 'list';
export interface FlagSpec {
  type: FlagType;
  /** One-line help, shown by --help. */
  help?: string;
  /** Numbers: a whole number (counts, sizes in rows, task counts). */
  integer?: boolean;
  /** Numbers: the least value allowed. */
  min?: number;
  /** Numbers: values must be greater than this (sizes in MiB). */
  above?: number;
  /** Strings: the values allowed (also the value type of the option in the library API). */
  choices?: readonly string[];
  /**
   * The command refuses to run without it: the library API's option type makes it required (the command's
   * own check gives the message).
   */
  required?: boolean;
}
export type Flags = Record<string, FlagSpec>;

/** Flags several commands share, as their flags tables list them. */
export const QUIET_FLAG = { type: 'boolean', help: 'no progress output' } as const;
export const WORKERS_FLAG = { type: 'number', integer: true, min: 1, help: 'tasks run at once on this machine (default: CPU count)' } as const;

export interface Parsed {
  flags: Record<string, string | number | boolean | string[] | undefined>;
  positional: string[];
  help: boolean;
}

const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

export function parseArgs(argv: string[], spec: Flags, command: string): Parsed {
  const flags: Parsed['flags'] = {};
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const s = spec[name];
    if (!s) {
      throw new UsageError(`mmcurate ${command}: unknown flag --${name}. Valid flags: ${Object.keys(spec).map((f) => `--${f}`).join(', ')}`);
    }
    if (s.type === 'boolean') {
      flags[name] = eq > 0 ? a.slice(eq + 1) !== 'false' : true;
      continue;
    }
    const values: string[] = [];
    if (eq > 0) values.push(a.slice(eq + 1));
    else {
      // list flags take every following value up to the next flag: --input a.jsonl b.jsonl
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
        values.push(argv[++i]!);
        if (s.type !== 'list') break;
      }
    }
    if (values.length === 0) throw new UsageError(`mmcurate ${command}: --${name} needs a value`);
    if (s.type === 'list') flags[name] = [...((flags[name] as string[] | undefined) ?? []), ...values];
    else if (s.type === 'number') {
      // decimal only: Number() would take "" as 0 and "0x10" as 16
      const n = DECIMAL.test(values[0]!) ? Number(values[0]) : NaN;
      if (!Number.isFinite(n)) throw new UsageError(`mmcurate ${command}: --${name} expects a number, got "${values[0]}"`);
      if (s.integer && !Number.isInteger(n)) throw new UsageError(`mmcurate ${command}: --${name} expects a whole number, got ${values[0]}`);
      if (s.min !== undefined && n < s.min) throw new UsageError(`mmcurate ${command}: --${name} must be at least ${s.min}, got ${values[0]}`);
      if (s.above !== undefined && !(n > s.above)) throw new UsageError(`mmcurate ${command}: --${name} must be more than ${s.above}, got ${values[0]}`);
      flags[name] = n;
    } else {
      if (s.choices && !s.choices.includes(values[0]!)) throw new UsageError(`mmcurate ${command}: unsupported --${name} "${values[0]}". Should be one of: ${s.choices.join(', ')}`);
      flags[name] = values[0];
    }
  }
  return { flags, positional, help };
}

/**
 * parseArgs for a command that takes no positional argument: a stray value (a second path after a
 * single-valued flag, `--emit-npy no`) is a usage error, never silently ignored. `hint` says where the
 * value belongs.
 */
export function parseFlagsOnly(argv: string[], spec: Flags, command: string, hint: string): Parsed {
  const p = parseArgs(argv, spec, command);
  if (!p.help && p.positional.length) throw new UsageError(`mmcurate ${command}: unexpected argument "${p.positional[0]}"; ${hint}`);
  return p;
}

export function str(p: Parsed, name: string): string | undefined {
  return p.flags[name] as string | undefined;
}
export function num(p: Parsed, name: string): number | undefined {
  return p.flags[name] as number | undefined;
}
export function bool(p: Parsed, name: string): boolean {
  return p.flags[name] === true;
}
export function list(p: Parsed, name: string): string[] {
  return (p.flags[name] as string[] | undefined) ?? [];
}
export function required(p: Parsed, name: string, command: string): string {
  const v = p.flags[name];
  if (v === undefined || (Array.isArray(v) && v.length === 0)) throw new UsageError(`mmcurate ${command}: --${name} is required (see mmcurate ${command} --help)`);
  return Array.isArray(v) ? v[0]! : String(v);
}

/** `k=v,k2=v2` or repeated `k=v` → object; the error names the bad pair. */
export function keyValues(items: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items.flatMap((s) => s.split(','))) {
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1) throw new UsageError(`--${flag} ${item}: expected FIELD=VALUE`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

export function formatHelp(usage: string, about: string, spec: Flags): string {
  const width = Math.max(...Object.keys(spec).map((k) => k.length)) + 4;
  const lines = Object.entries(spec).map(([k, s]) => `  --${k.padEnd(width)}${s.help ?? ''}`);
  return `${usage}\n\n${about}\n\nOptions:\n${lines.join('\n')}\n  --${'help'.padEnd(width)}show this help\n`;
}
