/**
 * Text quality rules for web text, each a named filter counted on its own (docs/filters.md has the
 * thresholds and where they come from):
 *
 * - `--gopher-quality`: Gopher's quality rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis
 *   & Insights from Training Gopher", Appendix A.1.1).
 * - `--gopher-repetition`: Gopher's repetition rules with the thresholds of its Table A1.
 * - `--c4`: C4's page rules (Raffel et al. 2020, JMLR 21(140), Sec. 2.2): lines kept only when they end in
 *   terminal punctuation, have at least 5 words and do not mention javascript (or cookie/terms-of-use
 *   boilerplate); pages with "lorem ipsum" or a curly bracket dropped; pages with fewer than 3 sentences left
 *   dropped. A text record keeps the cleaned text, as C4 does.
 *
 * Words are whitespace-separated tokens with the punctuation at their ends stripped; a token of punctuation
 * only is not a word. Lines split on line breaks, paragraphs on blank lines.
 */
import { PASS, type Filter, type Outcome } from './predicate.js';
import type { RecordView } from './view.js';

const PUNCT_EDGES = /^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu;
const HAS_ALPHA = /\p{L}/u;

interface Words {
  /** Tokens as split on whitespace (the n-grams are over these). */
  tokens: string[];
  /** Tokens stripped of edge punctuation, punctuation-only ones left out. */
  words: string[];
}

function wordsOf(v: RecordView): Words {
  return v.memo('words', () => {
    const tokens = v.text().split(/\s+/).filter(Boolean);
    const words: string[] = [];
    for (const t of tokens) {
      const w = t.replace(PUNCT_EDGES, '');
      if (w) words.push(w);
    }
    return { tokens, words };
  });
}

const lines = (v: RecordView) => v.memo('lines', () => v.text().split(/\r?\n/));
const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
const fail = (detail: string): Outcome => ({ pass: false, detail });

function rule(prefix: string, name: string, spec: string, test: (v: RecordView) => Outcome): Filter {
  return { name: `${prefix}:${name}`, spec, reason: `${prefix}:${name}`, test: (v) => (v.text().trim() ? test(v) : { missing: 'text' }) };
}

/** Gopher's stop words (the paper's list: the, be, to, of, and, that, have, with). */
const STOP_WORDS = new Set(['the', 'be', 'to', 'of', 'and', 'that', 'have', 'with']);

