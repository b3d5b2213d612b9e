/**
 * The extract stage: manifest.jsonl → features/shard-XXXXX-of-YYYYY.h5.
 *
 * The manifest is cut into units of `features.shardSize` clips in manifest order; unit u is written
 * to shard file u of U (U = number of units) and belongs to process `--shard i/n` when u % n == i.
 * Each clip is decoded once (a bounded pool of ffmpeg processes) and handed to every extractor;
 * inference of one batch runs while the next clips decode. A shard file appears only when its unit
 * is complete and recorded in the stage ledger (stages/extract/<shard>.json, src/run/ledger.ts:
 * the features config hash and the unit's clips); a rerun skips shards the ledger says are
 * finished, redoes a shard file without a valid record, and refuses (or, with onConfigChange:
 * overwrite, replaces) shards made with another config. Clips that cannot be decoded or
 * extracted go to failures.jsonl (stage "extract") and are left out of the shard.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import type { AudioExtractorConfig, FeaturesConfig, VisualExtractorConfig } from '../../config/sections/features.js';
import type { ClipRecord } from '../../run/manifest.js';
import { readManifest } from '../../run/manifest.js';
import { runLayout } from '../../run/layout.js';
import { baseRecords } from '../incremental/ledger.js';
import { decodeClip } from '../../media/decode.js';
import type { DecodedClip, ProbeInfo } from '../../media/types.js';
import { cleanStaleTemps } from '../../runtime/atomic.js';
import { withRunLock } from '../../run/lock.js';
import { toolVersion } from '../../media/ffmpeg.js';
import { assertOneFeaturesConfig } from './mixing.js';
import { FailureLog } from '../../run/failures.js';
import { stableKey } from '../../run/hash.js';
import { markDone, redoNote, stageDone } from '../../run/ledger.js';
import { defaultConcurrency } from '../../runtime/pool.js';
import { Progress, log } from '../../runtime/progress.js';
import { unitsOfShard, type ShardSpec } from '../../runtime/shard.js';
import { checkBatchResult, ExtractorFatalError, type AnyExtractor } from './extractor.js';
import { BuiltinAudioExtractor } from './builtin-audio.js';
import { BuiltinVisualExtractor } from './builtin-visual.js';
import { OnnxExtractor, onnxFramePreprocess } from './onnx.js';
import { neededFrameSize } from './preprocess.js';
import { MobileNetExtractor, OpenWakeWordExtractor } from './pretrained.js';
import { EncoderExtractor } from './encoder.js';
import { DescriptorWorkers, defaultDescriptorWorkers } from './workers.js';
import { FEATURE_SHARD_PATTERN, listFeatureShards, readFeatureShardAttrs, writeFeatureShard, type FeatureLayer } from './store.js';

export const EXTRACT_STAGE = 'extract';
export const FEATURE_FORMAT = 'avcurate-features/1';

export interface ExtractorSet {
  audio: AnyExtractor[];
  visual: AnyExtractor[];
  /** Close models and worker threads. */
  dispose(): Promise<void>;
}

/** Load notes (a CPU fallback) already printed in this process: said once, not once per model. */
const printedNotes = new Set<string>();

export interface BuildExtractorsOptions {
  /** Folder relative model paths are resolved against (default: the config file's folder, else cwd). */
  baseDir?: string;
  /** Worker threads for the built-in descriptors (0 = main thread). */
  descriptorWorkers?: number;
}

