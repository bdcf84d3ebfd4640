/**
 * A CLIP-style model directory (HF / Optimum / Transformers.js export, or an OpenCLIP export in Immich's layout)
 * opened for scoring: the two ONNX towers on CPU or CUDA through src/onnx.ts, the tokenizer and the
 * preprocessing plan. Everything that can be wrong with the directory is checked here, before any data is read.
 */
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { createSession, type Device, ort } from '../onnx.js';
import { f16ToF32, f32ToF16 } from '../util/float16.js';
import { EXPECTED_LAYOUT, type ModelLayout, modelName, resolveLayout, type TowerSpec } from './layout.js';
import { CleaningTokenizer } from './openclip.js';
import type { PreprocessConfig } from './preprocess-config.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

export { EXPECTED_LAYOUT } from './layout.js';

/** The embedded TEST encoder used when no --model is given (scripts/make_test_clip.py). */
export const TEST_MODEL_DIR = fileURLToPath(new URL('../../../models/test-clip/', import.meta.url));

export interface LoadOptions {
  device?: Device;
  /** File suffix: 'fp32' (default), 'fp16', 'quantized', 'int8', 'uint8', 'q4', 'bnb4', ... */
  variant?: string;
  intraOpThreads?: number;
  maxPixels?: number;
  log?: (line: string) => void;
}

/** Row-major [count, dim] L2-normalised embeddings; `valid[i] === 0` marks a NaN or zero-norm row. */
export interface Embeddings {
  data: Float32Array;
  valid: Uint8Array;
  count: number;
  dim: number;
}

export interface ClipModel {
  readonly dir: string;
  readonly name: string;
  readonly isTestEncoder: boolean;
  readonly provider: 'cuda' | 'cpu';
  readonly dim: number;
  readonly preprocess: PreprocessConfig;
  readonly tokenizer: TextTokenizer;
  /** `pixels`: [count, 3, H, W] float32 as preprocess.ts makes it. */
  embedImages(pixels: Float32Array, count: number): Promise<Embeddings>;
  embedTexts(texts: readonly string[]): Promise<Embeddings & { truncated: number }>;
  close(): Promise<void>;
}

interface Tower {
  session: ort.InferenceSession;
  provider: 'cuda' | 'cpu';
  file: string;
  input: string;
  inputType: string;
  output: string;
  hasMask: boolean;
  maskType: string;
  /** A batch size fixed in the graph (Immich's current exports take exactly 1); undefined: any. */
  fixedBatch?: number;
}

/**
 * @example
 * const model = await loadModel('models/test-clip', { device: 'cpu' });
 * const { data, valid } = await model.embedTexts(['a red circle']);
 */
export async function loadModel(dirArg: string | undefined, opts: LoadOptions = {}): Promise<ClipModel> {
  const dir = resolve(dirArg ?? TEST_MODEL_DIR);
  const log = opts.log ?? ((line: string) => console.error(line));
  const layout = await resolveLayout(dir, { variant: opts.variant, maxPixels: opts.maxPixels });
  const { preprocess, isTestEncoder } = layout;
  const sessionOpts = { device: opts.device ?? 'auto', intraOpThreads: opts.intraOpThreads };
  const vision = await openTower(layout.vision, sessionOpts, ['float32', 'float16']);
  let text: Tower;
  try {
    text = await openTower(layout.textTower, sessionOpts, ['int64', 'int32']);
  } catch (err) {
    await vision.session.release();
    throw err;
  }
  let model: OnnxClip;
  try {
    checkImageSize(vision, preprocess, layout);
    const tokenizer = await openTokenizer(layout, text);
    model = new OnnxClip(dir, modelName(layout, dir), isTestEncoder, preprocess, tokenizer, vision, text);
    await model.probe();
  } catch (err) {
    await vision.session.release();
    await text.session.release();
    throw err;
  }

  const where =
    vision.provider === text.provider
      ? vision.provider === 'cuda' ? 'CUDA (onnxruntime-node CUDA execution provider)' : 'CPU (onnxruntime-node CPU execution provider)'
      : `vision on ${vision.provider.toUpperCase()}, text on ${text.provider.toUpperCase()}`;
  const fellBack = opts.device !== 'cpu' && vision.provider === 'cpu' ? '; CUDA provider not available, see docs/score.md "GPU"' : '';
  const label = isTestEncoder ? 'TEST encoder (mmcurate/test-clip: hand-built colour/shape features, not a trained CLIP)' : model.name;
  // Both OpenCLIP towers are called model.onnx: their folder tells them apart.
  const files = layout.kind === 'openclip'
    ? `OpenCLIP layout, visual/${basename(vision.file)} + textual/${basename(text.file)}`
    : `${basename(vision.file)} + ${basename(text.file)}`;
  log(
    `score: model ${label}, ${model.dim}-d embeddings, ${preprocess.width}x${preprocess.height} input, ` +
      `context ${model.tokenizer.contextLength}, ${files}, running on ${where}${fellBack}`,
  );
  warnFixedBatch(model.name, [vision, text], log);
  return model;
}

