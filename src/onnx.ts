/**
 * The one module that imports onnxruntime-node. Everything that runs an ONNX graph (the CLIP
 * encoder, the k-means assignment kernel) gets its session here, so execution-provider choice,
 * threading and error wording live in one place.
 */
import * as ort from 'onnxruntime-node';

// NOTE: with --device auto, onnxruntime logs its failed CUDA probe as an ERROR on stderr although the CPU
// fallback is expected and reported by the caller; failures still surface as exceptions. MMCURATE_ORT_LOG
// (verbose|info|warning|error|fatal) turns onnxruntime's own log back on.
ort.env.logLevel = (process.env.MMCURATE_ORT_LOG as typeof ort.env.logLevel) || 'fatal';

export type Device = 'auto' | 'cpu' | 'cuda';
export const DEVICES: readonly Device[] = ['auto', 'cpu', 'cuda'];

export interface SessionOptions {
  device?: Device;
  /** Threads for one operator; defaults to onnxruntime's choice (all cores). */
  intraOpThreads?: number;
  /**
   * false: idle intra-op threads sleep instead of spinning between operators (onnxruntime spins by default).
   * Small graphs run back to back (the vector kernels) then cost 10-15% less CPU time on a shared machine.
   */
  spinning?: boolean;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  /** The execution provider the session actually runs on. */
  provider: 'cuda' | 'cpu';
}

export async function createSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<OpenedSession> {
  const device = opts.device ?? 'auto';
  const base: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
  if (opts.intraOpThreads) base.intraOpNumThreads = opts.intraOpThreads;
  if (opts.spinning === false) base.extra = { session: { intra_op: { allow_spinning: '0' } } };
  if (device === 'cuda' || device === 'auto') {
    try {
      const session = await open(model, { ...base, executionProviders: ['cuda'] });
      return { session, provider: 'cuda' };
    } catch (err) {
      if (device === 'cuda') {
        throw new Error(
          `--device cuda was asked for but onnxruntime-node could not start its CUDA provider: ${(err as Error).message}\n` +
            'Install the CUDA provider (see README, "GPU") or run with --device cpu.',
        );
      }
    }
  }
  const session = await open(model, { ...base, executionProviders: ['cpu'] });
  return { session, provider: 'cpu' };
}

function open(model: string | Uint8Array, o: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o);
}

export { ort };