/** Instantiate the configured extractors (loads models; fails early with a clear message). */
export async function buildExtractors(features: FeaturesConfig, opts: BuildExtractorsOptions = {}): Promise<ExtractorSet> {
  const baseDir = opts.baseDir ?? process.cwd();
  const usesBuiltin = [...features.audio, ...features.visual].some((e) => e.type === 'builtin');
  const nWorkers = opts.descriptorWorkers ?? features.descriptorWorkers ?? defaultDescriptorWorkers();
  const workers = usesBuiltin && nWorkers > 0 ? new DescriptorWorkers(nWorkers) : undefined;
  const made: AnyExtractor[] = [];
  const set: ExtractorSet = {
    audio: [],
    visual: [],
    async dispose() {
      for (const e of made) await e.dispose?.();
      await workers?.close();
    },
  };
  const onnx = async (e: Extract<AudioExtractorConfig | VisualExtractorConfig, { type: 'onnx' }>, modality: 'audio' | 'visual', index: number) => {
    const model = path.resolve(baseDir, e.model);
    const ex = await OnnxExtractor.create({
      ...e,
      name: e.name ?? `onnx:${path.basename(model).replace(/\.onnx$/i, '')}`,
      modality,
      model,
      configKey: `features.${modality}[${index}]`,
      outputs: e.outputs.map((o) => ({ ...o })),
    });
    for (const note of ex.loadNotes) {
      const key = note.replace(/^ONNX model \S+: /, '');
      if (!printedNotes.has(key)) log(`extract: ${note}`);
      printedNotes.add(key);
    }
    return ex;
  };
  try {
    for (const [i, e] of features.audio.entries()) {
      let ex: AnyExtractor;
      if (e.type === 'builtin') ex = new BuiltinAudioExtractor(workers);
      else if (e.type === 'onnx') ex = await onnx(e, 'audio', i);
      else if (e.type === 'encoder') ex = await EncoderExtractor.create(e, 'audio', path.resolve(baseDir, e.checkpoint), `features.audio[${i}]`);
      else ex = await OpenWakeWordExtractor.create({ packageDir: e.packageDir ? path.resolve(baseDir, e.packageDir) : undefined, threads: e.threads, device: e.device });
      made.push(ex);
      set.audio.push(ex);
    }
    for (const [i, e] of features.visual.entries()) {
      let ex: AnyExtractor;
      if (e.type === 'builtin') ex = new BuiltinVisualExtractor({ frames: e.frames, maxSize: e.maxSize }, workers);
      else if (e.type === 'onnx') ex = await onnx(e, 'visual', i);
      else if (e.type === 'encoder') ex = await EncoderExtractor.create(e, 'visual', path.resolve(baseDir, e.checkpoint), `features.visual[${i}]`);
      else ex = await MobileNetExtractor.create({ layers: e.layers, frames: e.frames, packageDir: e.packageDir ? path.resolve(baseDir, e.packageDir) : undefined, backend: e.backend });
      made.push(ex);
      set.visual.push(ex);
    }
  } catch (err) {
    await set.dispose();
    throw err;
  }
  // Dataset names must be unique within a modality.
  for (const [modality, list] of [['audio', set.audio], ['visual', set.visual]] as const) {
    const seen = new Map<string, string>();
    for (const ex of list) {
      for (const l of ex.layers) {
        const other = seen.get(l.name);
        if (other) {
          await set.dispose();
          throw new Error(`features: two ${modality} extractors (${other}, ${ex.name}) both produce a layer named "${l.name}"; rename one (ONNX outputs take a "layer" name)`);
        }
        seen.set(l.name, ex.name);
      }
    }
  }
  return set;
}

export interface ResolvedDecode {
  /** The decode settings with width and height filled in. */
  decode: FeaturesConfig['decode'] & { width: number; height: number };
  /** One line per visual extractor that would see upscaled frames. */
  warnings: string[];
}

/**
 * The frame size to decode: the one set in features.decode, else the largest size any visual
 * extractor resizes to (built-in: its maxSize; mobilenet-nsfwjs: 224; ONNX: its resize / crop),
 * so no extractor sees upscaled frames. With a size set, each extractor that needs more gets a
 * warning naming the keys.
 */
