/**
 * Response-format prompts (LLaVA-1.5): a recipe may give a source a prompt to append to each question,
 * e.g. "Answer the question using a single word or phrase." for VQAv2. The question turns are found in the
 * record's metadata as a LLaVA `conversations` list ({from: "human"|"gpt", value}); the prompt is appended
 * to every human turn on a new line. A record with no such list keeps its text and records the prompt as
 * `response_format_prompt` in its metadata, so a trainer's template can apply it; both are counted.
 */
import { createHash } from 'node:crypto';
import type { MixtureRecord } from '../records.js';
import type { Seed } from './random.js';

export interface PromptCounts {
  applied: number;
  recorded: number;
}

type Turn = { from?: unknown; role?: unknown; value?: unknown; content?: unknown };

function isHuman(t: Turn): boolean {
  const who = t.from ?? t.role;
  return who === 'human' || who === 'user';
}

/** Appends the prompt to human turns; returns how many it changed. */
function appendToTurns(turns: Turn[], prompt: string): number {
  let n = 0;
  for (const t of turns) {
    if (!t || typeof t !== 'object' || !isHuman(t)) continue;
    if (typeof t.value === 'string') {
      t.value = `${t.value}\n${prompt}`;
      n++;
    } else if (typeof t.content === 'string') {
      t.content = `${t.content}\n${prompt}`;
      n++;
    }
  }
  return n;
}

/** Several prompts: one per sample, from the seed and the record id (so a re-run picks the same). */
export function choosePrompt(prompts: readonly string[], seed: Seed, id: string): string {
  if (prompts.length === 1) return prompts[0]!;
  const h = createHash('sha256').update(String(seed)).update('\0prompt\0').update(id).digest();
  return prompts[h.readUInt32LE(0) % prompts.length]!;
}

/** Applies a source's prompt to a mixture record in place and counts what was done. */
export function applyPrompt(rec: MixtureRecord, prompts: readonly string[], seed: Seed, counts: PromptCounts): void {
  const prompt = choosePrompt(prompts, seed, rec.id);
  const meta = JSON.parse(rec.metadata ?? '{}') as Record<string, unknown>;
  const inner = meta.metadata as Record<string, unknown> | undefined;
  const holder = Array.isArray(meta.conversations) ? meta : inner && typeof inner === 'object' && Array.isArray(inner.conversations) ? inner : undefined;
  const changed = holder ? appendToTurns(holder.conversations as Turn[], prompt) : 0;
  meta.response_format_prompt = prompt;
  if (changed > 0) {
    meta.response_format_prompt_applied = changed;
    counts.applied++;
  } else counts.recorded++;
  rec.metadata = JSON.stringify(meta);
}
