/**
 * Loads the JSON Schemas in schemas/ (the one source of truth for record, pipeline and recipe shapes) and
 * compiles validators. Validation happens at the edges: records as they enter from raw input, and config
 * files as they are read.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Layout } from './records.js';

const Ajv = AjvModule as unknown as typeof AjvModule.default;

export const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'schemas');
export const PACKAGE_ROOT = path.resolve(SCHEMA_DIR, '..');

let ajv: InstanceType<typeof Ajv> | undefined;
const cache = new Map<string, ValidateFunction>();

export function loadSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
}

function instance(): InstanceType<typeof Ajv> {
  if (ajv) return ajv;
  ajv = new Ajv({ allErrors: true, strict: false });
  // Binary payloads (image bytes, embeddings) are Uint8Array in memory; JSON Schema has no such type.
  ajv.addKeyword({
    keyword: 'binary',
    validate: (_schema: unknown, data: unknown) => data === null || data instanceof Uint8Array,
    errors: false,
  });
  ajv.addSchema(loadSchema('record-common.schema.json'));
  return ajv;
}

export function validator(file: string): ValidateFunction {
  let v = cache.get(file);
  if (!v) {
    v = instance().compile(loadSchema(file));
    cache.set(file, v);
  }
  return v;
}

export function recordValidator(layout: Layout): ValidateFunction {
  return validator(`record-${layout}.schema.json`);
}

/** One line per problem: where (a JSON pointer), what was expected, and the value that came. */
export function describeErrors(errors: ErrorObject[] | null | undefined, data?: unknown): string {
  if (!errors?.length) return 'invalid';
  return errors
    .map((e) => {
      const where = e.instancePath || '(top level)';
      let got = '';
      if (data !== undefined && e.instancePath) {
        const v = e.instancePath.split('/').slice(1).reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[decodeURIComponent(k)], data);
        got = `, got ${JSON.stringify(v)?.slice(0, 60) ?? String(v)}`;
      }
      const extra = e.keyword === 'additionalProperties' ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'` : '';
      const allowed = e.keyword === 'enum' ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : '';
      return `${where}: ${e.message}${extra}${allowed}${got}`;
    })
    .join('; ');
}