export function resolveDecode(features: FeaturesConfig): ResolvedDecode {
  const needs: Array<{ key: string; what: string; width: number; height: number }> = [];
  features.visual.forEach((e, i) => {
    const key = `features.visual[${i}]`;
    if (e.type === 'builtin') needs.push({ key, what: `builtin (maxSize ${e.maxSize})`, width: e.maxSize, height: e.maxSize });
    else if (e.type === 'mobilenet-nsfwjs') needs.push({ key, what: 'mobilenet-nsfwjs (224 x 224)', width: 224, height: 224 });
    else if (e.type === 'encoder') return; // the checkpoint's input size is known once it is loaded; it is small (ssl.model.visual)
    else {
      const p = onnxFramePreprocess(e);
      const n = neededFrameSize(p);
      if (n) needs.push({ key, what: `onnx ${path.basename(e.model)} (${p.resize === 'exact' ? `resize to ${p.size![0]} x ${p.size![1]}` : `short side ${n.width}`}${p.crop ? `, crop ${p.crop}` : ''})`, ...n });
    }
  });
  const d = features.decode;
  const width = d.width ?? Math.max(128, ...needs.map((n) => n.width));
  const height = d.height ?? Math.max(128, ...needs.map((n) => n.height));
  const warnings: string[] = [];
  for (const n of needs) {
    // A cover-fit decode of width x height has short side min(width, height); an extractor needs its size on both sides.
    const short = Math.min(width, height);
    const need = Math.max(n.width, n.height);
    if (n.width > width || n.height > height || (n.width === n.height && need > short)) {
      warnings.push(
        `${n.key} ${n.what} needs frames of at least ${n.width} x ${n.height}, but features.decode gives ${width} x ${height}: ` +
          `they would be upscaled ${(need / short).toFixed(2)}x. Raise features.decode.width/height, or leave them unset so the decode size follows the extractors`,
      );
    }
  }
  return { decode: { ...d, width, height }, warnings };
}

/** One line per stored layer: modality/layer, its dimension, the extractor and how it is computed. */
export function describeLayers(set: Pick<ExtractorSet, 'audio' | 'visual'>): string[] {
  const lines: string[] = [];
  for (const ex of [...set.audio, ...set.visual]) {
    lines.push(`${ex.modality} extractor ${ex.name}${ex.info ? ` (${ex.info})` : ''}:`);
    for (const l of ex.layers) lines.push(`  ${ex.modality}/${l.name}  dim ${l.dim}  ${l.description}`);
  }
  return lines;
}

/**
 * Hash of everything that changes the numbers in a shard: decoding, shard size, and each
 * extractor's name, version, layers and settings (model digests, preprocessing). Batch size,
 * concurrency, threads and timeouts are not part of it.
 */
export function featuresConfigHash(features: FeaturesConfig, set: Pick<ExtractorSet, 'audio' | 'visual'>): string {
  const describe = (e: AnyExtractor) => ({ name: e.name, version: e.version, modality: e.modality, layers: e.layers.map((l) => [l.name, l.dim]), settings: e.settings });
  const payload = { format: FEATURE_FORMAT, decode: resolveDecode(features).decode, shardSize: features.shardSize, audio: set.audio.map(describe), visual: set.visual.map(describe) };
  return stableKey(payload);
}

function idsHash(ids: string[]): string {
  return createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 16);
}

/** A ProbeInfo from the manifest's probe summary (so decoding does not run ffprobe again). */
function probeFromRecord(file: string, r: ClipRecord): ProbeInfo | undefined {
  const p = r.probe;
  if (!p) return undefined;
  return {
    file,
    duration: p.duration,
    format: '',
    sizeBytes: 0,
    hasVideo: p.width > 0 && p.height > 0,
    hasAudio: p.sampleRate > 0,
    streams: (p.width > 0 ? 1 : 0) + (p.sampleRate > 0 ? 1 : 0),
  };
}

export function resolveSource(runDir: string, source: string): string {
  return path.isAbsolute(source) ? source : path.resolve(runDir, source);
}

export interface ExtractOptions {
  silent?: boolean;
  /** Stop cleanly (between batches) when aborted; finished shards stay. */
  signal?: AbortSignal;
  /** Called after each shard file is written. */
  onShard?: (file: string, unit: number) => void;
  /** Already built extractors (benchmarks, tests); the caller disposes them. */
  extractors?: ExtractorSet;
  /**
   * Extract these clips into shards of their own folder instead of the manifest's base clips
   * (clips added to a curated run: curation/incremental).
   */
  segment?: { records: ClipRecord[]; dir: string };
}

