/**
 * The streaming scorer. Input batches (the reader's, any size) go in; images are decoded and preprocessed on
 * a worker pool while the model runs on earlier ones; model batches of `batchSize` are cut across input
 * batches; results come out per input batch, in input order.
 *
 * Model batches are cut by position alone: the k-th image batch holds the decodable images k*B .. k*B+B-1 of
 * the stream (in input order), the k-th text batch the texts k*B .. k*B+B-1, and only the last of each may be
 * short. A model's GEMMs give results that depend on the batch's make-up (at the 1e-7 level), so cutting by
 * decoding speed made two runs of the same input differ; cut by position, the embeddings are a function of the
 * input alone and a re-run (or a resumed task) writes the same bytes.
 *
 * Memory is bounded: at most `maxInFlight` images are being decoded or waiting for the model, and at most
 * `maxPendingBatches` input batches are held until the caller takes their results.
 *
 * NOTE: onnxruntime-node runs a session on the main thread (inside its promise), so overlap comes from the
 * worker pool: it keeps decoding the images already handed to it while the model runs, which is why up to
 * `maxInFlight` (default 3 batches) are handed out ahead.
 */
import { availableParallelism } from 'node:os';
import type { ClipModel } from './model.js';
import { PreprocessPool } from './pool.js';
import type { ImageFailure, PreprocessResult } from './preprocess.js';

export type FailureReason = ImageFailure | 'embedding_invalid';

export interface ScoreInput<K> {
  key: K;
  /** Encoded images (null: no image at this position). */
  images: readonly (Uint8Array | null | undefined)[];
  /** Texts to embed (null: none at this position). */
  texts: readonly (string | null | undefined)[];
}

export type ImageOutcome =
  | { ok: true; embedding: Float32Array; width: number; height: number; format: string }
  | { ok: false; reason: FailureReason; detail: string };

export type TextOutcome = { ok: true; embedding: Float32Array } | { ok: false; reason: 'embedding_invalid'; detail: string };

export interface ScoreOutput<K> {
  key: K;
  /** Same positions as the input; null where the input had no image. */
  images: (ImageOutcome | null)[];
  texts: (TextOutcome | null)[];
}

export interface EngineOptions {
  /** Model batch size (--batch). */
  batchSize?: number;
  /** Preprocessing worker threads; 0 preprocesses from the main thread. Default: cores - 1, at least 1. */
  workers?: number;
  /** Images decoded ahead of the model. Default 3 * batchSize. */
  maxInFlight?: number;
  maxPendingBatches?: number;
  sharpConcurrency?: number;
}

export interface EngineStats {
  images: number;
  imageFailures: number;
  texts: number;
  invalid: number;
  truncatedTexts: number;
  visionBatches: number;
  textBatches: number;
  /** Milliseconds inside session.run for each tower. */
  visionMs: number;
  textMs: number;
  /** Milliseconds the model loop waited with nothing runnable while input was still coming. */
  starvedMs: number;
}

interface Pending<K> {
  outputs: ScoreOutput<K>[];
  remaining: number;
}

interface ImageJob<K> {
  pending: Pending<K>;
  out: ScoreOutput<K>;
  pos: number;
  result?: PreprocessResult;
}

interface TextJob<K> {
  pending: Pending<K>;
  out: ScoreOutput<K>;
  pos: number;
  text: string;
}

/** Level-triggered wake-up: a notify with no waiter is remembered, so a check-then-wait loop never sleeps through it. */
class Signal {
  private waiters: (() => void)[] = [];
  private fired = false;
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    if (w.length === 0) this.fired = true;
    for (const f of w) f();
  }
  wait(): Promise<void> {
    if (this.fired) {
      this.fired = false;
      return Promise.resolve();
    }
    return new Promise((r) => this.waiters.push(r));
  }
}

