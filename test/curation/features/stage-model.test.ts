/**
 * Issue 15, stage side: a broken model stops the stage without writing a shard; the stored layers
 * are printed before extraction; the decode size follows what the extractors need.
 */
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthesize } from '../../../src/media/synth.js';
import { parseConfig } from '../../../src/config/load.js';
import { buildExtractors, featuresConfigHash, resolveDecode, runExtract, type ExtractorSet } from '../../../src/curation/features/stage.js';
import { ExtractorFatalError, type Extractor } from '../../../src/curation/features/extractor.js';
import { listFeatureShards } from '../../../src/curation/features/store.js';
import type { ClipRecord } from '../../../src/curation/manifest/types.js';
import { Rng } from '../../../src/runtime/random.js';
import { visualGraph } from './onnx-graphs.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-stage-model-'));
let records: ClipRecord[] = [];

function run(name: string, features: Record<string, unknown>) {
  const runDir = path.join(root, name);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(path.join(runDir, 'manifest.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return parseConfig({ name, runDir, features: { shardSize: 3, batchSize: 2, decodeConcurrency: 2, descriptorWorkers: 0, decode: { fps: 4 }, ...features } });
}

beforeAll(async () => {
  const corpus = path.join(root, 'corpus');
  const r = await synthesize({ out: corpus, clips: 5, classes: 2, mismatch: 0, seconds: 1, seed: 9, width: 48, height: 36, fps: 8, silent: true, concurrency: 2 });
  const probe = { duration: 1, width: 48, height: 36, fps: 8, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' };
  records = r.labels.map((l) => ({ id: l.id, source: path.join(corpus, l.file), start: 0, duration: 1, video_id: l.id, probe }));
}, 60_000);

/** An extractor that loads fine and then fails on every clip (as a model whose shapes break on real data). */
function brokenSet(): ExtractorSet {
  const ex: Extractor<number> = {
    name: 'broken', version: '1', modality: 'visual', settings: {},
    layers: [{ name: 'x', dim: 2, description: 'always fails' }],
    prepare: () => 1,
    run: async () => {
      throw new Error('Reshape: the input tensor cannot be reshaped to the requested shape');
    },
  };
  return { audio: [], visual: [ex], dispose: async () => undefined };
}

describe('extract with a model that fails', () => {
  it('stops with an error and writes no shard when every clip of a batch fails in the model', async () => {
    const cfg = run('broken', { audio: [], visual: [{ type: 'builtin' }] });
    const err = await runExtract(cfg, { index: 0, count: 1 }, { silent: true, extractors: brokenSet() }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ExtractorFatalError);
    expect((err as Error).message).toMatch(/every clip of a batch of 2 failed in the extractors \(extraction failed: Reshape/);
    expect(await listFeatureShards(cfg.runDir!)).toEqual([]);
    expect(readdirSync(path.join(cfg.runDir!, 'features'))).toEqual([]);
    expect(existsSync(path.join(cfg.runDir!, 'failures.jsonl'))).toBe(false);
  }, 60_000);
});

describe('non-finite features', () => {
  it('a clip whose features are not finite goes to failures.jsonl; the others are stored', async () => {
    const cfg = run('nan', { audio: [], visual: [{ type: 'builtin' }] });
    let calls = 0;
    const ex: Extractor<number> = {
      name: 'sometimes-nan', version: '1', modality: 'visual', settings: {},
      layers: [{ name: 'x', dim: 2, description: 'NaN for the second clip' }],
      prepare: () => calls++,
      run: async (batch) => batch.map((k) => [Float32Array.of(k, k === 1 ? NaN : 1)]),
    };
    const r = await runExtract(cfg, { index: 0, count: 1 }, { silent: true, extractors: { audio: [], visual: [ex], dispose: async () => undefined } });
    expect(r.failed).toBe(1);
    expect(r.clips).toBe(4);
    const failures = readFileSync(path.join(cfg.runDir!, 'failures.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(failures).toEqual([expect.objectContaining({ id: records[1].id, stage: 'extract', reason: expect.stringMatching(/layer x has a non-finite value \(NaN\)/) })]);
  }, 60_000);
});

describe('layers and decode size', () => {
  it('prints every stored layer with its dimension before extracting', async () => {
    const rng = new Rng(2);
    const model = path.join(root, 'vis.onnx');
    writeFileSync(model, visualGraph(6, Array.from({ length: 6 }, () => rng.normal()), [0, 0], Array.from({ length: 15 }, () => rng.normal())));
    const cfg = run('layers', { audio: [], visual: [{ type: 'onnx', model, crop: 6, frames: 2, outputs: [{ output: 'feat', layer: 'conv' }, { output: 'emb', pool: 'meanstd' }] }] });
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const prevQuiet = process.env.AVCURATE_QUIET;
    delete process.env.AVCURATE_QUIET;
    let r;
    try {
      r = await runExtract(cfg, { index: 0, count: 1 }, {});
    } finally {
      spy.mockRestore();
      if (prevQuiet !== undefined) process.env.AVCURATE_QUIET = prevQuiet;
    }
    expect(r.clips).toBe(5);
    const text = lines.join('');
    expect(text).toMatch(/visual extractor onnx:vis \(onnxruntime cpu/);
    expect(text).toMatch(/visual\/conv {2}dim 2 {2}output feat \[n,2,6,6\] axes NCHW; mean over H,W; mean over 2 frames/);
    expect(text).toMatch(/visual\/emb {2}dim 10 {2}output emb \[n,5\] axes NC; meanstd over 2 frames/);
    // printed before the first progress line
    expect(text.indexOf('visual/conv')).toBeLessThan(text.indexOf('extract 0/1'));
  }, 60_000);

  it('derives the decode size from the extractors, warns when a set size would upscale, keeps old hashes', async () => {
    const clip = parseConfig({ name: 'x', features: { audio: [], visual: [{ type: 'builtin' }, { type: 'onnx', model: 'm.onnx', preset: 'clip', outputs: [{ output: 'e' }] }] } }).features;
    expect(resolveDecode(clip)).toMatchObject({ decode: { width: 224, height: 224 }, warnings: [] });
    const tv = parseConfig({ name: 'x', features: { audio: [], visual: [{ type: 'onnx', model: 'm.onnx', preset: 'torchvision-video', layout: 'NCTHW', outputs: [{ output: 'e' }] }] } }).features;
    expect(resolveDecode(tv).decode).toMatchObject({ width: 171, height: 128 });
    const small = parseConfig({ name: 'x', features: { decode: { width: 128, height: 128 }, audio: [], visual: [{ type: 'onnx', model: 'm.onnx', preset: 'clip', outputs: [{ output: 'e' }] }] } }).features;
    const w = resolveDecode(small).warnings;
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/features\.visual\[0\] onnx m\.onnx \(short side 224, crop 224\) needs frames of at least 224 x 224, but features\.decode gives 128 x 128: they would be upscaled 1\.75x/);
    // the built-in default decodes 128 x 128 as before, with the same config hash
    const def = parseConfig({ name: 'x' }).features;
    const explicit = parseConfig({ name: 'x', features: { decode: { width: 128, height: 128 } } }).features;
    expect(resolveDecode(def).decode).toMatchObject({ width: 128, height: 128 });
    const set = await buildExtractors(def, { descriptorWorkers: 0 });
    expect(featuresConfigHash(def, set)).toBe(featuresConfigHash(explicit, set));
    await set.dispose();
  });
});