export interface ExtractResult {
  runDir: string;
  configHash: string;
  /** Total units (= shard files) of the manifest. */
  units: number;
  /** Units owned by this process. */
  mine: number[];
  written: string[];
  skipped: string[];
  /** Clips extracted by this call, and clips that failed. */
  clips: number;
  failed: number;
  seconds: number;
  clipsPerSecond: number;
  aborted: boolean;
}

interface Decoded {
  rec: ClipRecord;
  clip?: DecodedClip;
  error?: string;
}

/** Run the extract stage for one shard spec of the run folder's manifest (holding its run-folder lock: src/run/lock.ts). */
export async function runExtract(config: Config, shard: Pick<ShardSpec, 'index' | 'count'> = { index: 0, count: 1 }, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const runDir = config.runDir ?? path.join('runs', config.name);
  return withRunLock(runDir, `extract-${shard.index}-of-${shard.count}`, () => runExtractLocked(config, shard, opts));
}

async function runExtractLocked(config: Config, shard: Pick<ShardSpec, 'index' | 'count'>, opts: ExtractOptions): Promise<ExtractResult> {
  const t0 = performance.now();
  const f = config.features;
  const runDir = config.runDir ?? path.join('runs', config.name);
  const layout = runLayout(runDir);
  // Clips added after the first curation live in shards of their own (opts.segment, curation/incremental).
  const manifest = opts.segment?.records ?? (await baseRecords(runDir, await readManifest(layout.manifest)));
  const units = Math.max(1, Math.ceil(manifest.length / f.shardSize));
  const mine = unitsOfShard(units, shard);
  const featDir = opts.segment?.dir ?? layout.featuresDir;
  const shardFile = (u: number) => (opts.segment ? path.join(featDir, path.basename(layout.featureShard(u, units))) : layout.featureShard(u, units));
  /** The ledger's name of unit u: its shard file relative to the run folder, without .h5. */
  const unitKey = (u: number) => path.relative(layout.root, shardFile(u)).replace(/\.h5$/, '');
  const unitRecords = (u: number) => manifest.slice(u * f.shardSize, (u + 1) * f.shardSize);
  let configHashForLedger = '';
  /** What a shard's numbers depend on: the features config (its hash) and its clips (id, source, window). */
  const unitFingerprint = (u: number) => ({
    config: { features: configHashForLedger },
    inputs: { clips: unitRecords(u).map((r) => [r.id, r.source, r.start, r.duration]) },
  });
  await fsp.mkdir(featDir, { recursive: true });
  await cleanStaleTemps(featDir);
  const failures = new FailureLog(layout.failures);
  const knownFailures = new Set((await failures.read(EXTRACT_STAGE)).map((r) => r.id));

  const baseDir = config.configFile ? path.dirname(config.configFile) : process.cwd();
  const set = opts.extractors ?? (await buildExtractors(f, { baseDir }));
  const result: ExtractResult = { runDir, configHash: '', units, mine, written: [], skipped: [], clips: 0, failed: 0, seconds: 0, clipsPerSecond: 0, aborted: false };
  try {
    const configHash = featuresConfigHash(f, set);
    result.configHash = configHash;
    configHashForLedger = configHash;
    const all = [...set.audio, ...set.visual];
    const resolved = resolveDecode(f);
    if (!opts.silent) {
      for (const w of resolved.warnings) log(`extract: warning: ${w}`);
      log(`extract: decoding ${resolved.decode.width} x ${resolved.decode.height} frames at ${resolved.decode.fps} fps, audio at ${resolved.decode.sampleRate} Hz; layers stored:`);
      for (const line of describeLayers(set)) log(`  ${line}`);
    }
    // Shards of other units (other processes) must be of this config too (reliab, issue 13 item 3).
    const others = (await listFeatureShards(runDir)).filter((file) => !mine.some((u) => path.resolve(file) === path.resolve(shardFile(u))));
    if (f.onConfigChange !== 'overwrite') assertOneFeaturesConfig(others, await Promise.all(others.map((o) => readFeatureShardAttrs(o))), { expected: configHash, what: 'extract' });

    // Look at what is there: finished shards of this config are skipped; others conflict.
    const todo: number[] = [];
    const existing = new Set((await fsp.readdir(featDir)).filter((n) => FEATURE_SHARD_PATTERN.test(n)));
    const mineSet = new Set(mine);
    for (const name of existing) {
      const m = /^shard-(\d{5})-of-(\d{5})\.h5$/.exec(name)!;
      const count = Number(m[2]);
      if (count !== units) await conflict(path.join(featDir, name), `it belongs to a split into ${count} shards, the manifest now makes ${units} (shardSize ${f.shardSize}, ${manifest.length} clips)`, f, Number(m[1]) % shard.count === shard.index || !mineSet.size);
    }
    // Whether a shard is finished is the stage ledger's call (stages/extract/<shard>.json: this
    // features config and these clips); a shard file without a valid record is redone, or refused
    // when it was made with another config.
    for (const u of mine) {
      const file = shardFile(u);
      const ids = manifest.slice(u * f.shardSize, (u + 1) * f.shardSize).map((r) => r.id);
      const check = await stageDone(runDir, EXTRACT_STAGE, unitFingerprint(u), { shard: unitKey(u) });
      if (check.done) {
        result.skipped.push(file);
        continue;
      }
      if (existing.has(path.basename(file))) {
        let attrs: Record<string, string | number>;
        try {
          attrs = await readFeatureShardAttrs(file);
        } catch (err) {
          await conflict(file, `it cannot be read (${(err as Error).message})`, { ...f, onConfigChange: 'overwrite' }, true);
          todo.push(u);
          continue;
        }
        if (attrs.config_hash !== configHash) {
          await conflict(file, `it was made with another features config (hash ${attrs.config_hash}, this config ${configHash})`, f, true);
          todo.push(u);
          continue;
        }
        if (attrs.ids_hash !== idsHash(ids)) {
          await conflict(file, 'the manifest changed since it was written (its clip ids differ)', f, true);
          todo.push(u);
          continue;
        }
        if (!opts.silent) log(`extract: ${redoNote(check, runDir) ?? `${unitKey(u)}: ${path.relative(layout.root, check.file)}: no record of this shard finishing (killed before it was recorded, or written by an older avcurate); running it again`}`);
        todo.push(u);
        continue;
      }
      const note = redoNote(check, runDir);
      if (note && !opts.silent) log(`extract: ${note}`);
      todo.push(u);
    }

    const total = todo.reduce((a, u) => a + Math.min(f.shardSize, manifest.length - u * f.shardSize), 0);
    if (result.skipped.length > 0) log(`extract: ${result.skipped.length} of ${mine.length} shard(s) already complete, skipped`);
    const progress = new Progress(`extract ${shard.index}/${shard.count}`, { total, unit: 'clips', silent: opts.silent });
    const needAudio = set.audio.length > 0;
    const needVideo = set.visual.length > 0;
    const d = resolved.decode;
    const concurrency = f.decodeConcurrency ?? defaultConcurrency();

    let extractedOk = 0;
    for (const u of todo) {
      if (opts.signal?.aborted) break;
      const recs = manifest.slice(u * f.shardSize, (u + 1) * f.shardSize);
      const file = shardFile(u);
      const rows: Array<{ id: string; feats: Float32Array[][] }> = [];
      const unitFailures: Array<{ rec: ClipRecord; reason: string }> = [];

      const decodeOne = async (rec: ClipRecord): Promise<Decoded> => {
        const src = resolveSource(runDir, rec.source);
        const seconds = d.maxSeconds !== undefined ? Math.min(rec.duration, d.maxSeconds) : rec.duration;
        try {
          const clip = await decodeClip(src, rec.start, seconds, {
            fps: d.fps, width: d.width, height: d.height, sampleRate: d.sampleRate, fit: d.fit,
            audio: needAudio ? 'require' : 'skip', video: needVideo ? 'require' : 'skip',
            timeoutMs: f.timeoutSeconds * 1000, probe: probeFromRecord(src, rec), signal: opts.signal,
          });
          return { rec, clip };
        } catch (err) {
          const e = err as Error & { reason?: string };
          return { rec, error: `decode failed: ${e.reason ?? e.message}` };
        }
      };

      // One batch's inference runs while the next batch decodes.
      let inflight: Promise<void> = Promise.resolve();
      const infer = async (batch: Array<{ rec: ClipRecord; prepared: unknown[] }>): Promise<void> => {
        const out = await inferBatch(all, batch.map((b) => b.prepared));
        // Every clip of a batch failing in the model (or the first clips of a run failing) is a
        // broken model or config, not bad clips: stop before a shard of nothing is written.
        const failedHere = out.filter((r) => typeof r === 'string').length;
        if (failedHere === batch.length && (batch.length >= 2 || extractedOk === 0)) {
          throw new ExtractorFatalError(
            `extract: every clip of a batch of ${batch.length} failed in the extractors (${out[0] as string}); ` +
              `this is the model or its configuration, not the clips: fix it and run again (no shard was written for ${path.basename(file)})`,
          );
        }
        extractedOk += batch.length - failedHere;
        batch.forEach((b, i) => {
          const r = out[i];
          if (typeof r === 'string') unitFailures.push({ rec: b.rec, reason: r });
          else rows.push({ id: b.rec.id, feats: r });
        });
        progress.tick(batch.length, failNote());
      };
      const failNote = () => (result.failed + unitFailures.length > 0 ? `${result.failed + unitFailures.length} failed` : '');
      let batch: Array<{ rec: ClipRecord; prepared: unknown[] }> = [];
      for await (const item of prefetchOrdered(recs, decodeOne, concurrency, 2 * f.batchSize)) {
        if (item.error || !item.clip) {
          unitFailures.push({ rec: item.rec, reason: item.error ?? 'decode failed' });
          progress.tick(1, failNote());
          continue;
        }
        let prepared: unknown[];
        try {
          prepared = all.map((ex) => ex.prepare(item.clip!));
        } catch (err) {
          unitFailures.push({ rec: item.rec, reason: `preprocessing failed: ${(err as Error).message}` });
          progress.tick(1, failNote());
          continue;
        }
        batch.push({ rec: item.rec, prepared });
        if (batch.length >= f.batchSize) {
          await inflight;
          inflight = infer(batch);
          inflight.catch(() => undefined); // awaited (and thrown) before the next batch or at the end
          batch = [];
        }
        if (opts.signal?.aborted) break;
      }
      await inflight;
      if (opts.signal?.aborted) {
        result.aborted = true;
        break;
      }
      if (batch.length > 0) await infer(batch);

      // Rows in manifest order (inference batches finish in order already; sort to be explicit).
      const order = new Map(recs.map((r, i) => [r.id, i]));
      rows.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
      const layers: FeatureLayer[] = [];
      all.forEach((ex, ei) => {
        ex.layers.forEach((l, li) => {
          const data = new Float32Array(rows.length * l.dim);
          rows.forEach((r, ri) => data.set(r.feats[ei][li], ri * l.dim));
          layers.push({ modality: ex.modality, layer: l.name, dim: l.dim, data });
        });
      });
      await writeFeatureShard(file, {
        ids: rows.map((r) => r.id),
        layers,
        attrs: {
          format: FEATURE_FORMAT,
          extractors: all.map((e) => e.name).join(','),
          extractor_versions: all.map((e) => `${e.name}@${e.version}`).join(','),
          audio_extractors: set.audio.map((e) => e.name).join(','),
          visual_extractors: set.visual.map((e) => e.name).join(','),
          config_hash: configHash,
          // the decoder that read the media (reliab, issue 13 item 13)
          ffmpeg_version: toolVersion('ffmpeg'),
          ids_hash: idsHash(recs.map((r) => r.id)),
          shard_index: u,
          shard_count: units,
          unit_size: f.shardSize,
          clips: rows.length,
          failed: unitFailures.length,
          decode: JSON.stringify(d),
          created: new Date().toISOString(),
        },
      });
      for (const { rec, reason } of unitFailures) {
        if (knownFailures.has(rec.id)) continue;
        failures.record({ id: rec.id, stage: EXTRACT_STAGE, reason, file: rec.source });
        knownFailures.add(rec.id);
      }
      // The shard is finished only now, with its failures recorded (a kill before this line redoes it).
      await markDone(runDir, EXTRACT_STAGE, unitFingerprint(u), { shard: unitKey(u), outputs: [file], summary: { clips: rows.length, failed: unitFailures.length } });
      result.clips += rows.length;
      result.failed += unitFailures.length;
      result.written.push(file);
      opts.onShard?.(file, u);
    }
    if (opts.signal?.aborted) result.aborted = true;
    progress.finish(result.failed > 0 ? `${result.failed} failed (see failures.jsonl)` : undefined);
  } finally {
    if (!opts.extractors) await set.dispose();
  }
  result.seconds = (performance.now() - t0) / 1000;
  result.clipsPerSecond = result.seconds > 0 ? (result.clips + result.failed) / result.seconds : 0;
  return result;
}