/** Model folders already warned about in this thread: a run that loads a model per task says it once. */
const warnedFixedBatch = new Set<string>();

/**
 * A graph exported with a batch of 1 (Immich's current OpenCLIP exports) runs one session.run per image and per
 * caption, several times slower than one per batch: say which tower and how to export it with a batch axis.
 */
function warnFixedBatch(name: string, towers: Tower[], log: (line: string) => void): void {
  const fixed = towers.filter((t) => t.fixedBatch === 1);
  const key = fixed.map((t) => t.file).join('\0');
  if (!fixed.length || warnedFixedBatch.has(key)) return;
  warnedFixedBatch.add(key);
  const which = fixed.map((t) => `${t.file} (input ${t.input})`).join(' and ');
  const exports = fixed.map((t) => `${basename(dirname(t.file))}/${basename(t.file)} with dynamic_axes={"${t.input}": {0: "batch"}, "${t.output}": {0: "batch"}}`);
  log(
    `warning: model ${name}: ${which} ${fixed.length > 1 ? 'fix' : 'fixes'} the batch size at 1, so every ` +
      `${fixed.length > 1 ? 'image and caption' : fixed[0] === towers[0] ? 'image' : 'caption'} is its own session.run, several times ` +
      `slower than --batch allows; re-export with a dynamic batch axis: torch.onnx.export(...) of ${exports.join(' and ')} ` +
      `(docs/score.md, "A graph with a fixed batch")`,
  );
}

/** The HF tokenizer finds its own context length; an OpenCLIP export states it in config.json's text_cfg. */
async function openTokenizer(layout: ModelLayout, text: Tower): Promise<TextTokenizer> {
  const fixedLength = fixedDim(text.session, text.input, 1);
  if (layout.kind === 'hf') return loadTokenizer(layout.tokenizerDir, fixedLength ? { contextLength: fixedLength } : {});
  const cfg = layout.text!;
  if (fixedLength !== undefined && fixedLength !== cfg.contextLength) {
    throw new UsageError(
      `${text.file}: input ${text.input} has a fixed length of ${fixedLength} tokens but ${layout.configFile} says ` +
        `text_cfg.context_length ${cfg.contextLength}; the two files come from different models.`,
    );
  }
  const tok = await loadTokenizer(layout.tokenizerDir, { contextLength: cfg.contextLength });
  return new CleaningTokenizer(tok, cfg.clean);
}

