/** Tiny ONNX graphs for the tests, written with onnx-proto. */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };
type Dim = number | string;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

export function vi(name: string, dims: Dim[]) {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

export function node(op: string, inputs: string[], outputs: string[], attribute: import('onnx-proto').onnx.IAttributeProto[] = []) {
  return { opType: op, input: inputs, output: outputs, name: `${op}_${outputs[0]}`, attribute };
}

export function model(nodes: ReturnType<typeof node>[], inputs: ReturnType<typeof vi>[], outputs: ReturnType<typeof vi>[], init: import('onnx-proto').onnx.ITensorProto[]): Uint8Array {
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
export function visualGraph(S: number, W: number[], B: number[], M: number[], batch: Dim = 'N'): Uint8Array {
  return model(
    [
      node('Conv', ['pixels', 'W', 'B'], ['feat_pre']),
      node('Relu', ['feat_pre'], ['feat']),
      node('GlobalAveragePool', ['pixels'], ['gap']),
      node('Flatten', ['gap'], ['flat']),
      node('MatMul', ['flat', 'M'], ['emb']),
    ],
    [vi('pixels', [batch, 3, S, S])],
    [vi('feat', [batch, 2, S, S]), vi('emb', [batch, 5])],
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

export const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
export const int = (name: string, v: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
export const i64 = (name: string, v: number[]) => ({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [v.length], int64Data: v });
export const f32 = (name: string, dims: number[], v: number[]) => ({ name, dataType: FLOAT, dims, floatData: v });

/** Token graph: pixels [N,3,S,S] -> tokens [N, S*S, D] = pixel colours x M [3, D]; also flat [1, N*3*S*S] (a batch fixed inside the graph). */
export function tokenGraph(S: number, M: number[], D: number): Uint8Array {
  return model(
    [
      node('Reshape', ['pixels', 'shape3'], ['seq']),
      node('Transpose', ['seq'], ['seqT'], [ints('perm', [0, 2, 1])]),
      node('MatMul', ['seqT', 'M'], ['tokens']),
      node('Reshape', ['pixels', 'flatShape'], ['flat']),
    ],
    [vi('pixels', ['N', 3, S, S])],
    [vi('tokens', ['N', S * S, D]), vi('flat', [1, 'F'])],
    [i64('shape3', [0, 3, -1]), i64('flatShape', [1, -1]), f32('M', [3, D], M)],
  );
}

/** Video graph: video [N,3,T,S,S] -> feat = Conv3d 1x1x1 (W [C,3,1,1,1]) [N,C,T,S,S]; pooled = GAP -> [N,C]. */
export function videoGraph(T: number, S: number, W: number[], C: number): Uint8Array {
  return model(
    [
      node('Conv', ['video', 'W'], ['feat']),
      node('GlobalAveragePool', ['feat'], ['gap']),
      node('Flatten', ['gap'], ['pooled']),
    ],
    [vi('video', ['N', 3, T, S, S])],
    [vi('feat', ['N', C, T, S, S]), vi('pooled', ['N', C])],
    [f32('W', [C, 3, 1, 1, 1], W)],
  );
}

/** Waveform graph: wave [N, L] (L fixed when given) -> level = mean |x| [N,1], peak = max x [N,1]. */
export function waveGraph(L: Dim = 'L'): Uint8Array {
  return model(
    [
      node('Abs', ['wave'], ['absx']),
      node('ReduceMean', ['absx'], ['level'], [ints('axes', [1]), int('keepdims', 1)]),
      node('ReduceMax', ['wave'], ['peak'], [ints('axes', [1]), int('keepdims', 1)]),
    ],
    [vi('wave', ['N', L])],
    [vi('level', ['N', 1]), vi('peak', ['N', 1])],
    [],
  );
}
