/** Tiny ONNX graphs for the tests, written with onnx-proto. */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };
type Dim = number | string;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function vi(name: string, dims: Dim[]) {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function node(op: string, inputs: string[], outputs: string[], attribute: import('onnx-proto').onnx.IAttributeProto[] = []) {
  return { opType: op, input: inputs, output: outputs, name: `${op}_${outputs[0]}`, attribute };
}

function model(nodes: ReturnType<typeof node>[], inputs: ReturnType<typeof vi>[], outputs: ReturnType<typeof vi>[], init: import('onnx-proto').onnx.ITensorProto[]): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'avcurate-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'g', node: nodes, input: inputs, output: outputs, initializer: init },
  })).finish();
}

/**
 * Visual graph, input "pixels" [N,3,S,S]:
 *   feat = Relu(Conv1x1(pixels; W [2,3,1,1], B [2]))        -> [N,2,S,S]
 *   emb  = MatMul(Flatten(GlobalAveragePool(pixels)), M)     -> [N,5]  (M [3,5])
 */
export function visualGraph(S: number, W: number[], B: number[], M: number[]): Uint8Array {
  return model(
    [
      node('Conv', ['pixels', 'W', 'B'], ['feat_pre']),
      node('Relu', ['feat_pre'], ['feat']),
      node('GlobalAveragePool', ['pixels'], ['gap']),
      node('Flatten', ['gap'], ['flat']),
      node('MatMul', ['flat', 'M'], ['emb']),
    ],
    [vi('pixels', ['N', 3, S, S])],
    [vi('feat', ['N', 2, S, S]), vi('emb', ['N', 5])],
    [
      { name: 'W', dataType: FLOAT, dims: [2, 3, 1, 1], floatData: W },
      { name: 'B', dataType: FLOAT, dims: [2], floatData: B },
      { name: 'M', dataType: FLOAT, dims: [3, 5], floatData: M },
    ],
  );
}

/** Audio graph, input "mel" [N,1,96,64]: bands = ReduceMean over time -> [N,1,1,64]; peak = ReduceMax over all -> [N,1]. */
export function audioGraph(): Uint8Array {
  const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const int = (name: string, v: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  return model(
    [
      node('ReduceMean', ['mel'], ['bands'], [ints('axes', [2]), int('keepdims', 1)]),
      node('ReduceMax', ['mel'], ['peak'], [ints('axes', [1, 2, 3]), int('keepdims', 0)]),
    ],
    [vi('mel', ['N', 1, 96, 64])],
    [vi('bands', ['N', 1, 1, 64]), vi('peak', ['N'])],
    [],
  );
}
