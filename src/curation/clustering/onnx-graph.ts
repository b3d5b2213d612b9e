/**
 * A few helpers to build small ONNX graphs with onnx-proto (protobufjs classes), so the heavy
 * linear algebra of k-means runs as one GEMM in onnxruntime instead of loops in JS.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };

export const OPSET = 13;
export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

export type Dim = number | string;

export function valueInfo(name: string, elemType: number, dims: Dim[]): import('onnx-proto').onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

type AttrValue = number | number[] | string | { float: number };

function attribute(name: string, v: AttrValue): import('onnx-proto').onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INT, i: v };
}

/** A node; integer attributes as numbers, float attributes as { float: x }. */
export function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): import('onnx-proto').onnx.INodeProto {
  return {
    opType: op,
    input: inputs,
    output: outputs,
    name: `${op}_${outputs[0]}`,
    attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
  };
}

export function int64Const(name: string, values: number[]): import('onnx-proto').onnx.ITensorProto {
  return { name, dataType: INT64, dims: [values.length], int64Data: values };
}

export function floatConst(name: string, values: number[], dims: number[] = [values.length]): import('onnx-proto').onnx.ITensorProto {
  return { name, dataType: FLOAT, dims, floatData: values };
}

/** Serialise a graph into ONNX model bytes. */
export function buildModel(graph: {
  name: string;
  nodes: import('onnx-proto').onnx.INodeProto[];
  inputs: import('onnx-proto').onnx.IValueInfoProto[];
  outputs: import('onnx-proto').onnx.IValueInfoProto[];
  initializers?: import('onnx-proto').onnx.ITensorProto[];
}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'avcurate',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graph.name,
      node: graph.nodes,
      input: graph.inputs,
      output: graph.outputs,
      initializer: graph.initializers ?? [],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
