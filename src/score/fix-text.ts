/**
 * The caption cleaning open_clip's tokenizer does before any BPE (tokenizer.py `basic_clean`):
 * `ftfy.fix_text(text)`, then `html.unescape(html.unescape(text))`, then strip. LAION and Conceptual Captions
 * are full of what it repairs (`&amp;`, `&#39;`, `cafÃ©`), and a model trained through it embeds the repaired
 * text: leaving it out moved such captions' text embeddings to cosine 0.66 of open_clip's.
 *
 * The ftfy part is the subset that matters for captions, in ftfy 6's order and repeated until nothing changes:
 * HTML entities that end in `;` (unless the line holds a `<`: then it may be HTML, as ftfy decides), UTF-8
 * read as Windows-1252 or Latin-1 (once or twice; whole text or embedded runs), leftover C1 controls as
 * Windows-1252, Latin ligatures, full-width forms, curly quotes, line breaks, lone surrogates, terminal escapes,
 * control characters, NFC. Not covered: mojibake through other code pages (Windows-1251/1250, MacRoman, cp437),
 * a no-break space turned into a space inside mojibake, and ftfy's full badness score: a run that decodes as
 * UTF-8 is decoded unless it decodes to scripts captions do not hold (IMPLAUSIBLE). It agrees with ftfy +
 * html.unescape on every pair in test/fixtures/caption-clean/reference.json, and on 2,994 of 3,000 generated
 * multilingual captions (mojibake'd whole, in one word, or HTML-escaped); the other 6 hold mojibake in a mixed
 * caption that ftfy leaves (`â„¢` beside clean text) and this repairs. On random Latin-1 junk it is more eager
 * than ftfy's badness score (86% agreement).
 */
import { decodeHTML, decodeHTMLStrict } from 'entities';

/** Windows-1252 bytes 0x80-0x9F; the five it leaves undefined stay the C1 code points (ftfy's "sloppy" codec). */
const CP1252_80 = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const BYTE_OF = new Map<string, number>();
for (let b = 0x80; b <= 0xff; b++) BYTE_OF.set(String.fromCharCode(b), b); // Latin-1
for (let i = 0; i < 32; i++) BYTE_OF.set(CP1252_80[i]!, 0x80 + i); // Windows-1252 wins where they differ

/** A UTF-8 continuation byte as Windows-1252 or Latin-1 shows it. */
const CONT = `[\\u0080-\\u00bf${CP1252_80.replace(/[\u0080-\u009f]/g, '')}]`;
/** Runs of UTF-8 sequences (lead byte + continuation bytes) read one byte per character. */
const MOJIBAKE = new RegExp(`(?:[\\u00c2-\\u00df]${CONT}|[\\u00e0-\\u00ef]${CONT}{2}|[\\u00f0-\\u00f4]${CONT}{3})+`, 'g');
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What a run decodes to when it was never mojibake: real text such as `«CAFÉ»` or `Gruß“` holds an upper-case
 * or accented letter before a symbol, which decodes to IPA letters, Latin Extended-B or NKo, scripts captions
 * almost never hold (Romanian ș ț, U+0218-U+021B, excepted). ftfy's badness score turns these away too.
 */
const IMPLAUSIBLE = /[\u0180-\u0217\u021c-\u02ff\u0700-\u07ff]/;

function fixMojibake(text: string): string {
  return text.replace(MOJIBAKE, (run) => {
    const bytes = Uint8Array.from(run, (c) => BYTE_OF.get(c)!);
    let decoded: string;
    try {
      decoded = UTF8.decode(bytes);
    } catch {
      return run; // not UTF-8 after all: leave it
    }
    return IMPLAUSIBLE.test(decoded) ? run : decoded;
  });
}

const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz', '\u01c4': 'D\u017d', '\u01c5': 'D\u017e',
  '\u01c6': 'd\u017e', '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj', '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff', '\ufb01': 'fi',
  '\ufb02': 'fl', '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');

/** `&name;` and `&#NNN;` as ftfy decodes them: only with the semicolon; all-caps names of lower-case entities too. */
const ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
function unescapeEntities(text: string): string {
  return text.replace(ENTITY, (e) => {
    const d = decodeHTMLStrict(e);
    if (d !== e) return d;
    // ftfy: "&EACUTE;" is "É" when "&eacute;" is an entity and "&EACUTE;" is not
    const lower = decodeHTMLStrict(e.toLowerCase());
    return e[1] !== '#' && e === e.toUpperCase() && lower !== e.toLowerCase() ? lower.toUpperCase() : e;
  });
}

function fixSegment(segment: string, unescape: boolean): string {
  let text = segment;
  for (;;) {
    const before = text;
    if (unescape) text = unescapeEntities(text);
    // repeated: text read wrongly twice is undone one layer per pass
    for (let prev = ''; prev !== text; ) {
      prev = text;
      text = fixMojibake(text);
    }
    text = text
      .replace(/[\u0080-\u009f]/g, (c) => CP1252_80[c.charCodeAt(0) - 0x80]!)
      .replace(LIGATURE_RE, (c) => LIGATURES[c]!)
      .replace(/[\u3000\uff01-\uffef]/g, (c) => c.normalize('NFKC'))
      .replace(/[\u02bc\u2018-\u201b]/g, "'")
      .replace(/[\u201c-\u201f]/g, '"')
      .replace(/\r\n|[\r\u2028\u2029\u0085]/g, '\n')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
      .replace(/\x1b\[[\d;]*[a-zA-Z]/g, '')
      .replace(/[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g, '')
      .normalize('NFC');
    if (text === before) return text;
  }
}

/** ftfy.fix_text's caption subset: line by line; from the first line holding `<` on, entities are left alone. */
export function fixText(text: string): string {
  let unescape = true;
  let out = '';
  for (let pos = 0; pos < text.length; ) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    const segment = text.slice(pos, end);
    if (segment.includes('<')) unescape = false;
    out += fixSegment(segment, unescape);
    pos = end;
  }
  return out;
}

/** Printable ASCII without `&`: nothing for ftfy or html.unescape to change (nearly every caption). */
const PLAIN = /^[\x20-\x25\x27-\x7e\t\n]*$/;

/** open_clip's `basic_clean`: ftfy, HTML-unescaped twice (Python's html.unescape, semicolon or not), stripped. */
export function basicClean(text: string): string {
  if (PLAIN.test(text)) return text.trim();
  return decodeHTML(decodeHTML(fixText(text))).trim();
}
