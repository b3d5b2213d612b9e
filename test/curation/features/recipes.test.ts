/**
 * The export recipes of docs/models.md (scripts/export_*.py): small versions of a VGGish-style
 * CNN, a CLIP-style image tower, a SlowFast-style two-pathway wrapper and an AST-style token model
 * are exported from PyTorch with the configs the scripts write, extracted by avcurate, and the
 * stored layers compared with PyTorch's own outputs on the same inputs (pooled as the config
 * says). Where Debian's PyTorch is absent those tests are skipped with a message, and stand-in
 * graphs of the same input and output shapes (written with onnx-proto, reference computed in JS)
 * check the same configs.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/config/load.js';
import { buildExtractors } from '../../../src/curation/features/stage.js';
import { OnnxExtractor, reduceOutput, type OnnxPrepared, type OutputReduction } from '../../../src/curation/features/onnx.js';
import { poolRows, type Pooling } from '../../../src/curation/features/extractor.js';
import { Rng } from '../../../src/runtime/random.js';
import type { DecodedClip } from '../../../src/media/types.js';
import { model, node, vi, f32, i64 } from './onnx-graphs.js';

const PY = '/usr/bin/python3';
const scripts = fileURLToPath(new URL('../../../scripts/', import.meta.url));
// The PyTorch half spawns python with torch a few times (tens of seconds): it runs under
// `npm run test:recipes` (AVCURATE_RECIPES=1), and is skipped with a message where torch is absent.
const wanted = process.env.AVCURATE_RECIPES === '1';
const hasTorch = wanted && spawnSync(PY, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
if (!wanted) {
  process.stderr.write('recipes.test: the PyTorch export recipes run with "npm run test:recipes"; here only their onnx-proto stand-ins run\n');
} else if (!hasTorch) {
  process.stderr.write('recipes.test: PyTorch is not installed for /usr/bin/python3 (apt-get install python3-torch python3-numpy): the PyTorch export recipes are SKIPPED; their onnx-proto stand-ins run\n');
}

function fakeClip(rng: Rng, T: number, H: number, W: number, seconds: number): DecodedClip {
  const frames = new Uint8Array(T * H * W * 3);
  for (let i = 0; i < frames.length; i++) frames[i] = rng.int(256);
  const sr = 16000;
  const audio = new Float32Array(Math.round(seconds * sr));
  for (let i = 0; i < audio.length; i++) audio[i] = 0.3 * Math.sin(i * (0.05 + 0.0001 * (i % 700))) + 0.05 * rng.normal();
  return {
    file: 'mem', start: 0, seconds, frames, shape: [T, H, W, 3], fps: T / seconds, audio, sampleRate: sr,
    decodedFrames: T, decodedSamples: audio.length, paddedFrames: 0, paddedSamples: 0, trimmedFrames: 0, trimmedSamples: 0,
    missingAudio: false, missingVideo: false,
  };
}

/** Write a float32 C-order .npy file. */
function writeNpy(file: string, data: Float32Array, shape: number[]): void {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

/** Read a float32 little-endian C-order .npy file. */
function readNpy(file: string): { data: Float32Array; shape: number[] } {
  const buf = readFileSync(file);
  const len = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + len).toString('latin1');
  if (!/'descr': '<f4'/.test(header) || /'fortran_order': True/.test(header)) throw new Error(`${file}: not a C-order float32 .npy (${header})`);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const bytes = buf.subarray(10 + len);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { data, shape };
}