/**
 * Ordered map with read-ahead: keeps `concurrency` calls of `fn` running and up to `ahead` results
 * waiting, independently of how fast the consumer pulls (unlike a pull-driven pool, decoding goes
 * on while the consumer awaits inference). Results come out in input order.
 */
export async function* prefetchOrdered<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, concurrency: number, ahead: number): AsyncGenerator<R> {
  const results: Array<Promise<R> | undefined> = new Array(items.length);
  let next = 0;
  let consumed = 0;
  let running = 0;
  let wake: (() => void) | null = null;
  const launch = () => {
    while (next < items.length && running < concurrency && next - consumed < ahead + concurrency) {
      const i = next++;
      running++;
      const p = fn(items[i]);
      p.catch(() => undefined);
      results[i] = p;
      p.finally(() => {
        running--;
        launch();
        wake?.();
      }).catch(() => undefined);
    }
  };
  launch();
  for (; consumed < items.length; ) {
    while (results[consumed] === undefined) await new Promise<void>((r) => (wake = r));
    const r = await results[consumed]!;
    results[consumed] = undefined;
    consumed++;
    launch();
    yield r;
  }
}

/** Refuse (or delete, with onConfigChange: overwrite) a shard file that does not fit this run. */
async function conflict(file: string, why: string, f: Pick<FeaturesConfig, 'onConfigChange'>, mine: boolean): Promise<void> {
  if (f.onConfigChange === 'overwrite') {
    if (mine) {
      await fsp.rm(file, { force: true });
      log(`extract: removed ${file}: ${why}`);
    }
    return;
  }
  throw new Error(`${file}: ${why}. Features of two configs are never mixed: use another run folder, delete the old shards, or set features.onConfigChange: overwrite`);
}

/**
 * Run every extractor on a batch. A failing batch is retried clip by clip so one bad clip does not
 * sink the others; a clip that still fails comes back as its reason.
 */
async function inferBatch(extractors: AnyExtractor[], prepared: unknown[][]): Promise<Array<Float32Array[][] | string>> {
  const n = prepared.length;
  try {
    const per = await Promise.all(extractors.map(async (ex, ei) => {
      const r = await ex.run(prepared.map((p) => p[ei]));
      checkBatchResult(ex, n, r);
      return r;
    }));
    return prepared.map((_, i) => per.map((r) => r[i]));
  } catch (err) {
    if (err instanceof ExtractorFatalError) throw err;
    if (n === 1) return [`extraction failed: ${(err as Error).message}`];
    const out: Array<Float32Array[][] | string> = [];
    for (const p of prepared) out.push((await inferBatch(extractors, [p]))[0]);
    return out;
  }
}
