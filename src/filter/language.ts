/**
 * Language identification for `--language`: eld (Nito-ELD, pure JavaScript n-gram detector), loaded only
 * when a filter asks for it. Measured on short captions (docs/filters.md, scripts/langid-captions.mjs):
 * eld 103/105 correct against tinyld 97, cld3-asm 88 and franc 62, and it never called a non-English
 * caption English; the medium database is as accurate there as the large one at half the memory.
 */
import type { Outcome } from './predicate.js';
import { PASS } from './predicate.js';
import type { RecordView } from './view.js';

interface Detector {
  detect(text: string): { language: string; getScores(): Record<string, number> };
  info(): { Languages: Record<number, string> };
}

let loaded: Promise<Detector> | undefined;

export function detector(): Promise<Detector> {
  loaded ??= import('eld/medium').then((m) => (m as unknown as { eld: Detector }).eld);
  return loaded;
}

/** The ISO 639-1 codes the detector knows. */
export async function supportedLanguages(): Promise<string[]> {
  return Object.values((await detector()).info().Languages);
}

/** The language of a text and eld's score for it (0 when eld cannot tell: no letters, too few n-grams). */
export function identify(d: Detector, text: string): { language: string; confidence: number } {
  const r = d.detect(text);
  if (!r.language) return { language: '', confidence: 0 };
  return { language: r.language, confidence: r.getScores()[r.language] ?? 0 };
}

export function languageTest(d: Detector, languages: string[], minConfidence: number): (view: RecordView) => Outcome {
  const wanted = new Set(languages);
  return (view) => {
    const text = view.text();
    if (!text.trim()) return { missing: 'text' };
    const { language, confidence } = identify(d, text);
    if (!language) return { pass: false, detail: 'no language identified' };
    if (!wanted.has(language)) return { pass: false, detail: `language ${language} (${confidence.toFixed(3)}), not ${languages.join(' or ')}` };
    if (confidence < minConfidence) return { pass: false, detail: `language ${language} at confidence ${confidence.toFixed(3)} < ${minConfidence}` };
    return PASS;
  };
}
