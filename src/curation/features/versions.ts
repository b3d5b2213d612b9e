/**
 * The code versions of the feature extractors, in one place: each extractor's `version` (part of
 * the features hash every shard records) comes from here, and `extractorCodeKey` gives callers
 * that must not load models (the experiment's curate step) the same facts cheaply. Raise an
 * extractor's version whenever a change in its code changes the numbers it writes.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { FeaturesConfig } from '../../config/sections/features.js';

export const EXTRACTOR_VERSIONS = {
  'builtin-audio': '3',
  'builtin-visual': '2',
  onnx: '2',
  encoder: '1',
  openwakeword: '1',
  'mobilenet-nsfwjs': '1',
} as const;

/** At most this many files of a model folder enter the key (a folder is keyed by its files' sizes and times). */
const MAX_FILES = 4096;

async function fileFacts(p: string): Promise<unknown> {
  let st;
  try {
    st = await fsp.stat(p);
  } catch {
    return { path: p, missing: true };
  }
  if (!st.isDirectory()) return { path: p, size: st.size, mtimeMs: st.mtimeMs };
  const files: Array<[string, number, number]> = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 4 || files.length >= MAX_FILES) return;
    const entries = (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (files.length >= MAX_FILES) return;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full, depth + 1);
      else if (e.isFile()) {
        const s = await fsp.stat(full);
        files.push([path.relative(p, full), s.size, s.mtimeMs]);
      }
    }
  };
  await walk(p, 0);
  return { path: p, files };
}

/**
 * What the configured extractors are, without building them: per extractor its type and code
 * version, and for those that read a model (onnx, encoder; openwakeword and mobilenet-nsfwjs with a
 * packageDir) that file's or folder's sizes and modification times. Relative paths resolve
 * against `baseDir` (default: the working folder), as buildExtractors resolves them.
 */
export async function extractorCodeKey(features: Pick<FeaturesConfig, 'audio' | 'visual'>, baseDir = process.cwd()): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const [modality, list] of [['audio', features.audio], ['visual', features.visual]] as const) {
    for (const e of list) {
      const type = e.type;
      const version = type === 'builtin' ? EXTRACTOR_VERSIONS[modality === 'audio' ? 'builtin-audio' : 'builtin-visual'] : EXTRACTOR_VERSIONS[type];
      const file = e.type === 'onnx' ? e.model : e.type === 'encoder' ? e.checkpoint : 'packageDir' in e && e.packageDir ? e.packageDir : null;
      out.push({ modality, type, version, ...(file ? { model: await fileFacts(path.resolve(baseDir, file)) } : {}) });
    }
  }
  return out;
}
