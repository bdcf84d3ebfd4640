/**
 * Reads and validates a pipeline file against schemas/pipeline.schema.json, then resolves its paths
 * (relative to the file) and stage references (@name → that stage's output folder).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { describeErrors, validator } from '../schemas.js';

export interface StageSpec {
  name: string;
  stage: 'ingest' | 'score' | 'coreset' | 'mix' | 'audit' | 'export' | 'filter' | 'report' | 'dedup' | 'download';
  description?: string;
  with?: Record<string, string | number | boolean | string[]>;
}

export interface Pipeline {
  name: string;
  description?: string;
  source?: string;
  stages: StageSpec[];
}

/** Flags whose values are paths: resolved against the pipeline file's folder. */
const PATH_FLAGS = new Set(['input', 'model', 'recipe', 'centroids', 'tokenizer']);

export function loadPipeline(file: string): Pipeline {
  if (!existsSync(file)) throw new UsageError(`pipeline file ${file} does not exist`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const v = validator('pipeline.schema.json');
  if (!v(doc)) throw new UsageError(`${file}: ${describeErrors(v.errors, doc)} (schema: schemas/pipeline.schema.json)`);
  const p = doc as Pipeline;
  const seen = new Set<string>();
  for (const [i, s] of p.stages.entries()) {
    if (seen.has(s.name)) throw new UsageError(`${file}: /stages/${i}/name: "${s.name}" is used twice; stage names must be unique`);
    seen.add(s.name);
  }
  return p;
}

/** `@name` at the start of a value or after `KIND=`; an `@` elsewhere (`cat@2x.jsonl`) is part of a file name. */
const STAGE_REF = /(^|=)@([A-Za-z0-9_.-]+?)(?=$|:|\/)/;

function resolveValue(v: string, flag: string, baseDir: string, outDir: string, known: Set<string>, where: string): string {
  const ref = STAGE_REF.exec(v);
  if (ref) {
    const name = ref[2]!;
    if (!known.has(name)) throw new UsageError(`${where}: "@${name}" refers to no earlier stage (earlier stages: ${[...known].join(', ') || 'none'})`);
    return v.slice(0, ref.index) + ref[1] + path.join(outDir, name) + v.slice(ref.index + ref[0].length);
  }
  // a bare name (`"recipe": "mm1-pretrain"`, `"recipe": "llava-1.5-sft"`) names a bundled recipe unless a file
  // of that name sits beside the pipeline
  if (flag === 'recipe' && !v.includes('/') && !existsSync(path.resolve(baseDir, v))) return v;
  if (!PATH_FLAGS.has(flag)) return v;
  // KIND=PATH and name=PATH values keep their prefix
  const eq = v.indexOf('=');
  if (eq > 0 && !v.slice(0, eq).includes('/')) return `${v.slice(0, eq)}=${path.resolve(baseDir, v.slice(eq + 1))}`;
  return path.resolve(baseDir, v);
}

/** The argv a stage's command receives. */
export function stageArgv(p: Pipeline, index: number, file: string, outDir: string): string[] {
  const s = p.stages[index]!;
  const known = new Set(p.stages.slice(0, index).map((x) => x.name));
  const baseDir = path.dirname(path.resolve(file));
  const where = `${file}: /stages/${index} (${s.name})`;
  const argv: string[] = [];
  const positional: string[] = [];
  for (const [flag, value] of Object.entries(s.with ?? {})) {
    if (flag === 'out') throw new UsageError(`${where}/with/out: a stage's output is --out/${s.name}; remove "out"`);
    if (flag === 'help') throw new UsageError(`${where}/with/help: a stage cannot ask for help; see mmcurate ${s.stage} --help`);
    if (typeof value === 'boolean') {
      if (value) argv.push(`--${flag}`);
      continue;
    }
    const values = Array.isArray(value) ? value : [String(value)];
    const resolved = values.map((x) => resolveValue(x, flag, baseDir, outDir, known, `${where}/with/${flag}`));
    if ((s.stage === 'audit' || s.stage === 'report') && flag === 'input') positional.push(...resolved);
    // a single value goes as --flag=value, so "strict": "false" is a boolean false, not a stray argument
    else if (Array.isArray(value)) argv.push(`--${flag}`, ...resolved);
    else argv.push(`--${flag}=${resolved[0]}`);
  }
  if (s.stage === 'audit') return [...positional, ...argv];
  // a report reads the named stage, or the whole run, and writes OUT/<name>/report.html
  if (s.stage === 'report') return [...(positional.length ? positional : [outDir]), ...argv, '--out', path.join(outDir, s.name, 'report.html')];
  return [...argv, '--out', path.join(outDir, s.name)];
}
