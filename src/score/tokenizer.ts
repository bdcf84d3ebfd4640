/**
 * Text -> fixed-length token ids through the model's own `tokenizer.json` (@huggingface/tokenizers), so
 * normalisation (CLIP lower-cases), the BPE and the start/end tokens are whatever the model was trained with.
 * Truncation keeps the special tokens (CLIP's `tokens[-1] = eot`), padding fills to the context length.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UsageError } from '../errors.js';

export interface EncodedBatch {
  /** Row-major [count, contextLength]. */
  ids: BigInt64Array;
  attentionMask: BigInt64Array;
  count: number;
  contextLength: number;
  /** How many texts were cut to fit. */
  truncated: number;
}

export interface TextTokenizer {
  readonly contextLength: number;
  readonly padId: number;
  /** Special ids the template puts before and after the text (CLIP: [startoftext], [endoftext]). */
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
  /** Ids with special tokens, truncated to the context length, not padded. */
  encode(text: string): { ids: number[]; truncated: boolean };
  /** Ids padded to the context length, with the attention mask, ready for the text encoder. */
  encodeBatch(texts: readonly string[]): EncodedBatch;
}

export interface TokenizerOptions {
  /** Overrides the context length found in the model files. */
  contextLength?: number;
}

/**
 * Load `tokenizer.json` (and `tokenizer_config.json`, `config.json` when present) from a model directory.
 *
 * @example
 * const tok = await loadTokenizer('models/test-clip');
 * const { ids, attentionMask } = tok.encodeBatch(['a red circle']);
 */
export async function loadTokenizer(dir: string, opts: TokenizerOptions = {}): Promise<TextTokenizer> {
  const file = join(dir, 'tokenizer.json');
  const tokJson = await readJson(file, true);
  const tokConfig = (await readJson(join(dir, 'tokenizer_config.json'), false)) ?? {};
  const config = (await readJson(join(dir, 'config.json'), false)) ?? {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokJson, tokConfig);
  } catch (err) {
    throw new UsageError(`${file}: @huggingface/tokenizers could not load it: ${(err as Error).message}`);
  }
  const contextLength = opts.contextLength ?? findContextLength(tokJson, tokConfig, config);
  const { prefix, suffix } = template(tokenizer);
  if (prefix.length + suffix.length >= contextLength) {
    throw new UsageError(`${file}: context length ${contextLength} leaves no room for text between the special tokens`);
  }
  const padId = findPadId(tokenizer, tokJson, tokConfig, suffix);
  return new ModelTokenizer(tokenizer, contextLength, padId, prefix, suffix);
}

class ModelTokenizer implements TextTokenizer {
  constructor(
    private readonly tok: Tokenizer,
    readonly contextLength: number,
    readonly padId: number,
    readonly prefix: readonly number[],
    readonly suffix: readonly number[],
  ) {}

  encode(text: string): { ids: number[]; truncated: boolean } {
    const body = this.tok.encode(text, { add_special_tokens: false }).ids;
    const room = this.contextLength - this.prefix.length - this.suffix.length;
    const truncated = body.length > room;
    return { ids: [...this.prefix, ...(truncated ? body.slice(0, room) : body), ...this.suffix], truncated };
  }

  encodeBatch(texts: readonly string[]): EncodedBatch {
    const L = this.contextLength;
    const ids = new BigInt64Array(texts.length * L).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(texts.length * L);
    let truncated = 0;
    texts.forEach((text, row) => {
      const e = this.encode(text);
      if (e.truncated) truncated++;
      for (let j = 0; j < e.ids.length; j++) {
        ids[row * L + j] = BigInt(e.ids[j]);
        attentionMask[row * L + j] = 1n;
      }
    });
    return { ids, attentionMask, count: texts.length, contextLength: L, truncated };
  }
}

/** The special ids the post-processor wraps a text in, found by encoding a probe with and without them. */
function template(tok: Tokenizer): { prefix: number[]; suffix: number[] } {
  const probe = 'a';
  const bare: number[] = tok.encode(probe, { add_special_tokens: false }).ids;
  const full: number[] = tok.encode(probe).ids;
  for (let i = 0; i + bare.length <= full.length; i++) {
    if (bare.every((id: number, k: number) => full[i + k] === id)) return { prefix: full.slice(0, i), suffix: full.slice(i + bare.length) };
  }
  return { prefix: [], suffix: [] };
}

function findContextLength(tokJson: any, tokConfig: any, config: any): number {
  const candidates = [
    config?.text_config?.max_position_embeddings,
    config?.max_position_embeddings,
    tokJson?.truncation?.max_length,
    tokConfig?.model_max_length,
  ];
  // tokenizer_config.json writes 1e30 for "no limit".
  for (const c of candidates) if (typeof c === 'number' && Number.isInteger(c) && c > 2 && c <= 16384) return c;
  return 77;
}

function findPadId(tok: Tokenizer, tokJson: any, tokConfig: any, suffix: readonly number[]): number {
  if (typeof tokJson?.padding?.pad_id === 'number') return tokJson.padding.pad_id;
  const padToken = typeof tokConfig?.pad_token === 'string' ? tokConfig.pad_token : tokConfig?.pad_token?.content;
  if (typeof padToken === 'string') {
    const id = tok.token_to_id(padToken);
    if (id !== undefined) return id;
  }
  // CLIP pads with its end token; a causal text tower never looks past it.
  return suffix.length > 0 ? suffix[suffix.length - 1] : 0;
}

async function readJson(file: string, required: true): Promise<any>;
async function readJson(file: string, required: false): Promise<any | undefined>;
async function readJson(file: string, required: boolean): Promise<any | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`${file}: cannot read it (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}
