/**
 * Bootstrapped features (`curate.bootstrap.rounds: R`; docs/features.md "Bootstrapped features").
 * Round 0 is the curation of the run folder with the configured extractors. Round r = 1..R, in
 * <runDir>/bootstrap/round-<r>/ (a run folder of its own with a copy of the manifest):
 *
 *   1. pretrain the two-tower model on the previous round's selection.csv (ssl/ of the round);
 *   2. extract with `type: encoder` extractors on that checkpoint: the audio tower's layers as
 *      audio features, the visual tower's as visual features (with `features: append`, next to the
 *      configured extractors' layers);
 *   3. cluster, select, explain and evaluate as the base run does.
 *
 * The last round's selection (bootstrap/round-<R>/selection.csv, see `finalSelection`) is the
 * result of the bootstrap: the experiment's curated arm trains on it.
 *
 * Curation never imports src/ssl: the pretraining comes in as a BootstrapTrainer and the encoder
 * through the registered EncoderProvider (src/experiments/encoders.ts wires both).
 *
 * Resuming: a finished round is a stage-ledger record (stages/bootstrap-round.json of its folder)
 * keyed by everything it was computed from (the previous selection's bytes, the manifest, the
 * configs); a rerun skips rounds whose record holds. Inside an
 * unfinished round every stage resumes on its own (pretraining from its latest checkpoint, when
 * ssl/key.json says it was trained on the same selection and config; extract, cluster and select
 * through their fingerprints).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { AudioExtractorConfig, VisualExtractorConfig } from '../config/sections/features.js';
import { writeFileAtomic, writeJsonAtomic } from '../runtime/atomic.js';
import { exists } from '../runtime/jsonl.js';
import { log } from '../runtime/progress.js';
import { runLayout } from '../run/layout.js';
import { requiredFileDigest, stableKey } from '../run/hash.js';
import { StageLedger } from '../run/ledger.js';
import { runExtract } from './features/stage.js';
import { runCluster } from './clustering/stage.js';
import { runSelect, selectionPaths } from './selection/stage.js';
import { runEvalSelection } from './selection/eval-stage.js';
import { explainStep } from './pipeline.js';

/** Pretraining, as the bootstrap needs it (src/experiments/encoders.ts implements it with src/ssl). */
export interface BootstrapTrainer {
  /** The finished checkpoint in `outDir` and its step, or null when there is none. */
  trained(outDir: string): Promise<{ checkpoint: string; step: number } | null>;
  /**
   * Pretrain on the clips of `selection` (a selection.csv joined with the manifest beside it) into
   * `outDir` for `config.ssl.steps` steps, resuming from a checkpoint there.
   */
  pretrain(args: { selection: string; outDir: string; config: Config; silent: boolean }): Promise<{ checkpoint: string; step: number; loss?: number }>;
}

export interface RoundPrecision {
  /** Precision at the number of clips with corresponding audio. */
  atPositives: number;
  /** Precision of the top selection.ratio of the pool. */
  atRatio: number;
  ratio: number;
  /** Share of corresponding clips in the pool (a random subset's expected precision). */
  random: number;
  positives: number;
}

export interface BootstrapRound {
  round: number;
  runDir: string;
  /** The checkpoint whose towers gave the features (null for round 0). */
  checkpoint: string | null;
  pretrainSteps: number;
  /** The final pretraining loss of the round (when known). */
  loss?: number;
  /** Feature layers clustered (modality/layer). */
  layers: string[];
  pool: number;
  selected: number;
  objective: number;
  /** Null when the corpus has no ground truth. */
  precision: RoundPrecision | null;
  seconds: number;
}

export interface BootstrapResult {
  rounds: BootstrapRound[];
  /** <runDir>/bootstrap/rounds.json */
  file: string;
  /** Rounds found finished and skipped. */
  skipped: number[];
}

export const BOOTSTRAP_DIR = 'bootstrap';
export const ENCODER_NAME = 'enc';
/** The stage-ledger record of a finished round (stages/bootstrap-round.json of its folder). */
export const BOOTSTRAP_ROUND_STAGE = 'bootstrap-round';

