/**
 * Turns `--input` arguments into input units (one file, or one image folder) with a source name and a
 * format: from the extension, confirmed or overridden by the first bytes, or forced with `--format`.
 */
import { realpathSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { Kind } from '../records.js';
import { COMPRESSED } from './readers/decompress.js';
import { IMAGE_FILE, listFiles } from './readers/imagefolder.js';
import * as storage from '../storage/index.js';

export const FORMATS = ['jsonl', 'csv', 'tsv', 'parquet', 'webdataset', 'imagefolder', 'txt', 'arrow'] as const;
export type Format = (typeof FORMATS)[number];

export interface InputUnit {
  source: string;
  absPath: string;
  /** Relative to the input root, for rejects and ids. */
  relPath: string;
  format: Format;
  bytes: number;
  /** A piece of a large file (see split.ts); absent: the whole file. */
  part?: FilePart;
}

/**
 * Lines whose first byte lies in [start, end), the first of them being line `firstLine`; or row groups
 * [firstGroup, endGroup) of a Parquet file. Keys stay those of the whole file, so ids do not depend on the split.
 */
export type FilePart = { start: number; end: number; firstLine: number } | { firstGroup: number; endGroup: number };

const BY_EXT: Record<string, Format> = {
  jsonl: 'jsonl', ndjson: 'jsonl', json: 'jsonl',
  csv: 'csv', tsv: 'tsv', parquet: 'parquet', tar: 'webdataset', txt: 'txt', text: 'txt', arrow: 'arrow',
};

function extOf(file: string): string {
  const base = path.basename(file).toLowerCase().replace(COMPRESSED, '');
  const dot = base.lastIndexOf('.');
  return dot < 0 ? '' : base.slice(dot + 1);
}

export function sourceName(p: string): string {
  const base = path.basename(p.replace(/[/\\]+$/, '').replace(/\*.*$/, '').replace(/[/\\]+$/, '')) || 'input';
  return base.replace(COMPRESSED, '').replace(/\.(jsonl|ndjson|json|csv|tsv|parquet|tar|txt|text|arrow)$/i, '') || 'input';
}

async function sniff(file: string, size?: number): Promise<Format | undefined> {
  if (COMPRESSED.test(file)) return undefined;
  if (storage.isRemote(file)) return sniffed(Buffer.from(await storage.read(file, 0, Math.min(512, size ?? 512))));
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    return sniffed(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

function sniffed(buf: Buffer): Format | undefined {
  if (buf.length >= 4 && buf.subarray(0, 4).toString('latin1') === 'PAR1') return 'parquet';
  if (buf.length >= 262 && buf.subarray(257, 262).toString('latin1') === 'ustar') return 'webdataset';
  return undefined;
}

function glob(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
}

/**
 * A URL input (s3://, gs://, hf://, https://): a glob is one listing of its prefix, a folder is every data
 * file under it (as for a local folder), a file is itself. Sizes come from the listing.
 */
async function remoteFilesOf(spec: string): Promise<{ root: string; files: storage.Entry[] }> {
  const url = storage.normalize(spec);
  let entries: storage.Entry[];
  let root: string;
  if (url.includes('*')) {
    root = url.slice(0, url.lastIndexOf('/', url.indexOf('*')));
    entries = await storage.glob(url);
    if (!entries.length) throw new UsageError(`--input ${storage.redact(spec)}: no file matches`);
    return { root, files: entries };
  }
  const size = await storage.size(url).catch((err: unknown) => {
    // an https server cannot list; anything else that fails to stat may still be a folder (a prefix)
    if (url.startsWith('http')) throw new UsageError(`--input ${storage.redact(spec)}: ${(err as Error).message}`);
    return undefined;
  });
  if (size !== undefined) return { root: url.slice(0, url.lastIndexOf('/')), files: [{ loc: url, size }] };
  if (url.startsWith('http')) throw new UsageError(`--input ${storage.redact(spec)}: no such file (HTTP 404)`);
  root = url.replace(/\/+$/, '');
  const all = (await storage.list(root)).filter((e) => {
    const rel = e.loc.slice(root.length + 1);
    return !path.posix.basename(rel).startsWith('_') && !rel.endsWith('_stats.json');
  });
  const tars = all.filter((e) => BY_EXT[extOf(e.loc)] === 'webdataset');
  const data = tars.length ? tars : all.filter((e) => BY_EXT[extOf(e.loc)]);
  if (!data.length) throw new UsageError(`--input ${storage.redact(spec)}: no such file, and no data file (.jsonl, .csv, .tsv, .parquet, .tar, .txt, .arrow) under it`);
  return { root, files: data };
}

async function filesOf(spec: string): Promise<{ root: string; files: string[]; folder?: boolean }> {
  if (spec.includes('*')) {
    const dir = path.dirname(spec);
    const re = glob(path.basename(spec));
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => re.test(n)).sort();
    } catch {
      throw new UsageError(`--input ${spec}: folder ${dir} does not exist`);
    }
    // a match that is a broken link or a folder is not a data file: say so, and go on with the others
    const files: string[] = [];
    for (const n of names) {
      const st = await stat(path.join(dir, n)).catch(() => undefined);
      if (st?.isFile()) files.push(n);
      else process.stderr.write(`warning: --input ${spec}: skipping ${path.join(dir, n)} (${st ? 'a folder' : 'a broken link'})\n`);
    }
    if (!files.length) throw new UsageError(`--input ${spec}: no file matches`);
    return { root: dir, files };
  }
  let st;
  try {
    st = await stat(spec);
  } catch {
    throw new UsageError(`--input ${spec}: no such file or folder`);
  }
  if (st.isFile()) return { root: path.dirname(spec), files: [path.basename(spec)] };
  const listed = await listFiles(spec);
  const saved = await savedToDisk(spec, listed);
  if (saved) return { root: spec, files: saved };
  // img2dataset leaves `_stats.json` and a metadata `.parquet` beside each tar: the tars are the data
  const all = listed.filter((f) => !path.basename(f).startsWith('_') && !f.endsWith('_stats.json'));
  const tars = all.filter((f) => BY_EXT[extOf(f)] === 'webdataset');
  const data = tars.length ? tars : all.filter((f) => BY_EXT[extOf(f)] && !(BY_EXT[extOf(f)] === 'txt' && all.some((g) => IMAGE_FILE.test(g))));
  if (data.length) return { root: spec, files: data };
  if (all.some((f) => IMAGE_FILE.test(f))) return { root: spec, files: [], folder: true };
  throw new UsageError(`--input ${spec}: the folder holds no file mmcurate reads (.jsonl, .csv, .tsv, .parquet, .tar, .txt, optionally .gz or .zst, .arrow, a datasets save_to_disk folder, or images with .txt captions)`);
}

/**
 * A `datasets` `save_to_disk` folder (a Dataset: `state.json` + `dataset_info.json` + `data-*.arrow`; a
 * DatasetDict: `dataset_dict.json` and one such folder per split): its data files are the `.arrow` shards
 * that each `state.json` names, in its order; its JSON files are metadata, never records. Undefined when `dir`
 * is not one.
 */
async function savedToDisk(dir: string, all: string[]): Promise<string[] | undefined> {
  const present = new Set(all);
  const states = all.filter((f) => path.basename(f) === 'state.json' && present.has(path.join(path.dirname(f), 'dataset_info.json')));
  if (!states.length) return undefined;
  const files: string[] = [];
  for (const s of states) {
    const file = path.join(dir, s);
    let state: unknown;
    try {
      state = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new UsageError(`--input ${dir}: ${file} (a datasets save_to_disk folder's state) is not readable JSON: ${(err as Error).message}`);
    }
    const list = (state as { _data_files?: unknown })?._data_files;
    const names = Array.isArray(list) ? list.map((d) => (d as { filename?: unknown })?.filename) : undefined;
    if (!names || !names.every((n): n is string => typeof n === 'string' && n !== '' && !n.includes('..'))) {
      throw new UsageError(`--input ${dir}: ${file} has no "_data_files" list of {"filename": ...}; is this a datasets save_to_disk folder?`);
    }
    for (const n of names) {
      const rel = path.join(path.dirname(s), n);
      if (!present.has(rel)) throw new UsageError(`--input ${dir}: ${file} names ${n}, which is not in ${path.join(dir, path.dirname(s))}; the folder is incomplete`);
      files.push(rel);
    }
  }
  return files;
}

export async function expandInputs(specs: string[], kind: Kind, forced?: Format): Promise<InputUnit[]> {
  const units: InputUnit[] = [];
  for (const raw of specs) {
    const eq = raw.indexOf('=');
    const named = eq > 0 && !raw.slice(0, eq).includes('/') ? raw.slice(0, eq) : undefined;
    const spec = named ? raw.slice(eq + 1) : raw;
    const source = named ?? sourceName(spec);
    if (storage.isRemote(spec)) {
      if (forced === 'imagefolder') throw new UsageError(`--input ${storage.redact(spec)}: --format imagefolder reads a local folder; copy the images locally, or ingest a metadata file instead`);
      const { root, files } = await remoteFilesOf(spec);
      for (const e of files) {
        const rel = e.loc.slice(root.length + 1);
        const format = forced ?? (await sniff(e.loc, e.size)) ?? BY_EXT[extOf(rel)];
        if (!format) throw new UsageError(`--input ${storage.redact(e.loc)}: cannot tell the format from its name or content; pass --format (one of: ${FORMATS.join(', ')})`);
        if (format === 'txt' && kind !== 'text') throw new UsageError(`--input ${storage.redact(e.loc)}: plain text is a text corpus; use --kind text${forced ? '' : ' or pass --format'}`);
        units.push({ source, absPath: e.loc, relPath: rel, format, bytes: e.size });
      }
      continue;
    }
    if (forced === 'imagefolder' && !(await stat(spec).catch(() => undefined))?.isDirectory()) {
      throw new UsageError(`--input ${spec}: --format imagefolder takes a folder of images with .txt captions, and this is not a folder`);
    }
    const { root, files, folder } = forced === 'imagefolder' ? { root: spec, files: [], folder: true } : await filesOf(spec);
    if (folder) {
      if (kind !== 'caption') throw new UsageError(`--input ${spec}: a folder of images is caption data; use --kind caption`);
      units.push({ source, absPath: path.resolve(spec), relPath: path.basename(path.resolve(spec)), format: 'imagefolder', bytes: 0 });
      continue;
    }
    for (const f of files) {
      const abs = path.resolve(root, f);
      const format = forced ?? (await sniff(abs)) ?? BY_EXT[extOf(f)];
      if (!format) throw new UsageError(`--input ${path.join(root, f)}: cannot tell the format from its name or content; pass --format (one of: ${FORMATS.join(', ')})`);
      if (format === 'txt' && kind !== 'text') {
        throw new UsageError(`--input ${path.join(root, f)}: plain text is a text corpus; use --kind text${forced ? '' : ' or pass --format'}`);
      }
      units.push({ source, absPath: abs, relPath: f, format, bytes: (await stat(abs)).size });
    }
  }
  refuseCollisions(units);
  return units;
}

/**
 * Record ids hash the source, the file's path under its input and the line or key: two inputs that agree
 * on source and path would give different records one id, and one file given twice would be ingested twice.
 */
function refuseCollisions(units: InputUnit[]): void {
  const byReal = new Map<string, InputUnit>();
  const byId = new Map<string, InputUnit>();
  for (const u of units) {
    // by the file itself: a symbolic link to a file given too is the same file
    const real = storage.isRemote(u.absPath) ? u.absPath : realpathSync(u.absPath);
    const again = byReal.get(real);
    if (again) throw new UsageError(`--input: ${u.absPath}${real !== u.absPath ? ` (${real})` : ''} is given twice (as source "${again.source}" and "${u.source}"); each file may be ingested once`);
    byReal.set(real, u);
    const key = `${u.source}\0${u.relPath}`;
    const other = byId.get(key);
    if (other) {
      throw new UsageError(
        `--input: ${other.absPath} and ${u.absPath} both become source "${u.source}", file "${u.relPath}", so their records would share ids; ` +
          `name the sources, e.g. --input ${u.source}-a=${other.absPath} ${u.source}-b=${u.absPath}`,
      );
    }
    byId.set(key, u);
  }
}