/** A graph with a fixed image size that is not the preprocessing size would fail on the first batch. */
function checkImageSize(vision: Tower, pp: PreprocessConfig, layout: ModelLayout): void {
  const h = fixedDim(vision.session, vision.input, 2);
  const w = fixedDim(vision.session, vision.input, 3);
  if ((h !== undefined && h !== pp.height) || (w !== undefined && w !== pp.width)) {
    const ppName = layout.kind === 'openclip' ? 'visual/preprocess_cfg.json' : 'preprocessor_config.json';
    throw new UsageError(
      `${vision.file}: input ${vision.input} takes ${w ?? 'W'}x${h ?? 'H'} images but ${ppName} makes ` +
        `${pp.width}x${pp.height}; the two files come from different models.`,
    );
  }
}

class OnnxClip implements ClipModel {
  readonly provider: 'cuda' | 'cpu';
  dim = 0;

  constructor(
    readonly dir: string,
    readonly name: string,
    readonly isTestEncoder: boolean,
    readonly preprocess: PreprocessConfig,
    readonly tokenizer: TextTokenizer,
    private readonly vision: Tower,
    private readonly text: Tower,
  ) {
    this.provider = vision.provider;
  }

  /** Runs one dummy image and text to learn the embedding sizes, and refuses a model whose sizes differ. */
  async probe(): Promise<void> {
    const { width, height } = this.preprocess;
    const img = await this.runVision(new Float32Array(3 * width * height), 1);
    const txt = await this.runText(this.tokenizer.encodeBatch(['a photo']));
    const di = img.length;
    const dt = txt.length;
    if (di !== dt) {
      throw new UsageError(
        `${this.dir}: image embeddings have ${di} dimensions (${basename(this.vision.file)}) but text embeddings have ` +
          `${dt} (${basename(this.text.file)}); a CLIP score needs both towers of the same model.`,
      );
    }
    this.dim = di;
  }

  async embedImages(pixels: Float32Array, count: number): Promise<Embeddings> {
    const raw = await this.runVision(pixels, count);
    return normalizeRows(raw, count, this.dim);
  }

  async embedTexts(texts: readonly string[]): Promise<Embeddings & { truncated: number }> {
    const batch = this.tokenizer.encodeBatch(texts);
    const raw = await this.runText(batch);
    return { ...normalizeRows(raw, texts.length, this.dim), truncated: batch.truncated };
  }

  async close(): Promise<void> {
    await this.vision.session.release();
    await this.text.session.release();
  }

  private async runVision(pixels: Float32Array, count: number): Promise<Float32Array> {
    const { width, height } = this.preprocess;
    const t = this.vision;
    const per = 3 * width * height;
    return runChunked(t, count, (start, n) => {
      const dims = [n, 3, height, width];
      const slice = pixels.subarray(start * per, (start + n) * per);
      const input = t.inputType === 'float16' ? new ort.Tensor('float16', f32ToF16(slice), dims) : new ort.Tensor('float32', slice, dims);
      return { [t.input]: input };
    });
  }

  private async runText(batch: { ids: BigInt64Array; attentionMask: BigInt64Array; count: number; contextLength: number }): Promise<Float32Array> {
    const t = this.text;
    const L = batch.contextLength;
    return runChunked(t, batch.count, (start, n) => {
      const dims = [n, L];
      const feeds: Record<string, ort.Tensor> = { [t.input]: intTensor(t.inputType, batch.ids.subarray(start * L, (start + n) * L), dims) };
      if (t.hasMask) feeds.attention_mask = intTensor(t.maskType, batch.attentionMask.subarray(start * L, (start + n) * L), dims);
      return feeds;
    });
  }
}

