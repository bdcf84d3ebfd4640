/**
 * Reads a model's `preprocessor_config.json` (HF CLIPImageProcessor / SiglipImageProcessor fields) into the
 * plan `preprocess.ts` executes. Size, crop, resampling, mean and std come from the file, so OpenAI CLIP (224),
 * ViT-L/14-336 and SigLIP (384, mean/std 0.5, no crop) all work without code changes.
 */
import { UsageError } from '../errors.js';

export type Resample = 'nearest' | 'linear' | 'cubic' | 'lanczos3';

export interface PreprocessConfig {
  /** How to resize before cropping; null: no resize (`do_resize: false`). */
  resize: { shortestEdge: number } | { width: number; height: number } | null;
  /** Centre crop to this size; null: no crop. */
  crop: { width: number; height: number } | null;
  /**
   * How the crop's offset is rounded when the margin is odd: transformers floors `(H - h) // 2`; torchvision,
   * which open_clip uses, takes `int(round((H - h) / 2.0))`, Python's round half to even. Default 'floor'.
   */
  cropRounding?: 'floor' | 'half-even';
  /**
   * Where convert("RGB") happens: 'first' (transformers' CLIPImageProcessor, default) or 'after-crop' (open_clip:
   * Resize and CenterCrop run on the image in its own PIL mode, then _convert_to_rgb).
   */
  convertRgb?: 'first' | 'after-crop';
  resample: Resample;
  /** Per-channel affine map from a 0..255 value: (v * rescale - mean) / std. */
  rescale: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** Tensor height and width (the crop, or the exact resize size). */
  height: number;
  width: number;
  /** Images with more pixels than this are refused (decompression bombs); PIL refuses above 2 * 89,478,485. */
  maxPixels: number;
}

/** PIL's resampling codes as written by HF image processors. */
const PIL_RESAMPLE: Record<number, Resample> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic' };
const PIL_NAMES = '0 (NEAREST), 1 (LANCZOS), 2 (BILINEAR), 3 (BICUBIC)';

/** One pixel limit for the whole pipeline, so whatever ingest kept can be scored. */
export { DEFAULT_MAX_PIXELS } from '../ingest/images.js';
import { DEFAULT_MAX_PIXELS } from '../ingest/images.js';

export interface ParseOptions {
  maxPixels?: number;
}

/**
 * @example
 * const cfg = parsePreprocessorConfig(JSON.parse(text), 'models/x/preprocessor_config.json');
 */
export function parsePreprocessorConfig(raw: unknown, file: string, opts: ParseOptions = {}): PreprocessConfig {
  if (!raw || typeof raw !== 'object') throw new UsageError(`${file}: expected a JSON object, got ${typeof raw}`);
  const j = raw as Record<string, unknown>;
  const type = String(j.image_processor_type ?? j.feature_extractor_type ?? '');
  // SigLIP's processor reads a bare integer size as a square; CLIP's as the shortest edge.
  const squareByDefault = /siglip|vit/i.test(type) && !/clip/i.test(type);

  const doResize = j.do_resize !== false;
  let resize: PreprocessConfig['resize'] = null;
  if (doResize) {
    const size = j.size ?? 224;
    if (typeof size === 'number') {
      resize = squareByDefault ? { width: size, height: size } : { shortestEdge: size };
    } else if (size && typeof size === 'object') {
      const s = size as Record<string, unknown>;
      if (typeof s.shortest_edge === 'number') resize = { shortestEdge: s.shortest_edge };
      else if (typeof s.height === 'number' && typeof s.width === 'number') resize = { width: s.width, height: s.height };
    }
    if (!resize) {
      throw new UsageError(
        `${file}: "size" must be a number, {"shortest_edge": N} or {"height": H, "width": W}; got ${JSON.stringify(size)}`,
      );
    }
  }

  const doCrop = j.do_center_crop === true || (j.do_center_crop === undefined && j.crop_size !== undefined);
  let crop: PreprocessConfig['crop'] = null;
  if (doCrop) {
    const c = j.crop_size ?? 224;
    if (typeof c === 'number') crop = { width: c, height: c };
    else if (c && typeof c === 'object' && typeof (c as any).height === 'number' && typeof (c as any).width === 'number') {
      crop = { width: (c as any).width, height: (c as any).height };
    } else {
      throw new UsageError(`${file}: "crop_size" must be a number or {"height": H, "width": W}; got ${JSON.stringify(c)}`);
    }
  }

  const code = j.resample ?? 3;
  const resample = typeof code === 'number' ? PIL_RESAMPLE[code] : undefined;
  if (!resample) throw new UsageError(`${file}: "resample" ${JSON.stringify(code)} is not supported; expected ${PIL_NAMES}`);

  const rescale = j.do_rescale === false ? 1 : typeof j.rescale_factor === 'number' ? j.rescale_factor : 1 / 255;
  const doNormalize = j.do_normalize !== false;
  const mean = doNormalize ? triple(j.image_mean, file, 'image_mean', [0.48145466, 0.4578275, 0.40821073]) : [0, 0, 0];
  const std = doNormalize ? triple(j.image_std, file, 'image_std', [0.26862954, 0.26130258, 0.27577711]) : [1, 1, 1];
  if (std.some((s) => !(s > 0))) throw new UsageError(`${file}: "image_std" must be positive numbers; got ${JSON.stringify(std)}`);

  let height: number;
  let width: number;
  if (crop) ({ height, width } = crop);
  else if (resize && 'width' in resize) ({ height, width } = resize);
  else {
    throw new UsageError(
      `${file}: without a centre crop the resize must give a fixed size ({"height": H, "width": W}); ` +
        `got size ${JSON.stringify(j.size)} and do_center_crop ${JSON.stringify(j.do_center_crop)}`,
    );
  }
  return {
    resize,
    crop,
    resample,
    rescale,
    mean: mean as [number, number, number],
    std: std as [number, number, number],
    height,
    width,
    maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
  };
}