/** Pool an output's per-item reference tensor [items, ...] as the extractor's settings say (the stored layer). */
function pooledReference(ref: { data: Float32Array; shape: number[] }, o: OutputReduction & { pool: Pooling }, views: number, viewPool: string): Float32Array {
  const r = reduceOutput(ref.data, ref.shape, o);
  const perView = r.items.length / views;
  const poolOf = (from: number, to: number) => {
    const flat = new Float32Array((to - from) * r.rows * r.width);
    for (let k = from; k < to; k++) flat.set(r.items[k], (k - from) * r.rows * r.width);
    return poolRows(flat, (to - from) * r.rows, r.width, o.pool);
  };
  if (viewPool !== 'concat' || views === 1) return poolOf(0, r.items.length);
  const parts = Array.from({ length: views }, (_, v) => poolOf(v * perView, (v + 1) * perView));
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

function expectClose(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  expect(worst / scale, `${label}: largest difference ${worst} (values up to ${scale})`).toBeLessThan(2e-4);
}

const RECIPES = [
  { name: 'vggish', modality: 'audio' as const, outputs: ['conv4', 'embedding'], clip: [2, 8, 8, 3.5] as const },
  { name: 'clip_image', modality: 'visual' as const, outputs: ['tokens', 'embedding'], clip: [12, 40, 48, 1.5] as const },
  { name: 'slowfast', modality: 'visual' as const, outputs: ['slow', 'fast', 'fused'], clip: [30, 36, 44, 3.75] as const },
  { name: 'ast', modality: 'audio' as const, outputs: ['tokens', 'pooled'], clip: [2, 8, 8, 2.5] as const },
];

/** Run the extractor on one clip and compare each stored layer with `reference(output, inputs)`. */
async function checkAgainst(ex: OnnxExtractor, rng: Rng, clipShape: readonly [number, number, number, number], reference: (output: string, input: OnnxPrepared) => { data: Float32Array; shape: number[] } | Promise<{ data: Float32Array; shape: number[] }>) {
  const [T, H, W, secs] = clipShape;
  const clip = fakeClip(rng, T, H, W, secs);
  const prepared = ex.prepare(clip);
  expect(prepared.count).toBeGreaterThan(1); // several frames / patches / views per clip
  const [stored] = await ex.run([prepared]);
  const settings = ex.settings as { outputs: Array<OutputReduction & { output: string; pool: Pooling }>; views?: number; viewPool?: string };
  for (const [j, o] of settings.outputs.entries()) {
    const ref = await reference(o.output, prepared);
    expect(ref.shape[0]).toBe(prepared.count);
    const want = pooledReference(ref, o, settings.views ?? 1, settings.viewPool ?? 'mean');
    expect(stored[j].length).toBe(ex.layers[j].dim);
    expectClose(stored[j], want, `${ex.name} ${o.output}`);
  }
}

describe.skipIf(!hasTorch)('export recipes (PyTorch → ONNX), stored layers against PyTorch', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-recipes-'));
  for (const r of RECIPES) {
    it(`${r.name}: exported with a dynamic batch, extracted with the written config, matches PyTorch`, async () => {
      const script = path.join(scripts, `export_${r.name}.py`);
      const exp = spawnSync(PY, [script, '--out', dir, '--tiny', '--seed', '3'], { encoding: 'utf8' });
      expect(exp.status, exp.stderr).toBe(0);
      const cfg = loadConfig(path.join(dir, `${r.name}.yaml`));
      const set = await buildExtractors(cfg.features, { baseDir: dir, descriptorWorkers: 0 });
      try {
        const ex = set[r.modality][0] as OnnxExtractor;
        expect(ex.layers.length).toBe(r.outputs.length);
        await checkAgainst(ex, new Rng(5), r.clip, (output, input) => {
          const inFile = path.join(dir, `${r.name}.input.npy`);
          if (output === r.outputs[0]) {
            writeNpy(inFile, input.items, [input.count, ...input.itemShape]);
            const ref = spawnSync(PY, [script, '--out', dir, '--tiny', '--seed', '3', '--reference', inFile], { encoding: 'utf8' });
            expect(ref.status, ref.stderr).toBe(0);
          }
          return readNpy(path.join(dir, `${r.name}.${output}.ref.npy`));
        });
      } finally {
        await set.dispose();
      }
    }, 120_000);
  }
});

/**
 * Stand-ins of the recipes' tiny models (same input and output shapes), written with onnx-proto:
 * every output is g · W_k placed on its channel axis plus a fixed random tensor P_k, where g is
 * the mean of each input item over all but its first axis. The reference is computed here in JS.
 */
