/**
 * Score heads: small ONNX models over the image embeddings the score task has just computed (LAION's NSFW
 * detector is an MLP and its aesthetic predictor a linear layer over CLIP ViT-L/14 image embeddings). Each
 * head runs on the same batch as the encoder, one [n, dim] float32 tensor of L2-normalised embeddings, and
 * gives one float per image, written to the row's `head_scores` JSON (head name -> score), which
 * `filter --where "NAME < 0.5"` reads. docs/score.md says how to export LAION's heads to ONNX.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { createSession, ort, type Device } from '../onnx.js';

export interface HeadSpec {
  name: string;
  /** Absolute path of the .onnx file. */
  file: string;
}

interface LoadedHead {
  name: string;
  session: ort.InferenceSession;
  input: string;
  output: string;
}

/** `NAME=model.onnx` → its parts; the name must work as a field in a --where. */
export function parseHead(arg: string): HeadSpec {
  const eq = arg.indexOf('=');
  const name = eq > 0 ? arg.slice(0, eq) : '';
  const file = eq > 0 ? arg.slice(eq + 1) : '';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || !file) throw new UsageError(`--head ${arg}: expected NAME=model.onnx with NAME letters, digits and _ (it becomes the field filter reads), e.g. --head nsfw=nsfw.onnx`);
  if (!existsSync(file)) throw new UsageError(`--head ${arg}: no such file ${file} (docs/score.md says how to export LAION's heads to ONNX)`);
  return { name, file: path.resolve(file) };
}

/** Head name, file and content hash for the Parquet metadata and the manifest. */
export function describeHeads(heads: HeadSpec[]): { name: string; file: string; sha256: string }[] {
  return heads.map((h) => ({ name: h.name, file: path.basename(h.file), sha256: createHash('sha256').update(readFileSync(h.file)).digest('hex') }));
}

export class Heads {
  private constructor(private readonly heads: LoadedHead[], readonly dim: number) {}

  /**
   * Opens every head and checks it takes `dim`-wide embeddings and gives one value per row; a mismatch is a
   * usage error naming the head, its input shape and the encoder's dimension.
   */
  static async load(specs: HeadSpec[], dim: number, device: Device): Promise<Heads> {
    const loaded: LoadedHead[] = [];
    for (const h of specs) {
      let session: ort.InferenceSession;
      try {
        ({ session } = await createSession(h.file, { device }));
      } catch (err) {
        throw new UsageError(`--head ${h.name}=${h.file}: onnxruntime cannot load it: ${(err as Error).message}`);
      }
      const meta = session.inputMetadata[0];
      if (session.inputNames.length !== 1 || !meta) throw new UsageError(`--head ${h.name}: a head takes one input, a [batch, dim] float32 tensor of image embeddings; ${h.file} has ${session.inputNames.length}`);
      const shape = meta.isTensor ? meta.shape : [];
      const last = shape[shape.length - 1];
      if (typeof last === 'number' && last !== dim) {
        throw new UsageError(`--head ${h.name}: ${path.basename(h.file)} takes ${last}-dimensional embeddings (input ${meta.name} [${shape.join(', ')}]) but the encoder gives ${dim}-dimensional ones; a head must be trained on the same CLIP model (LAION's heads: ViT-L/14, 768)`);
      }
      if (meta.isTensor && meta.type !== 'float32') throw new UsageError(`--head ${h.name}: its input is ${meta.type}; a head takes float32 embeddings`);
      loaded.push({ name: h.name, session, input: session.inputNames[0]!, output: session.outputNames[0]! });
    }
    return new Heads(loaded, dim);
  }

  /** One score per head per embedding, in order; a head that gives more than one value per row is an error. */
  async run(embeddings: Float32Array[]): Promise<Record<string, number>[]> {
    const n = embeddings.length;
    const out: Record<string, number>[] = embeddings.map(() => ({}));
    if (n === 0) return out;
    const data = new Float32Array(n * this.dim);
    embeddings.forEach((e, i) => data.set(e, i * this.dim));
    for (const h of this.heads) {
      const res = await h.session.run({ [h.input]: new ort.Tensor('float32', data, [n, this.dim]) });
      const t = res[h.output]!;
      const values = t.data as Float32Array;
      if (values.length !== n) throw new UsageError(`--head ${h.name}: gave ${values.length} values for ${n} embeddings (output ${h.output} [${t.dims.join(', ')}]); a head gives one score per image`);
      for (let i = 0; i < n; i++) out[i]![h.name] = values[i]!;
    }
    return out;
  }

  async close(): Promise<void> {
    for (const h of this.heads) await h.session.release();
  }
}