class Semaphore {
  private waiters: (() => void)[] = [];
  constructor(private free: number) {}
  tryAcquire(): boolean {
    if (this.free > 0) {
      this.free--;
      return true;
    }
    return false;
  }
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
  /** Wake every waiter (shutting down). */
  drain(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  release(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.free++;
  }
}

export class ScoreEngine {
  readonly stats: EngineStats = {
    images: 0, imageFailures: 0, texts: 0, invalid: 0, truncatedTexts: 0,
    visionBatches: 0, textBatches: 0, visionMs: 0, textMs: 0, starvedMs: 0,
  };
  private readonly pool: PreprocessPool;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly maxPendingBatches: number;
  private readonly batchPixels: Float32Array;

  constructor(
    private readonly model: ClipModel,
    opts: EngineOptions = {},
  ) {
    this.batchSize = Math.max(1, opts.batchSize ?? 64);
    this.maxInFlight = Math.max(this.batchSize, opts.maxInFlight ?? 3 * this.batchSize);
    this.maxPendingBatches = Math.max(1, opts.maxPendingBatches ?? 4);
    const workers = opts.workers ?? Math.max(1, availableParallelism() - 1);
    this.pool = new PreprocessPool(model.preprocess, { workers, sharpConcurrency: opts.sharpConcurrency ?? 1 });
    const { width, height } = model.preprocess;
    this.batchPixels = new Float32Array(this.batchSize * 3 * width * height);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /**
   * Score a stream of input batches; yields one output batch per input batch, in order.
   *
   * @example
   * for await (const outs of engine.score(batches)) for (const o of outs) use(o.key, o.images[0], o.texts[0]);
   */
  async *score<K>(source: AsyncIterable<readonly ScoreInput<K>[]>): AsyncGenerator<ScoreOutput<K>[]> {
    const outQ: Pending<K>[] = [];
    const imgQ: ImageJob<K>[] = [];
    const txtQ: TextJob<K>[] = [];
    const wake = new Signal();
    const outWake = new Signal();
    const slots = new Semaphore(this.maxInFlight);
    const N = this.batchSize;
    let producerDone = false;
    let stopped = false;
    let error: unknown;

    const finish = (p: Pending<K>) => {
      if (--p.remaining === 0) outWake.notify();
    };
    const failWith = (err: unknown) => {
      error ??= err;
      stopped = true;
      wake.notify();
      outWake.notify();
    };
    /** Images of the next model batch: the first N still queued, once all are decoded (fewer only at the end). */
    const imagesRunnable = (): number => {
      const n = Math.min(N, imgQ.length);
      if (n === 0 || (n < N && !producerDone)) return 0;
      for (let i = 0; i < n; i++) if (!imgQ[i].result) return 0;
      return n;
    };
    const textsRunnable = (): boolean => txtQ.length >= N || (producerDone && txtQ.length > 0);
    /**
     * The producer may stop reading while the oldest input batch is bound to finish without more input: a
     * full model batch is queued (it runs once decoded, and its first rows are the oldest). Otherwise it
     * reads on, past maxPendingBatches: a short batch run early would make the cut depend on timing.
     */
    const mayWait = (): boolean => imgQ.length >= N || txtQ.length >= N || outQ[0]?.remaining === 0;

    const producer = async () => {
      for await (const batch of source) {
        if (stopped) return;
        const pending: Pending<K> = { outputs: [], remaining: 0 };
        for (const item of batch) {
          const out: ScoreOutput<K> = { key: item.key, images: item.images.map(() => null), texts: item.texts.map(() => null) };
          pending.outputs.push(out);
          item.texts.forEach((text, pos) => {
            if (text === null || text === undefined) return;
            pending.remaining++;
            txtQ.push({ pending, out, pos, text });
          });
          for (let pos = 0; pos < item.images.length; pos++) {
            const bytes = item.images[pos];
            if (!bytes) continue;
            pending.remaining++;
            // Safe to wait: every slot is held by a queued image, and maxInFlight >= batchSize makes a full batch.
            await slots.acquire();
            if (stopped) return;
            const job: ImageJob<K> = { pending, out, pos };
            imgQ.push(job);
            this.pool.run(bytes).then(
              (r) => {
                if (r.ok) {
                  job.result = r;
                } else {
                  imgQ.splice(imgQ.indexOf(job), 1);
                  out.images[pos] = { ok: false, reason: r.reason, detail: r.detail };
                  this.stats.imageFailures++;
                  slots.release();
                  finish(pending);
                  outWake.notify(); // the queue shrank: the producer may have to read on
                }
                wake.notify();
              },
              failWith,
            );
          }
        }
        outQ.push(pending);
        if (pending.remaining === 0) outWake.notify();
        wake.notify();
        while (outQ.length > this.maxPendingBatches && !stopped && mayWait()) await outWake.wait();
      }
      producerDone = true;
      wake.notify();
      outWake.notify();
    };

    const runImages = async (count: number) => {
      const jobs = imgQ.splice(0, count);
      const plane = this.batchPixels.length / this.batchSize;
      jobs.forEach((j, i) => {
        if (j.result?.ok) this.batchPixels.set(j.result.pixels, i * plane);
      });
      const t0 = performance.now();
      const emb = await this.model.embedImages(this.batchPixels, jobs.length);
      this.stats.visionMs += performance.now() - t0;
      this.stats.visionBatches++;
      jobs.forEach((j, i) => {
        const r = j.result as Extract<PreprocessResult, { ok: true }>;
        this.stats.images++;
        if (emb.valid[i]) {
          j.out.images[j.pos] = { ok: true, embedding: emb.data.subarray(i * emb.dim, (i + 1) * emb.dim), width: r.width, height: r.height, format: r.format };
        } else {
          this.stats.invalid++;
          j.out.images[j.pos] = { ok: false, reason: 'embedding_invalid', detail: 'image embedding has NaN/Inf values or zero norm' };
        }
        j.result = undefined;
        slots.release();
        finish(j.pending);
      });
      outWake.notify();
    };

    const runTexts = async () => {
      const jobs = txtQ.splice(0, this.batchSize);
      const t0 = performance.now();
      const emb = await this.model.embedTexts(jobs.map((j) => j.text));
      this.stats.textMs += performance.now() - t0;
      this.stats.textBatches++;
      this.stats.truncatedTexts += emb.truncated;
      jobs.forEach((j, i) => {
        this.stats.texts++;
        if (emb.valid[i]) j.out.texts[j.pos] = { ok: true, embedding: emb.data.subarray(i * emb.dim, (i + 1) * emb.dim) };
        else {
          this.stats.invalid++;
          j.out.texts[j.pos] = { ok: false, reason: 'embedding_invalid', detail: 'text embedding has NaN/Inf values or zero norm' };
        }
        finish(j.pending);
      });
      outWake.notify();
    };

    const inference = async () => {
      while (!stopped) {
        const images = imagesRunnable();
        if (images > 0) await runImages(images);
        else if (textsRunnable()) await runTexts();
        else if (producerDone && imgQ.length === 0 && txtQ.length === 0) return;
        else {
          const t0 = performance.now();
          await wake.wait();
          if (!producerDone) this.stats.starvedMs += performance.now() - t0;
        }
      }
    };

    const producing = producer().catch(failWith);
    const inferring = inference().catch(failWith);
    try {
      while (true) {
        if (error !== undefined) throw error;
        const head = outQ[0];
        if (head && head.remaining === 0) {
          outQ.shift();
          outWake.notify();
          yield head.outputs;
          continue;
        }
        if (producerDone && outQ.length === 0) break;
        await outWake.wait();
      }
    } finally {
      stopped = true;
      slots.drain();
      wake.notify();
      outWake.notify();
      // The producer may be parked on the source; it returns (closing the source) at its next batch.
      void producing;
      await inferring;
    }
  }
}
