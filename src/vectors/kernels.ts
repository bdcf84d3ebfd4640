/**
 * The similarity kernels of the vector engine (k-means, the coreset, deduplication), as small ONNX graphs run by onnxruntime (MLAS sgemm
 * on the CPU, cuBLAS under CUDA): nearest centroid by inner product (k-means assignment), pairs over
 * a cosine threshold inside a cluster (deduplication), and a plain product (k-means++ seeding).
 * Reductions happen inside the graph so the n x k similarity matrix never crosses into JavaScript.
 */
import { createSession, ort, type Device } from '../onnx.js';
import type { NpyArray } from '../util/npy.js';
import { buildModel, type Initializer, type Node, type ValueInfo } from './onnx-graph.js';

export type EmbDtype = 'float16' | 'float32';

export interface KernelOptions {
  device?: Device;
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
}

/** Rows per onnxruntime call: large enough for sgemm to run at speed, small enough to bound memory. */
export const CHUNK_ROWS = 4096;

function dtypeOf(x: NpyArray): EmbDtype {
  return x instanceof Uint16Array ? 'float16' : 'float32';
}

function tensor(x: NpyArray, dims: number[]): ort.Tensor {
  return new ort.Tensor(dtypeOf(x), x, dims);
}

/** Graph nodes turning input `name` into float32 `out` (a Cast for float16 input). */
function asFloat(name: string, out: string, input: EmbDtype): Node[] {
  return input === 'float16' ? [{ op: 'Cast', inputs: [name], outputs: [out], attrs: { to: 1 } }] : [{ op: 'Identity', inputs: [name], outputs: [out] }];
}

/** The kernel's session for graph `model`, on the device the options ask for (CPU by default). */
function openKernel(model: Uint8Array, opts: KernelOptions): ReturnType<typeof createSession> {
  return createSession(model, { device: opts.device ?? 'cpu', intraOpThreads: opts.threads, spinning: false });
}

/** What every kernel shares: its onnxruntime session, released when done. */
abstract class Kernel {
  protected constructor(protected readonly session: ort.InferenceSession) {}

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Top-1 inner product of rows against a fixed set of centroids. The centroids are baked into the
 * graph as an initializer, which lets onnxruntime pre-pack them for sgemm once per session.
 */
export class NearestCentroid extends Kernel {
  private constructor(
    session: ort.InferenceSession,
    readonly k: number,
    readonly dim: number,
    readonly input: EmbDtype,
    /** Results per row: 1, or 2 (best then runner-up, interleaved). */
    readonly top: number,
    readonly provider: 'cuda' | 'cpu',
  ) {
    super(session);
  }

  /**
   * `centroids` is k x d row-major float32. `top` 2 also returns the runner-up (TopK), which
   * k-means' bounds need; 1 uses ArgMax + ReduceMax.
   */
  static async create(centroids: Float32Array, k: number, d: number, input: EmbDtype, opts: KernelOptions & { top?: 1 | 2; stats?: RowStatsKind } = {}): Promise<NearestCentroid> {
    if (centroids.length !== k * d) throw new RangeError(`centroids hold ${centroids.length} values, not ${k} x ${d}`);
    const top = Math.min(opts.top ?? 1, k);
    const ct = new Float32Array(k * d); // d x k, so the graph is a plain MatMul
    for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) ct[j * k + c] = centroids[c * d + j];
    const reduce: Node[] =
      top === 1
        ? [
            { op: 'ReduceMax', inputs: ['s'], outputs: ['best'], attrs: { axes: [1], keepdims: 0 } },
            { op: 'ArgMax', inputs: ['s'], outputs: ['label64'], attrs: { axis: 1, keepdims: 0 } },
          ]
        : [{ op: 'TopK', inputs: ['s', 'kk'], outputs: ['best', 'label64'], attrs: { axis: 1 } }];
    const shape = top === 1 ? ['n'] : ['n', top];
    const st = statsGraph(input, opts.stats ?? 'none');
    const model = buildModel({
      name: 'nearest_centroid',
      nodes: [
        ...asFloat('x', 'xf', input),
        { op: 'MatMul', inputs: ['xf', 'ct'], outputs: ['s'] },
        ...reduce,
        { op: 'Cast', inputs: ['label64'], outputs: ['label'], attrs: { to: 6 } },
        ...st.nodes,
      ],
      inputs: [{ name: 'x', type: input, shape: ['n', d] }, ...st.inputs(d)],
      outputs: [{ name: 'best', type: 'float', shape }, { name: 'label', type: 'int32', shape }, ...st.outputs],
      initializers: [
        { name: 'ct', type: 'float', dims: [d, k], values: ct },
        ...(top === 1 ? [] : [{ name: 'kk', type: 'int64' as const, dims: [1], values: BigInt64Array.from([BigInt(top)]) }]),
        ...st.initializers,
      ],
    });
    const { session, provider } = await openKernel(model, opts);
    return new NearestCentroid(session, k, d, input, top, provider);
  }