/** Whether a config needs the ssl wiring: `type: encoder` extractors or bootstrap rounds (callers load src/ssl only then). */
export function usesEncoders(config: Config): boolean {
  return [...config.features.audio, ...config.features.visual].some((e) => e.type === 'encoder') || config.curate.bootstrap.rounds > 0;
}

export function bootstrapDir(runDir: string): string {
  return path.join(runDir, BOOTSTRAP_DIR);
}

export function roundDir(runDir: string, round: number): string {
  return round === 0 ? runDir : path.join(bootstrapDir(runDir), `round-${round}`);
}

/** The encoder layers a checkpoint of `config.ssl.model` gives per tower (names without the extractor prefix). */
export function encoderLayerNames(config: Config, tower: 'audio' | 'visual'): string[] {
  const stages = tower === 'audio' ? config.ssl.model.audio.stages : config.ssl.model.visual.stages;
  return [...stages.slice(0, -1).map((_, i) => `s${i}`), 'features', 'projection'];
}

/** The config of round r >= 1: the round's run folder, encoder extractors on `checkpoint`, the clustering of their layers. */
export function roundConfig(config: Config, round: number, checkpoint: string): Config {
  const b = config.curate.bootstrap;
  const runDir = roundDir(config.runDir!, round);
  const encoder = {
    type: 'encoder' as const,
    checkpoint: path.resolve(checkpoint),
    name: ENCODER_NAME,
    layers: [...b.layers],
    seconds: config.loader.decode.seconds,
    // Embedding reads centre windows where training drew random ones (the loaders' evaluation path).
    sampling: config.loader.decode.sampling === 'uniform' ? ('uniform' as const) : ('center' as const),
    mean: config.loader.normalize.mean,
    std: config.loader.normalize.std,
    backend: config.ssl.backend,
  };
  const append = b.features === 'append';
  const audio: AudioExtractorConfig[] = [...(append ? config.features.audio : []), encoder];
  const visual: VisualExtractorConfig[] = [...(append ? config.features.visual : []), encoder];
  let layers = config.clustering.layers;
  if (!append) layers = [];
  else if (layers.length > 0) {
    // The configured layers, and every kept encoder layer with the default k.
    const kept = (tower: 'audio' | 'visual') => encoderLayerNames(config, tower).filter((l) => b.layers.length === 0 || b.layers.includes(l));
    layers = [
      ...layers,
      ...(['audio', 'visual'] as const).flatMap((m) => kept(m).map((l) => ({ modality: m, layer: `${ENCODER_NAME}_${l}` }))),
    ];
  }
  return {
    ...config,
    runDir,
    // A round's features follow its checkpoint: a retrained round replaces its shards.
    features: { ...config.features, audio, visual, onConfigChange: 'overwrite' },
    clustering: { ...config.clustering, layers },
    curate: { bootstrap: { ...b, rounds: 0 } },
  };
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${file}: cannot read (${(err as Error).message}); delete it to recompute the round`);
  }
}

/** Where the rounds find ground truth when the manifest has no `corresponds` flags: the base run's labels. */
async function truthFile(config: Config): Promise<string | undefined> {
  const candidates = [...(config.corpus.source ? [path.join(config.corpus.source, 'labels.jsonl')] : []), runLayout(config.runDir!).corpusLabels];
  for (const c of candidates) if (await exists(c)) return c;
  return undefined;
}

async function evaluate(config: Config, truth: string | undefined): Promise<RoundPrecision | null> {
  try {
    const r = await runEvalSelection(config, { silent: true, truth });
    const s = r.summary;
    return { atPositives: s.atPositives.precision, atRatio: s.atRatio.precision, ratio: s.atRatio.ratio, random: s.baseRate, positives: s.positives };
  } catch (err) {
    if (/no ground truth/.test((err as Error).message)) return null;
    throw err;
  }
}

export interface BootstrapOptions {
  silent?: boolean;
}

/**
 * Run the bootstrap rounds of `config` (curate.bootstrap.rounds) after its curation: the run
 * folder must hold a finished selection.csv (round 0).
 */
export async function runBootstrap(config: Config, trainer: BootstrapTrainer, opts: BootstrapOptions = {}): Promise<BootstrapResult> {
  const silent = opts.silent ?? false;
  const b = config.curate.bootstrap;
  const runDir = config.runDir!;
  const base = runLayout(runDir);
  const baseSelection = selectionPaths(runDir).csv;
  if (!(await exists(baseSelection))) throw new Error(`curate.bootstrap: ${baseSelection} is missing: the rounds start from a finished curation of ${runDir}`);
  const truth = (await readManifestHasTruth(base.manifest)) ? undefined : await truthFile(config);
  const steps = b.steps ?? config.ssl.steps;
  const rounds: BootstrapRound[] = [];
  const skipped: number[] = [];
  await fsp.mkdir(bootstrapDir(runDir), { recursive: true });

  // Round 0: the curation as configured.
  const t0 = performance.now();
  // The finished selection is found and skipped by the select stage, which reports its figures.
  const sel0 = await runSelect(config, { silent: true });
  rounds.push({
    round: 0, runDir, checkpoint: null, pretrainSteps: 0, layers: await clusteredLayers(runDir),
    pool: sel0.pool, selected: sel0.selected, objective: sel0.objective,
    precision: await evaluate(config, truth), seconds: (performance.now() - t0) / 1000,
  });

  let previous = baseSelection;
  for (let r = 1; r <= b.rounds; r++) {
    const s0 = performance.now();
    const dir = roundDir(runDir, r);
    await fsp.mkdir(dir, { recursive: true });
    const layout = runLayout(dir);
    const prevDigest = await requiredFileDigest(previous);
    const sslCfg = { ...config.ssl, steps };
    const pretrainKey = stableKey({ selection: prevDigest, ssl: sslCfg, loader: config.loader, seed: config.seed });
    // A finished round is a record of the stage ledger (stages/bootstrap-round.json of the round's
    // folder): skipped when the previous selection, the manifest and the configs are the same.
    const ledger = new StageLedger(dir, { silent: true });
    const { summary: record, skipped: wasSkipped } = await ledger.runWithStatus<BootstrapRound>(
      BOOTSTRAP_ROUND_STAGE,
      {
        config: {
          pretrain: pretrainKey, bootstrap: { features: b.features, layers: b.layers }, features: config.features, clustering: config.clustering,
          selection: config.selection, evaluation: config.evaluation,
        },
        inputs: { selection: prevDigest, manifest: await requiredFileDigest(base.manifest) },
      },
      async () => ({ summary: await runRound(), outputs: [selectionPaths(dir).csv], stampOutputs: true }),
    );
    if (wasSkipped) {
      skipped.push(r);
      if (!silent) log(`bootstrap: round ${r} is finished (${dir}), skipped`);
    }
    rounds.push(record);
    previous = selectionPaths(dir).csv;

    async function runRound(): Promise<BootstrapRound> {
      if (!silent) log(`== bootstrap round ${r} of ${b.rounds}: pretrain ${steps} steps on ${previous}`);
      // 1. Pretrain on the previous round's selection (resumes; a stale checkpoint of another selection or config is removed).
      const sslDir = layout.sslDir('bootstrap');
      const keyFile = path.join(sslDir, 'key.json');
      const had = await readJson<{ key: string }>(keyFile);
      if (had?.key !== pretrainKey) {
        await fsp.rm(sslDir, { recursive: true, force: true });
        await fsp.mkdir(sslDir, { recursive: true });
        await writeJsonAtomic(keyFile, { key: pretrainKey, selection: previous, sha256: prevDigest });
      }
      const roundCfgForTraining: Config = { ...config, runDir: dir, ssl: sslCfg };
      let trained = await trainer.trained(sslDir);
      let loss: number | undefined;
      if (!trained || trained.step < steps) {
        const t = await trainer.pretrain({ selection: previous, outDir: sslDir, config: roundCfgForTraining, silent });
        trained = { checkpoint: t.checkpoint, step: t.step };
        loss = t.loss;
      }

      // 2-3. The round's curation on the encoder's layers, over the base run's clips.
      const rc = roundConfig(config, r, trained.checkpoint);
      const manifestBytes = await fsp.readFile(base.manifest);
      const current = (await exists(layout.manifest)) ? await fsp.readFile(layout.manifest) : null;
      if (!current || !current.equals(manifestBytes)) await writeFileAtomic(layout.manifest, manifestBytes);
      const ex = await runExtract(rc, { index: 0, count: 1 }, { silent });
      if (!silent) log(`bootstrap round ${r}: extract ${ex.written.length} shard(s) written, ${ex.skipped.length} already complete; ${ex.clips} clips, ${ex.failed} failed`);
      await runCluster(rc, { index: 0, count: 1 }, { silent });
      const sel = await runSelect(rc, { silent });
      // explain.json of the round's selection, as curate writes for round 0.
      const explained = await explainStep(rc, { silent: true });
      if (!silent) log(`bootstrap round ${r}: explain: ${explained}`);
      const precision = await evaluate(rc, truth);
      const out: BootstrapRound = {
        round: r, runDir: dir, checkpoint: trained.checkpoint, pretrainSteps: trained.step, ...(loss !== undefined ? { loss } : {}),
        layers: await clusteredLayers(dir), pool: sel.pool, selected: sel.selected, objective: sel.objective, precision,
        seconds: (performance.now() - s0) / 1000,
      };
      if (!silent) log(`bootstrap round ${r}: ${formatRound(out)}`);
      return out;
    }
  }
  const file = path.join(bootstrapDir(runDir), 'rounds.json');
  await writeJsonAtomic(file, { rounds, steps, features: b.features, layers: b.layers });
  return { rounds, file, skipped };
}

async function readManifestHasTruth(manifest: string): Promise<boolean> {
  const text = await fsp.readFile(manifest, 'utf8');
  const first = text.split('\n').find((l) => l.trim());
  if (!first) return false;
  try {
    return typeof (JSON.parse(first) as { corresponds?: unknown }).corresponds === 'boolean';
  } catch {
    return false;
  }
}

/** modality/layer of every clustering in a run folder's clusters.h5 (deduplicated, in order). */
async function clusteredLayers(dir: string): Promise<string[]> {
  const { readClusters } = await import('./clustering/store.js');
  const file = runLayout(dir).clusters;
  if (!(await exists(file))) return [];
  const c = await readClusters(file);
  return [...new Set(c.clusterings.map((x) => `${x.modality}/${x.layer}`))];
}

/**
 * The selection a run folder's curation ends with: the last bootstrap round's selection.csv when
 * `curate.bootstrap.rounds` > 0, else the run folder's own.
 */
export function finalSelection(config: Config): string {
  const runDir = config.runDir!;
  const rounds = config.curate.bootstrap.rounds;
  return selectionPaths(rounds > 0 ? roundDir(runDir, rounds) : runDir).csv;
}

/** One line: precision (or objective) of a round. */
export function formatRound(r: BootstrapRound): string {
  const p = r.precision;
  const prec = p ? `precision ${p.atPositives.toFixed(3)} at the ${p.positives} positives, ${p.atRatio.toFixed(3)} top ${Math.round(p.ratio * 100)} % (random ${p.random.toFixed(3)})` : 'no ground truth';
  return `${prec}; ${r.selected} of ${r.pool} selected, objective ${Number.isFinite(r.objective) ? r.objective.toFixed(4) : '?'}; ${r.layers.length} layers`;
}

/** The per-round table (text) for the terminal and docs. */
export function formatRounds(rounds: BootstrapRound[]): string {
  const lines = ['  round  steps  prec@pos  prec@ratio  random  objective  layers'];
  for (const r of rounds) {
    const p = r.precision;
    const f = (x: number | undefined) => (x === undefined ? '   -  ' : x.toFixed(3));
    lines.push(
      `  ${String(r.round).padStart(5)}  ${String(r.pretrainSteps).padStart(5)}  ${f(p?.atPositives).padStart(8)}  ${f(p?.atRatio).padStart(10)}  ${f(p?.random).padStart(6)}  ${(Number.isFinite(r.objective) ? r.objective.toFixed(4) : '?').padStart(9)}  ${r.layers.join(' ')}`,
    );
  }
  return lines.join('\n');
}
