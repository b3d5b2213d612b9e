/**
 * Checkpoints on disk through a tf.io.IOHandler of ours (plain @tensorflow/tfjs has no file://
 * handler in Node). A checkpoint is a folder
 *
 *     <dir>/step-00000100/model.json    tfjs model-artifacts JSON: weightSpecs, weightsManifest
 *                                       (→ weights.bin), and userDefinedMetadata = trainer state
 *     <dir>/step-00000100/weights.bin   little-endian float32 weights, in weightSpecs order
 *     <dir>/latest.json                 {"step": 100, "path": "step-00000100"}
 *
 * The weights hold the model parameters (`model/<name>`: trainable weights and BatchNorm running
 * statistics) and the optimiser moments (`opt/m/<name>`, `opt/v/<name>`); the metadata holds the
 * step, the optimiser step count, the random generator state, the data loader state, the model
 * spec and the training config. A step folder is written under a temporary name and renamed
 * into place, then latest.json is replaced atomically: a reader never sees half a checkpoint.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic, writeJsonAtomic } from '../runtime/atomic.js';

export const CHECKPOINT_FORMAT = 'avcurate-ssl-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** A tf.io.IOHandler that saves and loads model artifacts as model.json + weights.bin in a folder. */
export class FileIOHandler implements tf.io.IOHandler {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    await fsp.mkdir(this.dir, { recursive: true });
    const weightData = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
    const bytes = new Uint8Array(weightData);
    await writeFileAtomic(path.join(this.dir, 'weights.bin'), bytes);
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology ?? null,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      userDefinedMetadata: artifacts.userDefinedMetadata,
    } as tf.io.ModelJSON;
    const text = JSON.stringify(modelJson);
    await writeFileAtomic(path.join(this.dir, 'model.json'), text);
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        weightSpecsBytes: Buffer.byteLength(JSON.stringify(artifacts.weightSpecs ?? [])),
        weightDataBytes: bytes.byteLength,
      },
    };
  }

  async load(): Promise<tf.io.ModelArtifacts> {
    const jsonPath = path.join(this.dir, 'model.json');
    let modelJson: tf.io.ModelJSON;
    try {
      modelJson = JSON.parse(await fsp.readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
    } catch (err) {
      throw new Error(`cannot read checkpoint ${jsonPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const specs: tf.io.WeightsManifestEntry[] = [];
    const buffers: Uint8Array[] = [];
    for (const group of modelJson.weightsManifest ?? []) {
      for (const p of group.paths) {
        const file = path.join(this.dir, p);
        try {
          buffers.push(await fsp.readFile(file));
        } catch (err) {
          throw new Error(`cannot read checkpoint weights ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      specs.push(...group.weights);
    }
    const total = buffers.reduce((a, b) => a + b.byteLength, 0);
    const joined = new Uint8Array(total);
    let off = 0;
    for (const b of buffers) {
      joined.set(b, off);
      off += b.byteLength;
    }
    let expected = 0;
    for (const s of specs) expected += s.shape.reduce((a, b) => a * b, 1) * 4;
    if (expected !== total) {
      throw new Error(`checkpoint ${this.dir} is damaged: weights.bin has ${total} bytes, the specs describe ${expected}`);
    }
    return {
      modelTopology: modelJson.modelTopology,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
      weightSpecs: specs,
      weightData: joined.buffer,
      userDefinedMetadata: modelJson.userDefinedMetadata,
    };
  }
}

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Optimiser steps completed. */
  step: number;
  [key: string]: unknown;
}

export interface LoadedCheckpoint {
  dir: string;
  meta: CheckpointMeta;
  /** Tensors by name (caller disposes). */
  tensors: Record<string, tf.Tensor>;
}

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Save named tensors and metadata as a step folder of `root`, update latest.json, prune old steps. */
export async function saveCheckpoint(root: string, step: number, tensors: Record<string, tf.Tensor>, meta: Omit<CheckpointMeta, 'format' | 'version' | 'step'>, keep = 2): Promise<string> {
  await fsp.mkdir(root, { recursive: true });
  const name = stepDirName(step);
  const final = path.join(root, name);
  const tmp = path.join(root, `.${name}.tmp-${process.pid}`);
  await fsp.rm(tmp, { recursive: true, force: true });
  const named = Object.entries(tensors).map(([n, tensor]) => ({ name: n, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const fullMeta: CheckpointMeta = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, step, ...meta };
  await new FileIOHandler(tmp).save({
    weightSpecs: specs,
    weightData: data,
    format: CHECKPOINT_FORMAT,
    generatedBy: 'avcurate ssl trainer',
    userDefinedMetadata: fullMeta as unknown as { [key: string]: {} },
  });
  await fsp.rm(final, { recursive: true, force: true });
  await fsp.rename(tmp, final);
  await writeJsonAtomic(path.join(root, 'latest.json'), { step, path: name });
  // Prune: keep the newest `keep` step folders; drop temporaries of killed writers.
  const names = await fsp.readdir(root);
  for (const stale of names.filter((n) => /^\.step-\d{8}\.tmp-\d+$/.test(n))) await fsp.rm(path.join(root, stale), { recursive: true, force: true });
  const steps = names.filter((n) => /^step-\d{8}$/.test(n)).sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep))) {
    await fsp.rm(path.join(root, old), { recursive: true, force: true });
  }
  return final;
}

/**
 * Resolve a checkpoint folder: a step folder itself (has model.json), or a root with latest.json.
 * Returns null when `root` holds no checkpoint.
 */
export async function resolveCheckpoint(dirOrRoot: string): Promise<string | null> {
  try {
    await fsp.access(path.join(dirOrRoot, 'model.json'));
    return dirOrRoot;
  } catch {
    /* not a step folder */
  }
  let latest: { path?: string };
  try {
    latest = JSON.parse(await fsp.readFile(path.join(dirOrRoot, 'latest.json'), 'utf8')) as { path?: string };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${path.join(dirOrRoot, 'latest.json')}: ${(err as Error).message}`);
  }
  if (!latest.path) throw new Error(`${path.join(dirOrRoot, 'latest.json')} names no checkpoint`);
  return path.join(dirOrRoot, latest.path);
}

export async function loadCheckpoint(dirOrRoot: string): Promise<LoadedCheckpoint> {
  const dir = await resolveCheckpoint(dirOrRoot);
  if (!dir) throw new Error(`no checkpoint in ${dirOrRoot} (no model.json, no latest.json)`);
  const artifacts = await new FileIOHandler(dir).load();
  const meta = artifacts.userDefinedMetadata as unknown as CheckpointMeta | undefined;
  if (!meta || meta.format !== CHECKPOINT_FORMAT) throw new Error(`${dir}/model.json is not an avcurate ssl checkpoint`);
  if (meta.version !== CHECKPOINT_VERSION) throw new Error(`${dir}: checkpoint version ${meta.version}, this avcurate reads ${CHECKPOINT_VERSION}`);
  const tensors = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!) as Record<string, tf.Tensor>;
  return { dir, meta, tensors };
}