/** One session.run for the whole batch, or one per row when the graph fixes the batch at 1. */
async function runChunked(t: Tower, count: number, feeds: (start: number, n: number) => Record<string, ort.Tensor>): Promise<Float32Array> {
  if (t.fixedBatch === undefined || count <= 1) return run(t, feeds(0, count));
  const rows: Float32Array[] = [];
  for (let i = 0; i < count; i++) rows.push(await run(t, feeds(i, 1)));
  const out = new Float32Array(rows.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of rows) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function run(t: Tower, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  let out: ort.InferenceSession.ReturnType;
  try {
    out = await t.session.run(feeds, [t.output]);
  } catch (err) {
    const shapes = Object.entries(feeds).map(([k, v]) => `${k}: ${v.type}[${v.dims.join(', ')}]`).join(', ');
    throw new Error(`${t.file}: onnxruntime failed on inputs {${shapes}}: ${(err as Error).message}`);
  }
  const tensor = out[t.output];
  const data = tensor.data;
  if (tensor.type === 'float16') return f16ToF32(data as Uint16Array);
  if (data instanceof Float32Array) return data;
  throw new Error(`${t.file}: output ${t.output} is ${tensor.type}, expected float32 or float16`);
}

function intTensor(type: string, data: BigInt64Array, dims: number[]): ort.Tensor {
  if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(data, (v) => Number(v)), dims);
  return new ort.Tensor('int64', data, dims);
}

/** L2-normalise each row in place; rows with NaN/Inf or zero norm are zeroed and marked invalid. */
export function normalizeRows(data: Float32Array, count: number, dim: number): Embeddings {
  const valid = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    let ss = 0;
    const o = r * dim;
    for (let j = 0; j < dim; j++) ss += data[o + j] * data[o + j];
    const norm = Math.sqrt(ss);
    if (Number.isFinite(norm) && norm > 1e-12) {
      const inv = 1 / norm;
      for (let j = 0; j < dim; j++) data[o + j] *= inv;
      valid[r] = 1;
    } else {
      data.fill(0, o, o + dim);
    }
  }
  return { data, valid, count, dim };
}

async function openTower(spec: TowerSpec, o: { device: Device; intraOpThreads?: number }, types: string[]): Promise<Tower> {
  const { file, input, outputs } = spec;
  let opened;
  try {
    opened = await createSession(file, o);
  } catch (err) {
    if (err instanceof UsageError || /--device cuda/.test((err as Error).message)) throw err;
    throw new UsageError(`${file}: onnxruntime could not load it: ${(err as Error).message}\n${EXPECTED_LAYOUT}`);
  }
  const { session, provider } = opened;
  const ins = session.inputNames;
  const outs = session.outputNames;
  const output = outputs.find((n) => outs.includes(n));
  const extra = ins.filter((n) => n !== input && n !== 'attention_mask');
  const isText = types.includes('int64');
  const refuse = async (why: string): Promise<never> => {
    await session.release();
    throw new UsageError(`${file}: ${why}\n${EXPECTED_LAYOUT}`);
  };
  if (!ins.includes(input) || !output || extra.length > 0) {
    await refuse(
      `unexpected inputs/outputs: inputs [${ins.join(', ')}], outputs [${outs.join(', ')}]; ` +
        `expected input ${input}${isText ? ' (and optionally attention_mask)' : ''} and output ${outputs.join(' or ')}.`,
    );
  }
  const inputType = tensorType(session, input) ?? types[0];
  if (!types.includes(inputType)) await refuse(`input ${input} is ${inputType}; expected ${types.join(' or ')}.`);
  const batch = fixedDim(session, input, 0);
  if (batch !== undefined && batch !== 1) await refuse(`input ${input} has a fixed batch size of ${batch}; expected a dynamic batch or 1.`);
  return {
    session,
    provider,
    file,
    input,
    inputType,
    output: output!,
    hasMask: ins.includes('attention_mask'),
    maskType: tensorType(session, 'attention_mask') ?? 'int64',
    fixedBatch: batch,
  };
}

function tensorType(session: ort.InferenceSession, name: string): string | undefined {
  const m = session.inputMetadata.find((x) => x.name === name);
  return m && m.isTensor ? m.type : undefined;
}

function fixedDim(session: ort.InferenceSession, name: string, axis: number): number | undefined {
  const m = session.inputMetadata.find((x) => x.name === name);
  const d = m && m.isTensor ? m.shape[axis] : undefined;
  return typeof d === 'number' && d > 0 ? d : undefined;
}
