/**
 * `avcurate probe`: embed a downstream dataset with a pretrained checkpoint's frozen encoders and
 * fit linear probes per modality under the dataset's protocol → <runDir>/probe/<arm>.json.
 */
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { Rng } from '../../runtime/random.js';
import { log } from '../../runtime/progress.js';
import { writeJsonAtomic } from '../../runtime/atomic.js';
import { embed, loadModel } from '../trainer.js';
import { buildModelCache, sslEmbeddingBatches } from '../data.js';
import { fromArray } from '../../loaders/sources/array.js';
import { stableKey } from '../../run/hash.js';
import { runLayout } from '../../run/layout.js';
import { loadProbeDataset, type ProbeDataset } from './datasets.js';
import { probeModalities, type ProbeModality } from './embeddings.js';
import type { ProbeResult } from './linear-probe.js';
import { resolveSplits, type SplitProtocol } from './splits.js';

export interface ProbeStageOptions {
  /** Checkpoint folder (a step folder, checkpoints/, or an ssl/<arm> output folder). */
  checkpoint: string;
  /** Name of the output file probe/<arm>.json (default: the checkpoint folder's name). */
  arm?: string;
  silent?: boolean;
}

export interface ProbeFile {
  arm: string;
  checkpoint: string;
  step: number;
  dataset: string;
  classes: string[];
  items: number;
  missing: number;
  undecodable: number;
  protocol: SplitProtocol;
  results: Partial<Record<ProbeModality, ProbeResult>>;
}

function armName(checkpoint: string): string {
  const parts = path.resolve(checkpoint).split(path.sep).filter(Boolean);
  const skip = (p: string) => p === 'checkpoints' || /^step-\d+$/.test(p);
  for (let i = parts.length - 1; i >= 0; i--) if (!skip(parts[i])) return parts[i];
  return 'model';
}

/** Drop items that could not be decoded, keeping folds and splits aligned. */
function keepItems(ds: ProbeDataset, ok: Set<string>): ProbeDataset {
  const keep = ds.items.map((it, i) => (ok.has(it.id) ? i : -1)).filter((i) => i >= 0);
  if (keep.length === ds.items.length) return ds;
  const remap = new Map(keep.map((old, neu) => [old, neu]));
  return {
    ...ds,
    items: keep.map((i) => ds.items[i]),
    folds: ds.folds ? keep.map((i) => ds.folds![i]) : undefined,
    splits: ds.splits?.map((s) => ({
      name: s.name,
      train: s.train.filter((i) => remap.has(i)).map((i) => remap.get(i)!),
      test: s.test.filter((i) => remap.has(i)).map((i) => remap.get(i)!),
    })),
  };
}

export async function runProbe(config: Config, opts: ProbeStageOptions): Promise<{ file: string; probe: ProbeFile }> {
  const cfg = config.probe;
  if (!cfg.dataset) throw new Error('probe: set probe.dataset (kind: folder | csv | esc50 | ucf101 | kinetics | synth, path: ...) in the config');
  const baseDir = config.configFile ? path.dirname(config.configFile) : process.cwd();
  let ds = loadProbeDataset(cfg.dataset, baseDir);
  if (!opts.silent) log(`probe: ${ds.name}: ${ds.items.length} items in ${ds.classes.length} classes${ds.missing.length ? `, ${ds.missing.length} listed file(s) not found` : ''}`);
  const { cfg: ssl, step, model } = await loadModel(opts.checkpoint, config.ssl.backend);
  model.dispose();
  const dataCfg = { ssl, loader: config.loader };
  const runDir = config.runDir!;
  const cacheDir = path.join(runDir, `tensors-probe-${ds.name}`);
  const seconds = cfg.clipSeconds ?? config.ingest.clipSeconds;
  // Every clip decoded once into a loaders tensor cache (reused while the clips, the model's input
  // shape and loader.decode stay the same), then embedded through the loaders' pipeline.
  const clips = ds.items.map((i) => ({ id: i.id, source: i.file, start: i.start ?? 0, duration: i.duration ?? seconds }));
  const fingerprint = stableKey({ clips, model: { audio: [ssl.model.audio.frames, ssl.model.audio.mels], visual: [ssl.model.visual.frames, ssl.model.visual.height, ssl.model.visual.width] }, decode: config.loader.decode, seed: config.seed });
  const built = await buildModelCache({ dataset: fromArray(clips) }, cacheDir, dataCfg, { seed: config.seed, fingerprint });
  const undecodable = ds.items.length - built.index.count;
  ds = keepItems(ds, new Set(built.index.keys));
  const protocol = cfg.protocol as SplitProtocol;
  const labels = ds.items.map((i) => i.label);
  const splits = resolveSplits({ labels, folds: ds.folds, splits: ds.splits }, protocol, Rng.derive(config.seed, 'task-splits', ds.name));
  const batches = () => sslEmbeddingBatches(cacheDir, dataCfg, { seed: config.seed, batchSize: cfg.batchSize, keys: ds.items.map((i) => i.id) });
  const emb = await embed(opts.checkpoint, await batches(), { layer: cfg.layer, backend: config.ssl.backend });
  const modalities = cfg.modalities as ProbeModality[];
  const shared = modalities.includes('cross') && cfg.layer !== 'head' ? await embed(opts.checkpoint, await batches(), { layer: 'head', backend: config.ssl.backend }) : undefined;
  const results = probeModalities(
    emb,
    labels,
    ds.classes.length,
    splits,
    modalities,
    { lambdas: cfg.lambdas, valFraction: cfg.valFraction, maxIter: cfg.maxIter, topK: cfg.topK, seed: config.seed },
    shared,
  );
  const arm = opts.arm ?? armName(opts.checkpoint);
  const probe: ProbeFile = {
    arm,
    checkpoint: path.resolve(opts.checkpoint),
    step,
    dataset: ds.name,
    classes: ds.classes,
    items: ds.items.length,
    missing: ds.missing.length,
    undecodable,
    protocol,
    results,
  };
  const file = runLayout(runDir).probe(arm);
  await writeJsonAtomic(file, probe);
  return { file, probe };
}

/** One line per modality: top-1 and top-k with the spread over splits. */
export function formatProbe(p: ProbeFile): string {
  const lines = [`probe ${p.arm} (step ${p.step}) on ${p.dataset}: ${p.items} clips, ${p.classes.length} classes, protocol ${p.protocol.kind}`];
  for (const [m, r] of Object.entries(p.results)) {
    if (!r) continue;
    lines.push(`  ${m.padEnd(7)} top-1 ${(100 * r.top1).toFixed(1)} % ± ${(100 * r.top1Std).toFixed(1)} over ${r.splits.length} split(s), top-${r.k} ${(100 * r.topK).toFixed(1)} %, chance ${(100 * r.chance).toFixed(1)} %`);
  }
  return lines.join('\n');
}