  /**
   * For each of `rows` rows of `x`: the index of the centroid with the largest inner product (first
   * on ties) into `label`, and that inner product into `best` (not divided by the row's norm).
   * With `top` 2, `label` and `best` get two entries per row (best, runner-up).
   */
  async search(x: NpyArray, rows: number, label: Int32Array, best: Float32Array): Promise<void> {
    const d = this.dim;
    if (dtypeOf(x) !== this.input) throw new TypeError(`kernel built for ${this.input} input, got ${dtypeOf(x)}`);
    for (let r0 = 0; r0 < rows; r0 += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, rows - r0);
      const out = await this.session.run({ x: tensor(x.subarray(r0 * d, (r0 + n) * d), [n, d]) });
      label.set(out.label.data as Int32Array, r0 * this.top);
      best.set(out.best.data as Float32Array, r0 * this.top);
    }
  }

  /**
   * One chunk (at most CHUNK_ROWS rows) with the row statistics the kernel was built with, in the
   * same native pass: label, best inner product, squared norms (and x·t for a paired kernel).
   */
  async run(x: NpyArray, rows: number, t?: NpyArray): Promise<{ label: Int32Array; best: Float32Array } & RowStatsOut> {
    const d = this.dim;
    const feeds: Record<string, ort.Tensor> = { x: tensor(x.subarray(0, rows * d), [rows, d]) };
    if (t) feeds.t = tensor(t.subarray(0, rows * d), [rows, d]);
    const out = await this.session.run(feeds);
    return {
      label: out.label.data as Int32Array,
      best: out.best.data as Float32Array,
      ssx: out.ssx?.data as Float32Array | undefined,
      sst: out.sst?.data as Float32Array | undefined,
      dot: out.dot?.data as Float32Array | undefined,
    };
  }

}

/**
 * What k-means' Yinyang bounds need from one sgemm over contiguous groups of `size` centroids (the last group
 * padded): the best inner product in every group and its index there, and the runner-up inside the winning
 * group. The group maxima are a ReduceMax/ArgMax over a [n, groups, size] view; the runner-up comes from the
 * winner's group alone (gathered, its winner masked, reduced), so no TopK runs over the n x groups small
 * slices, which cost onnxruntime more than the reductions and the [n, size] gather together. Padding columns
 * carry a -1e30 bias, so they never win.
 */
export class GroupedNearest extends Kernel {
  private constructor(
    session: ort.InferenceSession,
    readonly k: number,
    readonly dim: number,
    readonly input: EmbDtype,
    readonly groups: number,
    readonly size: number,
  ) {
    super(session);
  }