export function gopherQuality(): Filter[] {
  const g = (name: string, spec: string, test: (v: RecordView) => Outcome) => rule('gopher', name, spec, test);
  return [
    g('word_count', '50 <= words <= 100000', (v) => {
      const n = wordsOf(v).words.length;
      return n >= 50 && n <= 100_000 ? PASS : fail(`${n} words, outside 50-100000`);
    }),
    g('mean_word_length', '3 <= mean word length <= 10', (v) => {
      const w = wordsOf(v).words;
      const mean = ratio(w.reduce((a, x) => a + [...x].length, 0), w.length);
      return mean >= 3 && mean <= 10 ? PASS : fail(`mean word length ${mean.toFixed(2)}, outside 3-10`);
    }),
    g('hash_ratio', '"#" per word <= 0.1', (v) => {
      const r = ratio(count(v.text(), '#'), wordsOf(v).words.length);
      return r <= 0.1 ? PASS : fail(`${r.toFixed(3)} "#" per word > 0.1`);
    }),
    g('ellipsis_ratio', '"..." or "…" per word <= 0.1', (v) => {
      const t = v.text();
      const r = ratio(count(t, '...') + count(t, '…'), wordsOf(v).words.length);
      return r <= 0.1 ? PASS : fail(`${r.toFixed(3)} ellipses per word > 0.1`);
    }),
    g('bullet_lines', 'lines starting with a bullet <= 90%', (v) => {
      const ls = lines(v);
      const r = ratio(ls.filter((l) => /^\s*[•●○▪‣◦∙·*-]/.test(l)).length, ls.length);
      return r <= 0.9 ? PASS : fail(`${(r * 100).toFixed(1)}% of lines start with a bullet > 90%`);
    }),
    g('ellipsis_lines', 'lines ending with an ellipsis <= 30%', (v) => {
      const ls = lines(v);
      const r = ratio(ls.filter((l) => /(\.\.\.|…)\s*$/.test(l)).length, ls.length);
      return r <= 0.3 ? PASS : fail(`${(r * 100).toFixed(1)}% of lines end with an ellipsis > 30%`);
    }),
    g('alpha_words', 'words with an alphabetic character >= 80%', (v) => {
      const { tokens } = wordsOf(v);
      const r = ratio(tokens.filter((t) => HAS_ALPHA.test(t)).length, tokens.length);
      return r >= 0.8 ? PASS : fail(`${(r * 100).toFixed(1)}% of words have a letter < 80%`);
    }),
    g('stop_words', 'at least 2 of: the, be, to, of, and, that, have, with', (v) => {
      const n = wordsOf(v).words.filter((w) => STOP_WORDS.has(w.toLowerCase())).length;
      return n >= 2 ? PASS : fail(`${n} stop words < 2`);
    }),
  ];
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Duplicate items and the characters they hold (every occurrence after the first). */
function duplicates(items: string[]): { items: number; chars: number } {
  const seen = new Set<string>();
  let n = 0, chars = 0;
  for (const x of items) {
    if (seen.has(x)) {
      n++;
      chars += x.length;
    } else seen.add(x);
  }
  return { items: n, chars };
}

function ngrams(tokens: string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '));
  return out;
}

/** Characters of the most frequent n-gram times its count. */
function topNgramChars(grams: string[]): number {
  const counts = new Map<string, number>();
  let best = 0;
  for (const g of grams) {
    const c = (counts.get(g) ?? 0) + 1;
    counts.set(g, c);
    best = Math.max(best, c * g.length);
  }
  return best;
}

/** Characters in n-grams that repeat an earlier one; a repeat skips its n words so they count once. */
function duplicatedNgramChars(grams: string[], n: number): number {
  const seen = new Set<string>();
  let chars = 0;
  for (let i = 0; i < grams.length; ) {
    const g = grams[i]!;
    if (seen.has(g)) {
      chars += g.length;
      i += n;
    } else {
      seen.add(g);
      i++;
    }
  }
  return chars;
}

/** Gopher Table A1: the largest fraction allowed for each repetition measure. */
export const REPETITION = {
  dupLineFrac: 0.3,
  dupParaFrac: 0.3,
  dupLineCharFrac: 0.2,
  dupParaCharFrac: 0.2,
  topNgram: [[2, 0.2], [3, 0.18], [4, 0.16]] as [number, number][],
  dupNgram: [[5, 0.15], [6, 0.14], [7, 0.13], [8, 0.12], [9, 0.11], [10, 0.1]] as [number, number][],
};

export function gopherRepetition(): Filter[] {
  const g = (name: string, spec: string, test: (v: RecordView) => Outcome) => rule('gopher', name, spec, test);
  const paras = (v: RecordView) => v.memo('paras', () => duplicates(v.text().trim().split(/\n{2,}/)));
  const paraCount = (v: RecordView) => v.text().trim().split(/\n{2,}/).length;
  const lineDups = (v: RecordView) => v.memo('lineDups', () => duplicates(lines(v)));
  const frac = (what: string, r: number, max: number) => (r <= max ? PASS : fail(`${what} ${r.toFixed(3)} > ${max}`));
  const out: Filter[] = [
    g('dup_para_frac', `duplicate paragraphs <= ${REPETITION.dupParaFrac}`, (v) => frac('duplicate paragraph fraction', ratio(paras(v).items, paraCount(v)), REPETITION.dupParaFrac)),
    g('dup_para_char_frac', `characters in duplicate paragraphs <= ${REPETITION.dupParaCharFrac}`, (v) => frac('duplicate paragraph character fraction', ratio(paras(v).chars, v.text().length), REPETITION.dupParaCharFrac)),
    g('dup_line_frac', `duplicate lines <= ${REPETITION.dupLineFrac}`, (v) => frac('duplicate line fraction', ratio(lineDups(v).items, lines(v).length), REPETITION.dupLineFrac)),
    g('dup_line_char_frac', `characters in duplicate lines <= ${REPETITION.dupLineCharFrac}`, (v) => frac('duplicate line character fraction', ratio(lineDups(v).chars, v.text().length), REPETITION.dupLineCharFrac)),
  ];
  for (const [n, max] of REPETITION.topNgram) {
    out.push(g(`top_${n}_gram`, `characters in the most frequent ${n}-gram <= ${max}`, (v) => frac(`top ${n}-gram character fraction`, ratio(topNgramChars(ngrams(wordsOf(v).tokens, n)), v.text().length), max)));
  }
  for (const [n, max] of REPETITION.dupNgram) {
    out.push(g(`dup_${n}_gram`, `characters in duplicated ${n}-grams <= ${max}`, (v) => frac(`duplicated ${n}-gram character fraction`, ratio(duplicatedNgramChars(ngrams(wordsOf(v).tokens, n), n), v.text().length), max)));
  }
  return out;
}

/** C4's constants (Raffel et al. 2020, Sec. 2.2; tensorflow_datasets c4_utils). */
export const C4 = { minWordsPerLine: 5, minSentences: 3, maxWordLength: 1000 };
const TERMINAL = /[.!?"]$/;
const CITATION = /\[\d*\]|\[edit\]|\[citation needed\]/gi;
const POLICY = ['terms of use', 'privacy policy', 'cookie policy', 'uses cookies', 'use of cookies', 'use cookies'];

/** Sentences in a line: runs of text closed by . ! or ? followed by a space or the end. */
function sentences(line: string): number {
  return line.split(/(?<=[.!?])\s+/).filter((s) => /\p{L}/u.test(s)).length;
}

interface C4Page {
  /** Why the whole page goes (lorem ipsum, a curly bracket), or undefined. */
  page?: { rule: string; detail: string };
  kept: string[];
  sentences: number;
  dropped: Record<string, number>;
}

function c4Page(v: RecordView): C4Page {
  return v.memo('c4', () => {
    const out: C4Page = { kept: [], sentences: 0, dropped: {} };
    const drop = (why: string) => void (out.dropped[why] = (out.dropped[why] ?? 0) + 1);
    for (const raw of lines(v)) {
      const words = raw.trim().split(/\s+/).filter(Boolean);
      if (words.some((w) => w.length > C4.maxWordLength)) {
        drop('long_word');
        continue;
      }
      const line = raw.trim().replace(CITATION, '');
      if (!TERMINAL.test(line) || line.endsWith('...')) {
        drop('no_terminal_punctuation');
        continue;
      }
      if (words.length < C4.minWordsPerLine) {
        drop('too_few_words');
        continue;
      }
      const lower = line.toLowerCase();
      if (lower.includes('lorem ipsum')) {
        out.page ??= { rule: 'lorem_ipsum', detail: 'the page contains "lorem ipsum"' };
        continue;
      }
      if (lower.includes('javascript')) {
        drop('javascript');
        continue;
      }
      if (line.includes('{')) {
        out.page ??= { rule: 'curly_bracket', detail: 'the page contains a curly bracket' };
        continue;
      }
      if (POLICY.some((p) => lower.includes(p))) {
        drop('policy');
        continue;
      }
      out.sentences += sentences(line);
      out.kept.push(line);
    }
    return out;
  });
}

export function c4Rules(rewrite: boolean): Filter[] {
  const c = (name: string, spec: string, test: (v: RecordView) => Outcome) => rule('c4', name, spec, test);
  return [
    c('lorem_ipsum', 'no "lorem ipsum" in a kept line', (v) => {
      const p = c4Page(v).page;
      return p?.rule === 'lorem_ipsum' ? fail(p.detail) : PASS;
    }),
    c('curly_bracket', 'no "{" in a kept line', (v) => {
      const p = c4Page(v).page;
      return p?.rule === 'curly_bracket' ? fail(p.detail) : PASS;
    }),
    c('too_few_sentences', `at least ${C4.minSentences} sentences in the lines kept (lines: terminal punctuation, >= ${C4.minWordsPerLine} words, no javascript or cookie/terms-of-use text)`, (v) => {
      const p = c4Page(v);
      if (p.sentences < C4.minSentences) return fail(`${p.sentences} sentences in ${p.kept.length} kept lines < ${C4.minSentences} (lines dropped: ${Object.entries(p.dropped).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'})`);
      if (rewrite) v.cleanedText = p.kept.join('\n');
      return PASS;
    }),
  ];
}
