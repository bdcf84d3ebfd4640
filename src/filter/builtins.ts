/**
 * The named filters users reach for, as flags: image size and shape, caption length, LAION's safety and
 * watermark probabilities, caption language. Each is a Filter with its own reject reason
 * (`filtered:<flag>`), counted like a --where.
 */
import { UsageError } from '../errors.js';
import type { Kind } from '../records.js';
import { languageTest, detector, supportedLanguages } from './language.js';
import { PASS, type Filter, type Outcome } from './predicate.js';
import type { RecordView } from './view.js';

export interface BuiltinSpec {
  /** Shorter image side at least N pixels. */
  minSize?: number;
  /** Longer side / shorter side at most R. */
  maxAspectRatio?: number;
  /** Whitespace-separated words of the caption (or document text) within [min, max]. */
  captionWords?: { min: number; max?: number };
  /** LAION's NSFW probability (metadata.punsafe) below X. */
  maxPunsafe?: number;
  /** LAION's watermark probability (metadata.pwatermark) below X. */
  maxPwatermark?: number;
  /** ISO 639-1 codes the text must be identified as, and eld's least score. */
  language?: { codes: string[]; minConfidence: number };
}

const filtered = (name: string) => `filtered:${name}`;

function imageSize(v: RecordView): Outcome | { width: number; height: number } {
  const s = v.imageSize();
  if (!s) return { missing: v.row.width == null ? 'width' : 'height' };
  return s;
}

function minSize(n: number): Filter {
  return {
    name: 'min-size',
    spec: `min(width, height) >= ${n}`,
    reason: filtered('min-size'),
    test(v) {
      const s = imageSize(v);
      if (!('width' in s)) return s;
      const side = Math.min(s.width, s.height);
      return side >= n ? PASS : { pass: false, detail: `shorter side ${side} px < ${n} (${s.width}x${s.height})` };
    },
  };
}

function maxAspect(r: number): Filter {
  return {
    name: 'max-aspect-ratio',
    spec: `max(width, height) / min(width, height) <= ${r}`,
    reason: filtered('max-aspect-ratio'),
    test(v) {
      const s = imageSize(v);
      if (!('width' in s)) return s;
      const ratio = Math.max(s.width, s.height) / Math.min(s.width, s.height);
      return ratio <= r ? PASS : { pass: false, detail: `aspect ratio ${ratio.toFixed(3)} > ${r} (${s.width}x${s.height})` };
    },
  };
}

/** Words as Python's str.split() cuts them (DataComp counts caption words that way). */
export function countWords(text: string): number {
  let n = 0;
  for (const w of text.split(/\s+/)) if (w) n++;
  return n;
}

function captionWords(min: number, max = Infinity): Filter {
  return {
    name: 'caption-words',
    spec: max === Infinity ? `words(text) >= ${min}` : `${min} <= words(text) <= ${max}`,
    reason: filtered('caption-words'),
    test(v) {
      const n = countWords(v.text());
      return n >= min && n <= max ? PASS : { pass: false, detail: `${n} words, outside ${min}-${max === Infinity ? '' : max}` };
    },
  };
}

function probability(name: string, field: string, max: number): Filter {
  return {
    name,
    spec: `${field} < ${max}`,
    reason: filtered(name),
    test(v) {
      const r = v.get(field);
      if (!r.found) return { missing: field };
      if (typeof r.value !== 'number') return { invalid: `${field} is ${JSON.stringify(r.value)}, not a number` };
      return r.value < max ? PASS : { pass: false, detail: `${field} ${r.value} >= ${max}` };
    },
  };
}

/** The built-in filters asked for, in the order they run (cheap checks of columns first, the language last). */
export async function builtinFilters(spec: BuiltinSpec): Promise<{ early: Filter[]; late: Filter[] }> {
  const early: Filter[] = [];
  const late: Filter[] = [];
  if (spec.minSize !== undefined) early.push(minSize(spec.minSize));
  if (spec.maxAspectRatio !== undefined) early.push(maxAspect(spec.maxAspectRatio));
  if (spec.maxPunsafe !== undefined) early.push(probability('max-punsafe', 'metadata.punsafe', spec.maxPunsafe));
  if (spec.maxPwatermark !== undefined) early.push(probability('max-pwatermark', 'metadata.pwatermark', spec.maxPwatermark));
  if (spec.captionWords) early.push(captionWords(spec.captionWords.min, spec.captionWords.max));
  if (spec.language) {
    const { codes, minConfidence } = spec.language;
    const test = languageTest(await detector(), codes, minConfidence);
    late.push({ name: 'language', spec: `language in (${codes.join(', ')}) with confidence >= ${minConfidence}`, reason: filtered('language'), test });
  }
  return { early, late };
}

/** Checks that need the input's kind or the detector: image filters on caption rows only, known language codes. */
export async function checkBuiltins(spec: BuiltinSpec, kind: Kind): Promise<void> {
  if ((spec.minSize !== undefined || spec.maxAspectRatio !== undefined) && kind !== 'caption') {
    throw new UsageError(`mmcurate filter: --min-size and --max-aspect-ratio judge a caption pair's image; ${kind} records ${kind === 'text' ? 'have no image' : 'hold several images, and filter never rewrites a document'} (use a --where over a field instead)`);
  }
  if (spec.language) {
    const known = new Set(await supportedLanguages());
    const unknown = spec.language.codes.filter((c) => !known.has(c));
    if (unknown.length) throw new UsageError(`mmcurate filter: --language ${unknown.join(',')}: not a language the identifier knows; it knows ISO 639-1 codes ${[...known].sort().join(', ')}`);
  }
}