describe('export recipe stand-ins (onnx-proto, same shapes), stored layers against a JS reference', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-standins-'));
  const rng = new Rng(8);
  const stand = [
    { name: 'vggish', input: [1, 96, 64], outs: { conv4: { shape: [16, 6, 4], c: 0 }, embedding: { shape: [16], c: 0 } },
      opts: { modality: 'audio' as const, audioInput: 'logmel' as const, logmelLayout: 'NCHW' as const, patchSeconds: 0.96,
        outputs: [{ output: 'conv4', layer: 'vggish_conv4' }, { output: 'embedding', layer: 'vggish_embedding', pool: 'meanstd' as const }] } },
    { name: 'clip_image', input: [3, 32, 32], outs: { tokens: { shape: [17, 16], c: 1 }, embedding: { shape: [8], c: 0 } },
      opts: { modality: 'visual' as const, layout: 'NCHW' as const, frames: 8, preset: 'clip' as const, crop: 32,
        outputs: [{ output: 'tokens', layer: 'clip_tokens', axes: 'NLC', tokens: 'both' as const }, { output: 'embedding', layer: 'clip_embedding' }] } },
    { name: 'slowfast', input: [3, 8, 32, 32], outs: { slow: { shape: [16, 2, 4, 4], c: 0 }, fast: { shape: [4, 8, 4, 4], c: 0 }, fused: { shape: [20], c: 0 } },
      opts: { modality: 'visual' as const, layout: 'NCTHW' as const, frames: 8, frameStride: 2, views: 2, preset: 'kinetics' as const, crop: 32,
        outputs: [{ output: 'slow', layer: 'sf_slow', pool: 'meanstd' as const }, { output: 'fast', layer: 'sf_fast' }, { output: 'fused', layer: 'sf_fused' }] } },
    { name: 'ast', input: [96, 32], outs: { tokens: { shape: [20, 16], c: 1 }, pooled: { shape: [16], c: 0 } },
      opts: { modality: 'audio' as const, audioInput: 'logmel' as const, logmelLayout: 'NHW' as const, melBands: 32, melRange: [20, 8000] as [number, number], patchSeconds: 0.96, melMean: -4.2677393, melStd: 9.1379948,
        outputs: [{ output: 'tokens', layer: 'ast_tokens', axes: 'NLC', tokens: 'both' as const, prefixTokens: 2 }, { output: 'pooled', layer: 'ast_pooled' }] } },
  ];
  for (const s of stand) {
    it(`${s.name}: stand-in of the same shapes`, async () => {
      const G = s.input[0];
      const nodes = [node('GlobalAveragePool', ['x'], ['gap']), node('Flatten', ['gap'], ['g'])];
      const init = [];
      const outputs = [];
      const params: Record<string, { W: number[]; P: number[]; C: number }> = {};
      for (const [name, o] of Object.entries(s.outs) as Array<[string, { shape: number[]; c: number }]>) {
        const C = o.shape[o.c];
        const W = Array.from({ length: G * C }, () => rng.normal());
        const P = Array.from({ length: o.shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
        params[name] = { W, P, C };
        const place = o.shape.map((_, i) => (i === o.c ? C : 1));
        nodes.push(node('MatMul', ['g', `W_${name}`], [`h_${name}`]), node('Reshape', [`h_${name}`, `s_${name}`], [`r_${name}`]), node('Add', [`r_${name}`, `P_${name}`], [name]));
        init.push(f32(`W_${name}`, [G, C], W), i64(`s_${name}`, [0, ...place]), f32(`P_${name}`, [1, ...o.shape], P));
        outputs.push(vi(name, ['N', ...o.shape]));
      }
      const file = path.join(dir, `${s.name}.onnx`);
      writeFileSync(file, model(nodes, [vi('x', ['N', ...s.input])], outputs, init));
      const ex = await OnnxExtractor.create({ name: s.name, model: file, ...s.opts } as Parameters<typeof OnnxExtractor.create>[0]);
      try {
        const r = RECIPES.find((x) => x.name === s.name)!;
        await checkAgainst(ex, new Rng(6), r.clip, (output, input) => {
          const o = s.outs[output as keyof typeof s.outs] as { shape: number[]; c: number };
          const { W, P, C } = params[output];
          const per = input.itemShape.reduce((a, b) => a * b, 1);
          const inner = per / G;
          const size = P.length;
          const data = new Float32Array(input.count * size);
          const strideC = o.shape.slice(o.c + 1).reduce((a, b) => a * b, 1);
          for (let n = 0; n < input.count; n++) {
            const g = new Float64Array(G);
            for (let i = 0; i < G; i++) {
              let acc = 0;
              for (let j = 0; j < inner; j++) acc += input.items[n * per + i * inner + j];
              g[i] = acc / inner;
            }
            for (let idx = 0; idx < size; idx++) {
              const c = Math.floor(idx / strideC) % C;
              let h = 0;
              for (let i = 0; i < G; i++) h += g[i] * W[i * C + c];
              data[n * size + idx] = h + P[idx];
            }
          }
          return { data, shape: [input.count, ...o.shape] };
        });
      } finally {
        await ex.dispose();
      }
    }, 60_000);
  }
});
