/**
 * A tiny ONNX model builder: enough protobuf to describe a handful of operators (Gemm, Cast, TopK,
 * NonZero, ...) so the vector kernels can be built in code instead of shipping .onnx files or a
 * protobuf dependency. Only the fields we use are encoded; field numbers follow onnx/onnx.proto.
 */

/** ONNX TensorProto.DataType values we use. */
export const DType = { float: 1, float32: 1, int32: 6, int64: 7, bool: 9, float16: 10 } as const;
export type DTypeName = keyof typeof DType;

export type Dim = number | string;
export interface ValueInfo {
  name: string;
  type: DTypeName;
  /** Fixed sizes or symbolic names (e.g. 'n'). */
  shape: Dim[];
}
export type AttrValue = number | number[] | string | { float: number };
export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  domain?: string;
}
export interface Initializer {
  name: string;
  type: 'float' | 'int64';
  dims: number[];
  values: Float32Array | BigInt64Array;
}
export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers?: Initializer[];
  /** Default opset 17 (ai.onnx); onnxruntime 1.30 supports well beyond that. */
  opset?: number;
}

/** Serialise a graph to ONNX ModelProto bytes, ready for `createSession(bytes)`. */
export function buildModel(g: Graph): Uint8Array {
  const graph = new Writer();
  for (const n of g.nodes) graph.message(1, encodeNode(n));
  graph.string(2, g.name);
  for (const t of g.initializers ?? []) graph.message(5, encodeTensor(t));
  for (const v of g.inputs) graph.message(11, encodeValueInfo(v));
  for (const v of g.outputs) graph.message(12, encodeValueInfo(v));

  const opset = new Writer();
  opset.string(1, '');
  opset.varintField(2, g.opset ?? 17);
  const msOpset = new Writer();
  msOpset.string(1, 'com.microsoft');
  msOpset.varintField(2, 1);

  const model = new Writer();
  model.varintField(1, 8); // ir_version 8 pairs with opset 17
  model.string(2, 'mmcurate');
  model.message(7, graph.bytes());
  model.message(8, opset.bytes());
  model.message(8, msOpset.bytes());
  return model.bytes();
}

function encodeNode(n: Node): Uint8Array {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, `${n.op}_${n.outputs[0]}`);
  w.string(4, n.op);
  for (const [name, v] of Object.entries(n.attrs ?? {})) w.message(5, encodeAttr(name, v));
  if (n.domain) w.string(7, n.domain);
  return w.bytes();
}

function encodeAttr(name: string, v: AttrValue): Uint8Array {
  const w = new Writer();
  w.string(1, name);
  if (typeof v === 'number') {
    w.varintField(3, v);
    w.varintField(20, 2); // INT
  } else if (typeof v === 'string') {
    w.bytesField(4, new TextEncoder().encode(v));
    w.varintField(20, 3); // STRING
  } else if (Array.isArray(v)) {
    for (const x of v) w.varintField(8, x);
    w.varintField(20, 7); // INTS
  } else {
    w.float32Field(2, v.float);
    w.varintField(20, 1); // FLOAT
  }
  return w.bytes();
}

function encodeValueInfo(v: ValueInfo): Uint8Array {
  const shape = new Writer();
  for (const d of v.shape) {
    const dim = new Writer();
    if (typeof d === 'number') dim.varintField(1, d);
    else dim.string(2, d);
    shape.message(1, dim.bytes());
  }
  const tensor = new Writer();
  tensor.varintField(1, DType[v.type]);
  tensor.message(2, shape.bytes());
  const type = new Writer();
  type.message(1, tensor.bytes());
  const w = new Writer();
  w.string(1, v.name);
  w.message(2, type.bytes());
  return w.bytes();
}

function encodeTensor(t: Initializer): Uint8Array {
  const w = new Writer();
  for (const d of t.dims) w.varintField(1, d);
  w.varintField(2, DType[t.type]);
  w.string(8, t.name);
  // raw_data (field 9), little-endian, which is how typed arrays lay out on every platform Node runs on.
  w.bytesField(9, new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength));
  return w.bytes();
}

/** Minimal protobuf writer (varint, length-delimited and 32-bit fields). */
class Writer {
  private parts: number[] = [];
  private chunks: Uint8Array[] = [];

  private flush(): void {
    if (this.parts.length) {
      this.chunks.push(Uint8Array.from(this.parts));
      this.parts = [];
    }
  }
  private varint(v: number): void {
    // Non-negative integers only (sizes, enums, lengths): no zig-zag or negative encoding needed.
    let x = BigInt(v);
    if (x < 0n) x = BigInt.asUintN(64, x);
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }
  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  varintField(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }
  float32Field(field: number, v: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
  }
  bytesField(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.flush();
    this.chunks.push(b);
  }
  string(field: number, s: string): void {
    this.bytesField(field, new TextEncoder().encode(s));
  }
  message(field: number, b: Uint8Array): void {
    this.bytesField(field, b);
  }
  bytes(): Uint8Array {
    this.flush();
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