  static async create(centroids: Float32Array, k: number, d: number, input: EmbDtype, groups: number, opts: KernelOptions = {}): Promise<GroupedNearest> {
    const size = Math.ceil(k / groups);
    const t = Math.ceil(k / size);
    const kp = t * size;
    const ct = new Float32Array(kp * d);
    for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) ct[j * kp + c] = centroids[c * d + j];
    const padded = kp > k;
    const bias = new Float32Array(kp);
    for (let c = k; c < kp; c++) bias[c] = -1e30;
    const i64 = (name: string, values: bigint[]): Initializer => ({ name, type: 'int64', dims: [values.length], values: BigInt64Array.from(values) });
    const model = buildModel({
      name: 'grouped_nearest',
      nodes: [
        ...asFloat('x', 'xf', input),
        { op: 'MatMul', inputs: ['xf', 'ct'], outputs: [padded ? 's0' : 's'] },
        ...(padded ? [{ op: 'Add', inputs: ['s0', 'bias'], outputs: ['s'] }] : []),
        { op: 'Reshape', inputs: ['s', 'shape'], outputs: ['s3'] },
        { op: 'ReduceMax', inputs: ['s3'], outputs: ['best'], attrs: { axes: [2], keepdims: 0 } },
        { op: 'ArgMax', inputs: ['s3'], outputs: ['arg'], attrs: { axis: 2, keepdims: 0 } },
        { op: 'Cast', inputs: ['arg'], outputs: ['label'], attrs: { to: 6 } },
        // The winning group (first on ties, as the caller picks it) and the runner-up inside it.
        { op: 'ArgMax', inputs: ['best'], outputs: ['win'], attrs: { axis: 1, keepdims: 1 } },
        { op: 'Unsqueeze', inputs: ['win', 'axis2'], outputs: ['win3'] },
        { op: 'Expand', inputs: ['win3', 'groupShape'], outputs: ['widx'] },
        { op: 'GatherElements', inputs: ['s3', 'widx'], outputs: ['wrow'], attrs: { axis: 1 } },
        { op: 'GatherElements', inputs: ['arg', 'win'], outputs: ['warg'], attrs: { axis: 1 } },
        { op: 'OneHot', inputs: ['warg', 'depth', 'maskValues'], outputs: ['mask'], attrs: { axis: -1 } },
        { op: 'Add', inputs: ['wrow', 'mask'], outputs: ['others'] },
        { op: 'ReduceMax', inputs: ['others'], outputs: ['runner'], attrs: { axes: [1, 2], keepdims: 0 } },
      ],
      inputs: [{ name: 'x', type: input, shape: ['n', d] }],
      outputs: [
        { name: 'best', type: 'float', shape: ['n', t] },
        { name: 'label', type: 'int32', shape: ['n', t] },
        { name: 'runner', type: 'float', shape: ['n'] },
      ],
      initializers: [
        { name: 'ct', type: 'float', dims: [d, kp], values: ct },
        ...(padded ? [{ name: 'bias', type: 'float' as const, dims: [kp], values: bias }] : []),
        i64('shape', [0n, BigInt(t), BigInt(size)]),
        i64('axis2', [2n]),
        i64('groupShape', [1n, 1n, BigInt(size)]),
        { name: 'depth', type: 'int64', dims: [], values: BigInt64Array.from([BigInt(size)]) },
        // OneHot's [off, on] values: the winner itself is pushed out of the runner-up's reach.
        { name: 'maskValues', type: 'float', dims: [2], values: Float32Array.from([0, -1e30]) },
      ],
    });
    const { session } = await openKernel(model, opts);
    return new GroupedNearest(session, k, d, input, t, size);
  }

  /**
   * Rows of `x` (at most CHUNK_ROWS): per row and group the best inner product and its index inside the group
   * (`groups` values each), and per row the runner-up inside the winning group (-1e30 when the group holds only
   * the winner).
   */
  async run(x: NpyArray, rows: number): Promise<{ best: Float32Array; label: Int32Array; runner: Float32Array }> {
    const d = this.dim;
    const out = await this.session.run({ x: tensor(x.subarray(0, rows * d), [rows, d]) });
    return { best: out.best.data as Float32Array, label: out.label.data as Int32Array, runner: out.runner.data as Float32Array };
  }
}

/** Row statistics a kernel can add: none, squared norms of x, or also of t and x·t (image/text pairs). */
export type RowStatsKind = 'none' | 'x' | 'xt';
export interface RowStatsOut {
  ssx?: Float32Array;
  sst?: Float32Array;
  dot?: Float32Array;
}

