/**
 * Derives the Parquet layout of a dataset's shards from the record JSON Schemas, so the schema files stay
 * the one source of truth: the same properties drive validation, TypeScript types and the columns on disk.
 */
import type { SchemaElement } from 'hyparquet';
import { loadSchema } from '../schemas.js';
import { float16ListElements } from './float16-list-chunk.js';
import type { Layout } from '../records.js';

type JsonSchema = Record<string, unknown> & {
  type?: string | string[];
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  binary?: boolean;
  'x-parquet'?: string;
};

export interface ColumnDef {
  name: string;
  /** Elements for this column, depth-first, ready to splice under the root. */
  elements: SchemaElement[];
  /** The HF `datasets` feature, for the `huggingface` key-value metadata. */
  feature: unknown;
  required: boolean;
}

const common = loadSchema('record-common.schema.json') as { definitions: Record<string, JsonSchema> };

function resolve(s: JsonSchema): JsonSchema {
  if (s.$ref) {
    const name = s.$ref.split('/').pop()!;
    const def = common.definitions[name];
    if (!def) throw new Error(`schema $ref ${s.$ref} not found in record-common.schema.json`);
    return resolve(def);
  }
  return s;
}

function types(s: JsonSchema): string[] {
  if (s.const !== undefined) return [typeof s.const];
  if (s.enum && !s.type) return [...new Set(s.enum.map((v) => (v === null ? 'null' : typeof v)))];
  if (s.anyOf) return s.anyOf.flatMap((a) => types(resolve(a)));
  return Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
}

function isImage(s: JsonSchema): boolean {
  return !!s.properties && 'bytes' in s.properties && 'path' in s.properties;
}

function holdsImage(s: JsonSchema): boolean {
  if (isImage(s)) return true;
  if (s.items) return holdsImage(resolve(s.items));
  return !!s.anyOf?.some((a) => holdsImage(resolve(a)));
}

function leaf(name: string, s: JsonSchema, optional: boolean): { elements: SchemaElement[]; feature: unknown } {
  const repetition_type = optional ? 'OPTIONAL' : 'REQUIRED';
  if (s.anyOf) {
    const nonNull = s.anyOf.map(resolve).filter((a) => !types(a).every((t) => t === 'null'));
    if (nonNull.length !== 1) throw new Error(`column ${name}: anyOf must be one type or null`);
    return leaf(name, nonNull[0]!, true);
  }
  if (isImage(s)) {
    return {
      elements: [
        { name, repetition_type, num_children: 2 },
        { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
        { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      ],
      feature: { _type: 'Image' },
    };
  }
  // embeddings: float16 bytes in memory, a list of FLOAT16 numbers on disk (float16-list-chunk.ts)
  if (s['x-parquet'] === 'FLOAT16_LIST') return { elements: float16ListElements(name), feature: { feature: { dtype: 'float16', _type: 'Value' }, _type: 'List' } };
  if (s.binary) return { elements: [{ name, type: 'BYTE_ARRAY', repetition_type }], feature: { dtype: 'binary', _type: 'Value' } };
  const t = types(s).filter((x) => x !== 'null');
  if (t[0] === 'array') {
    const item = resolve(s.items!);
    const inner = leaf('element', item, types(item).includes('null') || !!item.anyOf);
    return {
      elements: [
        { name, repetition_type, converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        ...inner.elements,
      ],
      feature: { feature: inner.feature, _type: 'Sequence' },
    };
  }
  if (t[0] === 'string') return { elements: [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type }], feature: { dtype: 'string', _type: 'Value' } };
  if (t[0] === 'integer') {
    if (s['x-parquet'] !== 'INT32') throw new Error(`column ${name}: integers must declare "x-parquet": "INT32"`);
    return { elements: [{ name, type: 'INT32', repetition_type }], feature: { dtype: 'int32', _type: 'Value' } };
  }
  if (t[0] === 'number') return { elements: [{ name, type: 'DOUBLE', repetition_type }], feature: { dtype: 'float64', _type: 'Value' } };
  throw new Error(`column ${name}: no Parquet mapping for JSON Schema type ${JSON.stringify(s.type)}`);
}

const layoutCache = new Map<Layout, ColumnDef[]>();

/** Every column the layout's schema defines, in schema order. */
export function layoutColumns(layout: Layout): ColumnDef[] {
  let cols = layoutCache.get(layout);
  if (cols) return cols;
  const schema = loadSchema(`record-${layout}.schema.json`) as JsonSchema;
  const required = new Set(schema.required ?? []);
  cols = Object.entries(schema.properties ?? {}).map(([name, raw]) => {
    const s = resolve(raw);
    // `datasets` applies a stored feature (Image, a list of Image) only to an Arrow field equal to the one
    // it would make itself, and the fields it makes are nullable: image-bearing columns must be OPTIONAL
    const nullable = types(s).includes('null') || holdsImage(s) || !!s.binary;
    const { elements, feature } = leaf(name, s, nullable || !required.has(name));
    return { name, elements, feature, required: required.has(name) };
  });
  layoutCache.set(layout, cols);
  return cols;
}

/** The required columns of a layout plus the optional ones a stage asks for, in schema order. */
export function selectColumns(layout: Layout, extra: readonly string[] = []): ColumnDef[] {
  const all = layoutColumns(layout);
  const unknown = extra.filter((n) => !all.some((c) => c.name === n));
  if (unknown.length) {
    throw new Error(`unknown column(s) ${unknown.join(', ')} for ${layout} records; the schema defines: ${all.map((c) => c.name).join(', ')}`);
  }
  return all.filter((c) => c.required || extra.includes(c.name));
}

export function parquetSchema(columns: ColumnDef[]): SchemaElement[] {
  return [{ name: 'schema', num_children: columns.length }, ...columns.flatMap((c) => c.elements)];
}

/** Key-value metadata that lets `datasets.load_dataset("parquet", ...)` decode Image columns. */
export function huggingfaceMetadata(columns: ColumnDef[]): string {
  const features: Record<string, unknown> = {};
  for (const c of columns) features[c.name] = c.feature;
  return JSON.stringify({ info: { features } });
}
