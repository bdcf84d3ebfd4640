/**
 * A CLIP-style model directory (HF / Optimum / Transformers.js export) opened for scoring: the two ONNX
 * towers on CPU or CUDA through src/onnx.ts, the tokenizer and the preprocessing plan. Everything that can be
 * wrong with the directory is checked here, before any data is read.
 */
import { access, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { createSession, type Device, ort } from '../onnx.js';
import { f16ToF32, f32ToF16 } from '../util/float16.js';
import { type PreprocessConfig, parsePreprocessorConfig } from './preprocess-config.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

/** The embedded TEST encoder used when no --model is given (scripts/make_test_clip.py). */
export const TEST_MODEL_DIR = fileURLToPath(new URL('../../../models/test-clip/', import.meta.url));

export const EXPECTED_LAYOUT = `Expected a model directory laid out like an HF / Transformers.js CLIP export:
  MODEL_DIR/
    config.json                 (optional; text_config.max_position_embeddings sets the context length)
    preprocessor_config.json    (CLIPImageProcessor / SiglipImageProcessor fields: size, crop_size, image_mean, ...)
    tokenizer.json              (+ tokenizer_config.json when present)
    onnx/vision_model.onnx      input pixel_values [batch, 3, H, W] -> output image_embeds [batch, D]
    onnx/text_model.onnx        input input_ids [batch, seq] (+ attention_mask) -> output text_embeds [batch, D]
  Variants onnx/*_fp16.onnx, *_quantized.onnx, ... are picked with --model-variant; the ONNX files may also sit
  directly in MODEL_DIR. See docs/score.md for where to download real weights.`;

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
}

const VARIANT_SUFFIX: Record<string, string> = { fp32: '', '': '' };

/**
 * @example
 * const model = await loadModel('models/test-clip', { device: 'cpu' });
 * const { data, valid } = await model.embedTexts(['a red circle']);
 */
export async function loadModel(dirArg: string | undefined, opts: LoadOptions = {}): Promise<ClipModel> {
  const dir = resolve(dirArg ?? TEST_MODEL_DIR);
  const log = opts.log ?? ((line: string) => console.error(line));
  for (const f of ['preprocessor_config.json', 'tokenizer.json']) await mustExist(join(dir, f));
  const config = await readConfig(join(dir, 'config.json'));
  const isTestEncoder = config?.mmcurate_test_encoder === true;
  const ppFile = join(dir, 'preprocessor_config.json');
  const preprocess = parsePreprocessorConfig(JSON.parse(await readFile(ppFile, 'utf8')), ppFile, { maxPixels: opts.maxPixels });

  const suffix = opts.variant === undefined ? '' : (VARIANT_SUFFIX[opts.variant] ?? `_${opts.variant}`);
  const visionFile = await findOnnx(dir, 'vision_model', suffix);
  const textFile = await findOnnx(dir, 'text_model', suffix);
  const sessionOpts = { device: opts.device ?? 'auto', intraOpThreads: opts.intraOpThreads };
  const vision = await openTower(visionFile, sessionOpts, 'pixel_values', ['image_embeds', 'pooler_output']);
  const text = await openTower(textFile, sessionOpts, 'input_ids', ['text_embeds', 'pooler_output']);

  const fixedLength = fixedDim(text.session, text.input, 1);
  const tokenizer = await loadTokenizer(dir, fixedLength ? { contextLength: fixedLength } : {});
  const model = new OnnxClip(dir, config, isTestEncoder, preprocess, tokenizer, vision, text);
  await model.probe();

  const name = model.name;
  const where =
    vision.provider === text.provider
      ? vision.provider === 'cuda' ? 'CUDA (onnxruntime-node CUDA execution provider)' : 'CPU (onnxruntime-node CPU execution provider)'
      : `vision on ${vision.provider.toUpperCase()}, text on ${text.provider.toUpperCase()}`;
  const fellBack = opts.device !== 'cpu' && vision.provider === 'cpu' ? '; CUDA provider not available, see docs/score.md "GPU"' : '';
  const label = isTestEncoder ? 'TEST encoder (mmcurate/test-clip: hand-built colour/shape features, not a trained CLIP)' : name;
  log(
    `score: model ${label}, ${model.dim}-d embeddings, ${preprocess.width}x${preprocess.height} input, ` +
      `context ${tokenizer.contextLength}, ${basename(visionFile)} + ${basename(textFile)}, running on ${where}${fellBack}`,
  );
  return model;
}

class OnnxClip implements ClipModel {
  readonly name: string;
  readonly provider: 'cuda' | 'cpu';
  dim = 0;

  constructor(
    readonly dir: string,
    config: any,
    readonly isTestEncoder: boolean,
    readonly preprocess: PreprocessConfig,
    readonly tokenizer: TextTokenizer,
    private readonly vision: Tower,
    private readonly text: Tower,
  ) {
    this.name = typeof config?._name_or_path === 'string' && config._name_or_path ? config._name_or_path : basename(dir);
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
    const dims = [count, 3, height, width];
    const input = t.inputType === 'float16' ? new ort.Tensor('float16', f32ToF16(pixels.subarray(0, count * 3 * width * height)), dims)
      : new ort.Tensor('float32', pixels.subarray(0, count * 3 * width * height), dims);
    return run(t, { [t.input]: input });
  }

  private async runText(batch: { ids: BigInt64Array; attentionMask: BigInt64Array; count: number; contextLength: number }): Promise<Float32Array> {
    const t = this.text;
    const dims = [batch.count, batch.contextLength];
    const feeds: Record<string, ort.Tensor> = { [t.input]: intTensor(t.inputType, batch.ids, dims) };
    if (t.hasMask) feeds.attention_mask = intTensor(t.maskType, batch.attentionMask, dims);
    return run(t, feeds);
  }
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

async function openTower(file: string, o: { device: Device; intraOpThreads?: number }, input: string, outputs: string[]): Promise<Tower> {
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
  if (!ins.includes(input) || !output || extra.length > 0) {
    await session.release();
    throw new UsageError(
      `${file}: unexpected inputs/outputs: inputs [${ins.join(', ')}], outputs [${outs.join(', ')}]; ` +
        `expected input ${input}${input === 'input_ids' ? ' (and optionally attention_mask)' : ''} and output ${outputs.join(' or ')}.\n` +
        EXPECTED_LAYOUT,
    );
  }
  return {
    session,
    provider,
    file,
    input,
    inputType: tensorType(session, input) ?? (input === 'input_ids' ? 'int64' : 'float32'),
    output,
    hasMask: ins.includes('attention_mask'),
    maskType: tensorType(session, 'attention_mask') ?? 'int64',
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

async function findOnnx(dir: string, stem: string, suffix: string): Promise<string> {
  const candidates = [join(dir, 'onnx', `${stem}${suffix}.onnx`), join(dir, `${stem}${suffix}.onnx`)];
  for (const c of candidates) if (await exists(c)) return c;
  throw new UsageError(`${candidates[0]}: missing (also looked for ${candidates[1]}).\n${EXPECTED_LAYOUT}`);
}

async function mustExist(file: string): Promise<void> {
  if (!(await exists(file))) throw new UsageError(`${file}: missing.\n${EXPECTED_LAYOUT}`);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function readConfig(file: string): Promise<any> {
  if (!(await exists(file))) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}
