/**
 * The library API's options are the CLI's flags as a typed object: `{ shardRows: 1000 }` is `--shard-rows 1000`.
 * The types are generated from each command's flags table (FlagOptions), and a call turns its object back
 * into the command line (toArgv) and hands it to the command's own parser, so the CLI and the library share
 * one validation path and cannot drift apart.
 */
import { UsageError } from '../errors.js';
import type { FlagSpec, Flags } from '../cli/args.js';

/** `shard-rows` → `shardRows`. */
export type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

/** The value a flag takes in an options object. */
export type FlagValue<F extends FlagSpec> = F extends { type: 'number' }
  ? number
  : F extends { type: 'boolean' }
    ? boolean
    : F extends { type: 'list' }
      ? readonly string[] | string
      : F extends { choices: readonly (infer C)[] }
        ? C
        : string;

type RequiredKeys<F extends Flags> = { [K in keyof F & string]: F[K] extends { required: true } ? K : never }[keyof F & string];

/** An options object for a command with flags F: required flags are required keys, the rest optional. */
export type FlagOptions<F extends Flags> = {
  -readonly [K in RequiredKeys<F> as CamelCase<K>]: FlagValue<F[K]>;
} & {
  -readonly [K in Exclude<keyof F & string, RequiredKeys<F>> as CamelCase<K>]?: FlagValue<F[K]>;
};

function camel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The command line an options object stands for. Every value goes as `--flag=value` (a value that starts
 * with `--` stays a value); a list flag repeats; `false` and `undefined` leave the flag out. A key that is
 * no flag of the command is a UsageError naming the valid ones, as an unknown flag is on the command line.
 */
export function toArgv(command: string, options: object, flags: Flags, positional: string[] = []): string[] {
  const byKey = new Map(Object.keys(flags).map((f) => [camel(f), f]));
  const argv: string[] = [...positional];
  for (const [key, value] of Object.entries(options)) {
    const flag = byKey.get(key);
    if (!flag) throw new UsageError(`mmcurate.${command}(): unknown option "${key}". Valid options: ${[...byKey.keys()].join(', ')}`);
    if (value === undefined || value === false) continue;
    const spec = flags[flag]!;
    const bad = (want: string) => new UsageError(`mmcurate.${command}(): option ${key} expects ${want}, got ${JSON.stringify(value)}`);
    if (spec.type === 'boolean') {
      if (value !== true) throw bad('true or false');
      argv.push(`--${flag}`);
    } else if (spec.type === 'list') {
      const items: unknown[] = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
      if (!items.length || items.some((v) => typeof v !== 'string')) throw bad('a string or an array of strings');
      for (const v of items) argv.push(`--${flag}=${v as string}`);
    } else if (spec.type === 'number') {
      if (typeof value !== 'number') throw bad('a number');
      // the parser's own checks (whole number, minimum) then apply as on the command line
      argv.push(`--${flag}=${value}`);
    } else {
      if (typeof value !== 'string') throw bad('a string');
      argv.push(`--${flag}=${value}`);
    }
  }
  return argv;
}