function triple(v: unknown, file: string, key: string, fallback: number[]): number[] {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v;
  throw new UsageError(`${file}: "${key}" must be a number or 3 numbers; got ${JSON.stringify(v)}`);
}

/**
 * The size an image of `w`x`h` is resized to before the crop, computed as transformers'
 * `get_resize_output_image_size` does (the long side is truncated, not rounded).
 */
export function resizedSize(cfg: PreprocessConfig, w: number, h: number): { width: number; height: number } {
  const r = cfg.resize;
  if (!r) return { width: w, height: h };
  if ('width' in r) return { width: r.width, height: r.height };
  const short = Math.min(w, h);
  const long = Math.max(w, h);
  const newLong = Math.trunc((r.shortestEdge * long) / short);
  return w <= h ? { width: r.shortestEdge, height: newLong } : { width: newLong, height: r.shortestEdge };
}

/** open_clip's `interpolation` names; 'random' is a training-only setting that open_clip evaluates as bicubic. */
const OPEN_CLIP_INTERPOLATION: Record<string, Resample> = { bicubic: 'cubic', bilinear: 'linear', random: 'cubic' };
const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711];

/**
 * Reads open_clip's `PreprocessCfg` as `open_clip.get_model_preprocess_cfg` writes it (Immich's
 * `visual/preprocess_cfg.json`: size, mode, mean, std, interpolation, resize_mode, fill_color) into the same plan
 * as parsePreprocessorConfig. open_clip's eval transform runs torchvision on a PIL image, i.e. PIL's resampler:
 * 'shortest' is Resize(size) (shortest edge, long edge truncated) + CenterCrop, 'squash' is Resize((h, w)).
 *
 * @example
 * const cfg = parseOpenClipPreprocessConfig(JSON.parse(text), 'models/x/visual/preprocess_cfg.json');
 */
export function parseOpenClipPreprocessConfig(raw: unknown, file: string, opts: ParseOptions = {}): PreprocessConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${file}: expected a JSON object, got ${typeof raw}`);
  const j = raw as Record<string, unknown>;
  if (j.mode !== undefined && j.mode !== 'RGB') throw new UsageError(`${file}: "mode" ${JSON.stringify(j.mode)} is not supported; expected "RGB"`);

  const size = openClipSize(j.size ?? 224, file);
  const interpolation = j.interpolation ?? 'bicubic';
  const resample = typeof interpolation === 'string' ? OPEN_CLIP_INTERPOLATION[interpolation] : undefined;
  if (!resample) {
    throw new UsageError(`${file}: "interpolation" ${JSON.stringify(interpolation)} is not supported; expected "bicubic" or "bilinear"`);
  }
  const mean = triple(j.mean, file, 'mean', OPENAI_MEAN);
  const std = triple(j.std, file, 'std', OPENAI_STD);
  if (std.some((s) => !(s > 0))) throw new UsageError(`${file}: "std" must be positive numbers; got ${JSON.stringify(std)}`);

  const mode = j.resize_mode ?? 'shortest';
  let resize: PreprocessConfig['resize'];
  let crop: PreprocessConfig['crop'];
  let cropRounding: PreprocessConfig['cropRounding'];
  if (mode === 'squash') {
    resize = { width: size.width, height: size.height };
    crop = null;
  } else if (mode === 'shortest') {
    // A non-square target goes through timm's ResizeKeepRatio (rounded, not truncated): not this plan's resize.
    if (size.width !== size.height) {
      throw new UsageError(`${file}: resize_mode "shortest" with a non-square size ${JSON.stringify(j.size)} is not supported`);
    }
    resize = { shortestEdge: size.width };
    crop = { width: size.width, height: size.height };
    cropRounding = 'half-even';
  } else {
    // 'longest' letterboxes with fill_color; the preprocessing plan has no letterbox step.
    throw new UsageError(`${file}: "resize_mode" ${JSON.stringify(mode)} is not supported; expected "shortest" or "squash"`);
  }
  return {
    resize,
    crop,
    ...(cropRounding ? { cropRounding } : {}),
    convertRgb: 'after-crop',
    resample,
    rescale: 1 / 255,
    mean: mean as [number, number, number],
    std: std as [number, number, number],
    height: size.height,
    width: size.width,
    maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
  };
}

/** open_clip writes `size` as an int or as [height, width]. */
function openClipSize(v: unknown, file: string): { width: number; height: number } {
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (ok(v)) return { width: v, height: v };
  if (Array.isArray(v) && v.length === 1 && ok(v[0])) return { width: v[0], height: v[0] };
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return { width: v[1], height: v[0] };
  throw new UsageError(`${file}: "size" must be a positive integer or [height, width]; got ${JSON.stringify(v)}`);
}

/** The centre crop's offset into a margin of `margin` pixels (image size minus crop size, >= 0). */
export function cropOffset(margin: number, rounding: PreprocessConfig['cropRounding'] = 'floor'): number {
  const half = Math.floor(margin / 2);
  // an odd margin leaves x.5: half to even rounds up when the floor is odd
  return rounding === 'half-even' && margin % 2 === 1 && half % 2 === 1 ? half + 1 : half;
}
