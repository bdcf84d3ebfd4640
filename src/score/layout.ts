/**
 * The two model directory layouts `--model` accepts, told apart by their files: the HF / Optimum /
 * Transformers.js export and the OpenCLIP export as Immich publishes it (immich-app/* on the Hugging Face Hub).
 * Resolves file paths, tensor names, the preprocessing plan and the text settings; opens nothing.
 */
import { access, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';
import { type OpenClipTextConfig, openClipTextConfig } from './openclip.js';
import { type PreprocessConfig, parseOpenClipPreprocessConfig, parsePreprocessorConfig } from './preprocess-config.js';

export const EXPECTED_LAYOUT = `Expected a model directory in one of two layouts:
  (1) HF / Transformers.js CLIP export:
  MODEL_DIR/
    config.json                 (optional; text_config.max_position_embeddings sets the context length)
    preprocessor_config.json    (CLIPImageProcessor / SiglipImageProcessor fields: size, crop_size, image_mean, ...)
    tokenizer.json              (+ tokenizer_config.json when present)
    onnx/vision_model.onnx      input pixel_values [batch, 3, H, W] -> output image_embeds [batch, D]
    onnx/text_model.onnx        input input_ids [batch, seq] (+ attention_mask) -> output text_embeds [batch, D]
  Variants onnx/*_fp16.onnx, *_quantized.onnx, ... are picked with --model-variant; the ONNX files may also sit
  directly in MODEL_DIR.
  (2) OpenCLIP export, as Immich publishes it (e.g. immich-app/ViT-B-32__openai):
  MODEL_DIR/
    config.json                 (open_clip model config: embed_dim, vision_cfg, text_cfg.context_length)
    visual/model.onnx           input image [batch, 3, H, W] -> output embedding (or image_embedding) [batch, D]
    visual/preprocess_cfg.json  (open_clip PreprocessCfg: size, mean, std, interpolation, resize_mode)
    textual/model.onnx          input text int32|int64 [batch, context] -> output embedding (or text_embedding) [batch, D]
    textual/tokenizer.json      (+ tokenizer_config.json, special_tokens_map.json)
  See docs/score.md for where to download real weights.`;

export interface TowerSpec {
  file: string;
  /** The image or token-id input. */
  input: string;
  /** Accepted output names, the first present wins. */
  outputs: string[];
}

export interface ModelLayout {
  kind: 'hf' | 'openclip';
  /** The top-level config.json, when there is one. */
  config: any;
  isTestEncoder: boolean;
  preprocess: PreprocessConfig;
  tokenizerDir: string;
  /** Set by the layout's own config (OpenCLIP); the HF tokenizer finds its own. */
  text?: OpenClipTextConfig;
  configFile: string;
  vision: TowerSpec;
  textTower: TowerSpec;
}

export interface LayoutOptions {
  variant?: string;
  maxPixels?: number;
}

const VARIANT_SUFFIX: Record<string, string> = { fp32: '', '': '' };

/**
 * @example
 * const layout = await resolveLayout('/models/ViT-B-32__openai', {});
 * layout.kind; // 'openclip'
 */
export async function resolveLayout(dir: string, opts: LayoutOptions): Promise<ModelLayout> {
  const suffix = opts.variant === undefined ? '' : (VARIANT_SUFFIX[opts.variant] ?? `_${opts.variant}`);
  return (await isOpenClip(dir)) ? openClipLayout(dir, suffix, opts) : hfLayout(dir, suffix, opts);
}

/** Any of the OpenCLIP-only names means the user meant that layout, so its missing files are the ones to name. */
async function isOpenClip(dir: string): Promise<boolean> {
  for (const p of ['visual', 'textual']) if (await exists(join(dir, p))) return true;
  return false;
}

async function hfLayout(dir: string, suffix: string, opts: LayoutOptions): Promise<ModelLayout> {
  for (const f of ['preprocessor_config.json', 'tokenizer.json']) await mustExist(join(dir, f));
  const configFile = join(dir, 'config.json');
  const config = await readJson(configFile, false);
  const ppFile = join(dir, 'preprocessor_config.json');
  const preprocess = parsePreprocessorConfig(await readJson(ppFile, true), ppFile, { maxPixels: opts.maxPixels });
  return {
    kind: 'hf',
    config,
    isTestEncoder: config?.mmcurate_test_encoder === true,
    preprocess,
    tokenizerDir: dir,
    configFile,
    vision: { file: await findOnnx(dir, 'vision_model', suffix), input: 'pixel_values', outputs: ['image_embeds', 'pooler_output'] },
    textTower: { file: await findOnnx(dir, 'text_model', suffix), input: 'input_ids', outputs: ['text_embeds', 'pooler_output'] },
  };
}

async function openClipLayout(dir: string, suffix: string, opts: LayoutOptions): Promise<ModelLayout> {
  const configFile = join(dir, 'config.json');
  const ppFile = join(dir, 'visual', 'preprocess_cfg.json');
  const visionFile = join(dir, 'visual', `model${suffix}.onnx`);
  const textFile = join(dir, 'textual', `model${suffix}.onnx`);
  for (const f of [configFile, ppFile, visionFile, textFile, join(dir, 'textual', 'tokenizer.json')]) await mustExist(f);
  const config = await readJson(configFile, true);
  return {
    kind: 'openclip',
    config,
    isTestEncoder: config?.mmcurate_test_encoder === true,
    preprocess: parseOpenClipPreprocessConfig(await readJson(ppFile, true), ppFile, { maxPixels: opts.maxPixels }),
    tokenizerDir: join(dir, 'textual'),
    text: openClipTextConfig(config, configFile),
    configFile,
    // Immich's exporters named the outputs image_embedding / text_embedding before they became embedding.
    vision: { file: visionFile, input: 'image', outputs: ['embedding', 'image_embedding'] },
    textTower: { file: textFile, input: 'text', outputs: ['embedding', 'text_embedding'] },
  };
}

/** A display name: HF configs carry the Hub id; an Immich folder is named after the model (ViT-B-32__openai). */
export function modelName(layout: ModelLayout, dir: string): string {
  const n = layout.config?._name_or_path;
  return typeof n === 'string' && n ? n : basename(dir);
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

async function readJson(file: string, required: boolean): Promise<any> {
  if (!required && !(await exists(file))) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}
