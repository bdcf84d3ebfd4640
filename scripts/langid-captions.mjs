#!/usr/bin/env node
/**
 * Which language identifier to use on short captions: 105 hand-written alt-text style captions (15 each in
 * en, de, fr, es, it, nl, pt; scripts/langid-captions.json), scored by the identifiers that are installed.
 * eld is a dependency; the others are looked at only when present:
 *   npm install --no-save franc@6 cld3-asm@4 tinyld@1 && node scripts/langid-captions.mjs
 * Prints accuracy, English recall, non-English captions called English, and ms per caption.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const data = JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'langid-captions.json'), 'utf8'));
const iso3 = { en: 'eng', de: 'deu', fr: 'fra', es: 'spa', it: 'ita', nl: 'nld', pt: 'por' };
const optional = async (name) => import(name).catch(() => undefined);

const detectors = {};
for (const size of ['medium', 'large']) {
  const { eld } = await import(`eld/${size}`);
  detectors[`eld ${size}`] = (t) => eld.detect(t).language;
}
const franc = await optional('franc');
if (franc) detectors.franc = (t) => { const r = franc.franc(t, { minLength: 1 }); return Object.keys(iso3).find((k) => iso3[k] === r) ?? r; };
const tinyld = await optional('tinyld');
if (tinyld) detectors.tinyld = (t) => tinyld.detect(t);
const cld3 = await optional('cld3-asm');
if (cld3) {
  const id = (await cld3.loadModule()).create(0, 1000);
  detectors['cld3-asm'] = (t) => id.findLanguage(t).language;
}

const n = Object.values(data).reduce((a, c) => a + c.length, 0);
for (const [name, f] of Object.entries(detectors)) {
  let ok = 0, enOk = 0, calledEn = 0;
  const t0 = performance.now();
  for (const [lang, caps] of Object.entries(data)) {
    for (const c of caps) {
      const got = f(c);
      if (got === lang) ok++;
      if (got === 'en') lang === 'en' ? enOk++ : calledEn++;
    }
  }
  const ms = (performance.now() - t0) / n;
  console.log(`${name.padEnd(10)} correct ${ok}/${n}  English recall ${enOk}/${data.en.length}  non-English called English ${calledEn}/${n - data.en.length}  ${ms.toFixed(3)} ms/caption`);
}