/** Graph pieces computing row statistics from 'xf' (already float32) and input 't'. */
function statsGraph(input: EmbDtype, kind: RowStatsKind): { nodes: Node[]; inputs: (d: number) => ValueInfo[]; outputs: ValueInfo[]; initializers: Initializer[] } {
  if (kind === 'none') return { nodes: [], inputs: () => [], outputs: [], initializers: [] };
  const nodes: Node[] = [{ op: 'ReduceSumSquare', inputs: ['xf'], outputs: ['ssx'], attrs: { axes: [1], keepdims: 0 } }];
  const outputs: ValueInfo[] = [{ name: 'ssx', type: 'float', shape: ['n'] }];
  if (kind === 'x') return { nodes, inputs: () => [], outputs, initializers: [] };
  nodes.push(
    ...asFloat('t', 'tf', input),
    { op: 'ReduceSumSquare', inputs: ['tf'], outputs: ['sst'], attrs: { axes: [1], keepdims: 0 } },
    { op: 'Mul', inputs: ['xf', 'tf'], outputs: ['xt'] },
    { op: 'ReduceSum', inputs: ['xt', 'axis1'], outputs: ['dot'], attrs: { keepdims: 0 } },
  );
  outputs.push({ name: 'sst', type: 'float', shape: ['n'] }, { name: 'dot', type: 'float', shape: ['n'] });
  return {
    nodes,
    inputs: (d) => [{ name: 't', type: input, shape: ['n', d] }],
    outputs,
    initializers: [{ name: 'axis1', type: 'int64', dims: [1], values: BigInt64Array.from([1n]) }],
  };
}

export interface Edges {
  /** Row in block a. */
  i: Int32Array;
  /** Row in block b. */
  j: Int32Array;
  /** Cosine similarity of the pair. */
  sim: Float32Array;
}

/**
 * Pairs of rows (one from block a, one from block b) whose cosine is over a threshold. Rows are fed
 * raw with their inverse norms, so float16 inputs are used exactly as stored. Only the pairs come
 * back (NonZero inside the graph), not the block's similarity matrix.
 */
export class PairKernel extends Kernel {
  private readonly thr = new Float32Array(1);
  private constructor(
    session: ort.InferenceSession,
    readonly dim: number,
    readonly input: EmbDtype,
    /** true: cos >= threshold (SemDeDup); false: cos > threshold (Bunny). */
    readonly inclusive: boolean,
  ) {
    super(session);
  }

  static async create(d: number, input: EmbDtype, inclusive: boolean, opts: KernelOptions = {}): Promise<PairKernel> {
    const model = buildModel({
      name: 'pairs_over_threshold',
      nodes: [
        ...asFloat('a', 'af', input),
        ...asFloat('b', 'bf', input),
        { op: 'Gemm', inputs: ['af', 'bf'], outputs: ['s0'], attrs: { transB: 1 } },
        { op: 'Mul', inputs: ['s0', 'ia'], outputs: ['s1'] },
        { op: 'Mul', inputs: ['s1', 'ib'], outputs: ['s'] },
        inclusive
          ? { op: 'GreaterOrEqual', inputs: ['s', 'thr'], outputs: ['m'] }
          : { op: 'Greater', inputs: ['s', 'thr'], outputs: ['m'] },
        { op: 'NonZero', inputs: ['m'], outputs: ['nz'] },
        { op: 'Transpose', inputs: ['nz'], outputs: ['nzt'], attrs: { perm: [1, 0] } },
        { op: 'GatherND', inputs: ['s', 'nzt'], outputs: ['sim'] },
        { op: 'Cast', inputs: ['nz'], outputs: ['ij'], attrs: { to: 6 } },
      ],
      inputs: [
        { name: 'a', type: input, shape: ['m1', d] },
        { name: 'b', type: input, shape: ['m2', d] },
        { name: 'ia', type: 'float', shape: ['m1', 1] },
        { name: 'ib', type: 'float', shape: [1, 'm2'] },
        { name: 'thr', type: 'float', shape: [] },
      ],
      outputs: [
        { name: 'ij', type: 'int32', shape: [2, 'e'] },
        { name: 'sim', type: 'float', shape: ['e'] },
      ],
    });
    const { session } = await openKernel(model, opts);
    return new PairKernel(session, d, input, inclusive);
  }

