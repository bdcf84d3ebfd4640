/**
 * Dataset rows <-> the engine: which images and texts of a record get embedded, and how the engine's
 * outcome becomes either an output row (input columns + score columns) or a reject with its reason.
 */
import type { Kind } from '../records.js';
import type { ScoreInput, ScoreOutput } from './engine.js';
import { packFloat16 } from '../util/float16.js';
import { dot, interleavedScores } from './similarity.js';

export type Row = Record<string, unknown>;

/** The score columns this stage adds, per layout. */
export function scoreColumns(kind: Kind, embedText: boolean): string[] {
  if (kind === 'caption') return ['clip_score', 'image_embedding', 'text_embedding'];
  if (kind === 'interleaved') return ['clip_score', 'image_scores'];
  return embedText ? ['text_embedding'] : [];
}

function imageBytes(v: unknown): Uint8Array | null {
  if (!v || typeof v !== 'object') return null;
  const b = (v as { bytes?: unknown }).bytes;
  return b instanceof Uint8Array ? b : null;
}

/** What to embed for one row. */
export function toScoreInput<K>(kind: Kind, row: Row, key: K, embedText: boolean): ScoreInput<K> {
  if (kind === 'caption') return { key, images: [imageBytes(row.image)], texts: [typeof row.text === 'string' ? row.text : ''] };
  if (kind === 'interleaved') {
    const images = Array.isArray(row.images) ? row.images.map(imageBytes) : [];
    const texts = Array.isArray(row.texts) ? row.texts.map((t) => (typeof t === 'string' ? t : null)) : [];
    return { key, images, texts };
  }
  return { key, images: [], texts: embedText && typeof row.text === 'string' ? [row.text] : [] };
}

export type RowOutcome =
  | { kept: true; row: Row; score: number | null; image?: Float32Array; text?: Float32Array }
  | { kept: false; reason: string; detail: string };

/** Turn the engine's result for `row` into the output row, or the reason it cannot be kept. */
export function toOutputRow<K>(kind: Kind, row: Row, out: ScoreOutput<K>): RowOutcome {
  if (kind === 'caption') {
    const img = out.images[0];
    const txt = out.texts[0];
    if (!img) return { kept: false, reason: 'image_missing', detail: 'no image bytes to score (a remote image that was not downloaded?)' };
    if (!img.ok) return { kept: false, reason: img.reason, detail: img.detail };
    if (!txt || !txt.ok) return { kept: false, reason: 'embedding_invalid', detail: txt && !txt.ok ? txt.detail : 'no text' };
    const score = dot(img.embedding, txt.embedding);
    return {
      kept: true,
      row: { ...row, clip_score: score, image_embedding: packFloat16(img.embedding), text_embedding: packFloat16(txt.embedding) },
      score,
      image: img.embedding,
      text: txt.embedding,
    };
  }
  if (kind === 'interleaved') {
    // A document is only as good as its images: one that cannot be decoded rejects the document.
    for (let p = 0; p < out.images.length; p++) {
      const img = out.images[p];
      if (img && !img.ok) return { kept: false, reason: img.reason, detail: `image at position ${p}: ${img.detail}` };
    }
    const s = interleavedScores(
      out.images.map((x) => (x && x.ok ? x.embedding : null)),
      out.texts.map((x) => (x && x.ok ? x.embedding : null)),
    );
    return { kept: true, row: { ...row, clip_score: s.docScore, image_scores: s.imageScores.slice(0, out.images.length) }, score: s.docScore };
  }
  const txt = out.texts[0];
  if (!txt) return { kept: true, row, score: null };
  if (!txt.ok) return { kept: false, reason: txt.reason, detail: txt.detail };
  return { kept: true, row: { ...row, text_embedding: packFloat16(txt.embedding) }, score: null, text: txt.embedding };
}
