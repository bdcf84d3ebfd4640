/**
 * What an open_clip model config (`config.json` of an OpenCLIP / Immich ONNX export) says about the text side:
 * the context length and how open_clip cleans a caption before its tokenizer sees it.
 */
import { UsageError } from '../errors.js';
import { basicClean } from './fix-text.js';
import type { EncodedBatch, TextTokenizer } from './tokenizer.js';

export type TextClean = 'whitespace' | 'lower' | 'canonicalize';

export interface OpenClipTextConfig {
  contextLength: number;
  clean: TextClean;
}

/**
 * @example
 * openClipTextConfig({ text_cfg: { context_length: 64, tokenizer_kwargs: { clean: 'canonicalize' } } }, 'config.json')
 * // -> { contextLength: 64, clean: 'canonicalize' }
 */
export function openClipTextConfig(config: unknown, file: string): OpenClipTextConfig {
  const textCfg = (config as any)?.text_cfg;
  if (!textCfg || typeof textCfg !== 'object') {
    throw new UsageError(`${file}: expected an open_clip model config with a "text_cfg" object (embed_dim, vision_cfg, text_cfg)`);
  }
  // open_clip's own default when a config leaves it out.
  const ctx = textCfg.context_length ?? 77;
  if (!Number.isInteger(ctx) || ctx < 3 || ctx > 16384) {
    throw new UsageError(`${file}: "text_cfg.context_length" must be an integer from 3 to 16384; got ${JSON.stringify(ctx)}`);
  }
  const kw = textCfg.tokenizer_kwargs ?? {};
  // open_clip's HFTokenizer: clean="canonicalize" (SigLIP), lower_case=True or clean="lower", else whitespace only.
  const clean: TextClean = kw.clean === 'canonicalize' ? 'canonicalize' : kw.clean === 'lower' || kw.lower_case === true ? 'lower' : 'whitespace';
  return { contextLength: ctx, clean };
}

// Python's string.punctuation, which open_clip's canonicalize_text deletes.
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/**
 * open_clip's text cleaning (tokenizer.py: basic_clean, then whitespace_clean or canonicalize_text): every mode
 * starts with ftfy and a double HTML unescape (fix-text.ts), so `Tom &amp; Jerry` and `cafÃ©` reach the
 * tokenizer as `Tom & Jerry` and `café`, as in training.
 */
export function cleanText(text: string, mode: TextClean): string {
  let t = basicClean(text);
  if (mode === 'canonicalize') t = t.replace(/_/g, ' ').replace(PUNCTUATION, '').toLowerCase();
  t = t.split(/\s+/).filter((s) => s.length > 0).join(' ');
  return mode === 'lower' ? t.toLowerCase() : t;
}

/** Cleans every caption the way open_clip does before the model's own tokenizer.json runs. */
export class CleaningTokenizer implements TextTokenizer {
  constructor(
    private readonly inner: TextTokenizer,
    readonly clean: TextClean,
  ) {}

  get contextLength(): number {
    return this.inner.contextLength;
  }
  get padId(): number {
    return this.inner.padId;
  }
  get prefix(): readonly number[] {
    return this.inner.prefix;
  }
  get suffix(): readonly number[] {
    return this.inner.suffix;
  }

  encode(text: string): { ids: number[]; truncated: boolean } {
    return this.inner.encode(cleanText(text, this.clean));
  }

  encodeBatch(texts: readonly string[]): EncodedBatch {
    return this.inner.encodeBatch(texts.map((t) => cleanText(t, this.clean)));
  }
}