  /** Pairs between `aRows` rows of `a` and `bRows` rows of `b`, with their inverse L2 norms. */
  async edges(a: NpyArray, aRows: number, aInv: Float32Array, b: NpyArray, bRows: number, bInv: Float32Array, threshold: number): Promise<Edges> {
    const d = this.dim;
    this.thr[0] = threshold;
    const out = await this.session.run({
      a: tensor(a.subarray(0, aRows * d), [aRows, d]),
      b: tensor(b.subarray(0, bRows * d), [bRows, d]),
      ia: new ort.Tensor('float32', aInv.subarray(0, aRows), [aRows, 1]),
      ib: new ort.Tensor('float32', bInv.subarray(0, bRows), [1, bRows]),
      thr: new ort.Tensor('float32', this.thr, []),
    });
    const ij = out.ij.data as Int32Array;
    const e = ij.length / 2;
    return { i: ij.subarray(0, e), j: ij.subarray(e), sim: out.sim.data as Float32Array };
  }

}

/** x (n x d) times yᵀ (y: m x d, float32) as an n x m float32 matrix; for small m (k-means++ seeding). */
export class ProductKernel extends Kernel {
  private constructor(
    session: ort.InferenceSession,
    readonly dim: number,
    readonly input: EmbDtype,
  ) {
    super(session);
  }

  static async create(d: number, input: EmbDtype, opts: KernelOptions = {}): Promise<ProductKernel> {
    const model = buildModel({
      name: 'product',
      nodes: [...asFloat('x', 'xf', input), { op: 'Gemm', inputs: ['xf', 'y'], outputs: ['s'], attrs: { transB: 1 } }],
      inputs: [
        { name: 'x', type: input, shape: ['n', d] },
        { name: 'y', type: 'float', shape: ['m', d] },
      ],
      outputs: [{ name: 's', type: 'float', shape: ['n', 'm'] }],
    });
    const { session } = await openKernel(model, opts);
    return new ProductKernel(session, d, input);
  }

  async product(x: NpyArray, rows: number, y: Float32Array, m: number): Promise<Float32Array> {
    const d = this.dim;
    const out = await this.session.run({ x: tensor(x.subarray(0, rows * d), [rows, d]), y: new ort.Tensor('float32', y.subarray(0, m * d), [m, d]) });
    return out.s.data as Float32Array;
  }

}

/**
 * Per-row statistics of a chunk in one native pass: squared norms of x (and of t), and the dot
 * product x·t — the image/text embedding pair's norms and raw CLIP score. NaN/Inf propagate, which
 * is how invalid rows are found.
 */
export class RowStats extends Kernel {
  private constructor(
    session: ort.InferenceSession,
    readonly dim: number,
    readonly paired: boolean,
  ) {
    super(session);
  }

  static async create(d: number, input: EmbDtype, paired: boolean, opts: KernelOptions = {}): Promise<RowStats> {
    const st = statsGraph(input, paired ? 'xt' : 'x');
    const model = buildModel({
      name: 'row_stats',
      nodes: [...asFloat('x', 'xf', input), ...st.nodes],
      inputs: [{ name: 'x', type: input, shape: ['n', d] }, ...st.inputs(d)],
      outputs: st.outputs,
      initializers: st.initializers,
    });
    const { session } = await openKernel(model, opts);
    return new RowStats(session, d, paired);
  }

  async run(x: NpyArray, rows: number, t?: NpyArray): Promise<RowStatsOut & { ssx: Float32Array }> {
    const d = this.dim;
    const feeds: Record<string, ort.Tensor> = { x: tensor(x.subarray(0, rows * d), [rows, d]) };
    if (this.paired) {
      if (!t) throw new TypeError('paired RowStats needs t');
      feeds.t = tensor(t.subarray(0, rows * d), [rows, d]);
    }
    const out = await this.session.run(feeds);
    return { ssx: out.ssx.data as Float32Array, sst: out.sst?.data as Float32Array | undefined, dot: out.dot?.data as Float32Array | undefined };
  }

}
