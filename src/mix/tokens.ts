/**
 * Token counts for mixing by tokens. Text is counted with the user's `tokenizer.json` (through
 * @huggingface/tokenizers, the maintained JS port of HF tokenizers), or, when none is given, estimated as
 * ⌈code points / 4⌉ per text segment: the common rule of thumb of about four characters per token for
 * English BPE vocabularies. Each image counts a fixed number of visual tokens (144 by default: MM1's
 * C-Abstractor output per image).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UsageError, errorMessage } from '../errors.js';

export interface TokenCounter {
  /** How text is counted, recorded in the manifest: `estimate:chars/4` or `tokenizer:<file>@<sha256 prefix>`. */
  readonly method: string;
  /** The tokenizer.json counted with (absolute path) and its full sha256; absent for the estimate. */
  readonly tokenizer?: { file: string; sha256: string };
  count(text: string): number;
}

export const ESTIMATE_METHOD = 'estimate:chars/4';

function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair is one code point.
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

/** ⌈code points / 4⌉; an empty string is 0 tokens. */
export function estimateCounter(): TokenCounter {
  return { method: ESTIMATE_METHOD, count: (text) => Math.ceil(codePoints(text) / 4) };
}

/**
 * Counts with a tokenizer.json (its tokenizer_config.json beside it is used when present). Special tokens
 * are not added: the count is the text's own tokens, the chat template is the trainer's business.
 */
export function tokenizerCounter(file: string): TokenCounter {
  if (!existsSync(file)) throw new UsageError(`--tokenizer ${file}: no such file; give the path of a Hugging Face tokenizer.json`);
  const bytes = readFileSync(file);
  let tokenizer: Tokenizer;
  try {
    const json = JSON.parse(bytes.toString('utf8')) as object;
    const cfgFile = path.join(path.dirname(file), 'tokenizer_config.json');
    const cfg = existsSync(cfgFile) ? (JSON.parse(readFileSync(cfgFile, 'utf8')) as object) : {};
    tokenizer = new Tokenizer(json, cfg);
  } catch (err) {
    throw new UsageError(`--tokenizer ${file}: not a usable tokenizer.json (${errorMessage(err)})`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  return {
    method: `tokenizer:${path.basename(file)}@${sha.slice(0, 12)}`,
    tokenizer: { file: path.resolve(file), sha256: sha },
    count: (text) => (text ? tokenizer.encode(text, { add_special_tokens: false }).ids.length : 0),
  };
}

export function tokenCounter(tokenizerFile?: string): TokenCounter {
  return tokenizerFile ? tokenizerCounter(tokenizerFile) : estimateCounter();
}

/**
 * The counter a mixture's manifest records (`mix.tokens`, and `mix.tokenizer` with the file's path and
 * sha256), for counting its shards again the same way. The estimate needs nothing; a tokenizer must still
 * be at the recorded path with the recorded sha256, else this refuses (exit 2) naming the file, so that
 * a count is never silently made with another method.
 * @param where what to name in messages (e.g. `audit out/mix`).
 */
export function recordedCounter(method: string, tokenizer: { file?: unknown; sha256?: unknown } | null | undefined, where: string): TokenCounter {
  if (method === ESTIMATE_METHOD) return estimateCounter();
  const m = /^tokenizer:(.*)@([0-9a-f]+)$/.exec(method);
  if (!m) throw new UsageError(`${where}: the manifest records tokens counted as "${method}", which this version does not know; pass --tokenizer tokenizer.json to count with a tokenizer`);
  const [, name, prefix] = m as unknown as [string, string, string];
  const file = typeof tokenizer?.file === 'string' ? tokenizer.file : undefined;
  const want = typeof tokenizer?.sha256 === 'string' ? tokenizer.sha256 : prefix;
  const again = `pass --tokenizer with the same ${name} (sha256 ${want.slice(0, 12)}…) to count as the mix did`;
  if (!file) throw new UsageError(`${where}: the mixture was counted with tokenizer ${name} (sha256 ${want.slice(0, 12)}…), but its manifest does not record where the file is; ${again}`);
  if (!existsSync(file)) throw new UsageError(`${where}: the mixture was counted with tokenizer ${file}, which no longer exists; ${again}`);
  // tokenizerCounter reads and hashes the file once; its sha256 is what is compared
  const counter = tokenizerCounter(file);
  const sha = counter.tokenizer!.sha256;
  if (!sha.startsWith(want)) throw new UsageError(`${where}: the mixture was counted with tokenizer ${file} (sha256 ${want.slice(0, 12)}…), which has changed since (sha256 ${sha.slice(0, 12)}…); ${again}`);
  return counter;
}

/** Tokens of one sample: its texts plus a fixed count per image. */
export function sampleTokens(texts: readonly (string | null | undefined)[], images: number, counter: TokenCounter, visualTokensPerImage: number): number {
  let n = images * visualTokensPerImage;
  for (const t of texts) if (t) n += counter.count(t);
  return n;
}
