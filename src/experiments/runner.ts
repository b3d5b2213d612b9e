/**
 * `avcurate experiment`: curate a pool of clips, pretrain on the curated subset and on baselines
 * of equal size and budget, probe every arm on downstream tasks over several seeds, and write
 * results.json and report.html. Every stage is recorded in the stage ledger (ledger.ts), so a
 * rerun skips finished stages and a run killed mid-way resumes (pretraining from its checkpoint).
 *
 * Run folder additions (besides the curation files of DESIGN.md):
 *   experiment/pool.jsonl, heldout.jsonl   the curation pool and the held-out downstream clips
 *   experiment/arms/<arm>.json             the training set of each arm (ids)
 *   experiment/jobs/<arm>-s<seed>.json     the job each arm worker ran
 *   tensors/, tensors-<task>/              decoded model inputs: loaders tensor caches (frames.npy,
 *                                          spec.npy, index.json), decoded once, read by every arm
 *   ssl/<arm>-s<seed>/                     checkpoints and metrics.jsonl
 *   probe/<arm>-s<seed>.json               probe results of the arm and seed
 *   stages/<stage>.json                    the ledger
 *   results.json, report.html
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { ArmName } from '../config/sections/experiment.js';
import { runSynth } from '../curation/manifest/stage.js';
import { runCuration } from '../curation/pipeline.js';
import { readManifest, manifestPath } from '../curation/manifest/read.js';
import type { ClipRecord } from '../curation/manifest/types.js';
import { readSelectionCsv } from '../run/selection.js';
import { writeScoreSelection } from '../curation/selection/stage.js';
import { readAllFeatures } from '../curation/features/store.js';
import { contrastiveClipScores } from '../ssl/contrastive-select.js';
import { loadProbeDataset } from '../ssl/probe/datasets.js';
import { resolveSplits, type SplitProtocol } from '../ssl/probe/splits.js';
import type { ProbeModality } from '../ssl/probe/embeddings.js';
import { Rng } from '../runtime/random.js';
import { Pool, defaultConcurrency } from '../runtime/pool.js';
import { writeFileAtomic, writeJsonAtomic, writeJsonlAtomic } from '../runtime/atomic.js';
import { log } from '../runtime/progress.js';
import { StageLedger, stableKey } from '../run/ledger.js';
import { buildModelCache } from '../ssl/data.js';
import { fromArray } from '../loaders/sources/array.js';
import { Progress } from '../runtime/progress.js';
import { holdOut, precisionAt, precisionCurve, precisionOf, sampleIds, type LabelledClip } from './arms.js';
import { ARM_WORKER_FILE, runArmJob, type ArmJob, type ArmResultFile, type ArmTaskJob } from './arm-worker.js';
import { RESULTS_VERSION, aggregateProbes, type ArmSummary, type ClipPreview, type ExpectationCheck, type ExperimentResults, type ProbeRecord, type SelectionSummary } from './results.js';
import { writeReport } from './report.js';
import { buildRealPairs } from './real-pairs.js';

export interface ExperimentOptions {
  silent?: boolean;
  /** Arm processes at once (default experiment.parallel, else the number of cores). */
  parallel?: number;
  /** Run arms in this process instead of worker processes (tests, debugging). */
  inProcess?: boolean;
  /** Curation (synth → ingest → extract → cluster → select → eval) on a config; default: the curation pipeline. */
  curate?: (config: Config, opts: { silent?: boolean }) => Promise<Array<{ stage: string; seconds: number }> | void>;
}

export interface ExperimentOutcome {
  results: ExperimentResults;
  resultsFile: string;
  reportFile: string;
  table: string;
}

/** A clip to decode into a tensor cache: a clip record as the loaders' decode stage reads it. */
interface ClipRef {
  id: string;
  source: string;
  start: number;
  duration: number;
  /** The manifest's probe facts (saves an ffprobe run per clip). */
  probe?: ClipRecord['probe'];
}

const ARM_DESCRIPTIONS: Record<ArmName, string> = {
  curated: 'MI-curated subset (selection.csv)',
  random: 'random subset of the pool, same size',
  contrastive: 'contrastive-selection baseline, same size',
  clean: 'only truly corresponding clips (stand-in for a manually curated set), same size',
  pool: 'the whole uncurated pool',
  untrained: 'diagnostic: encoders at initialisation, no pretraining (0 steps)',
};

/** The default curation: synth → ingest → extract → cluster → select → eval-selection. */
async function defaultCurate(config: Config, opts: { silent?: boolean }): Promise<Array<{ stage: string; seconds: number }>> {
  const r = await runCuration(config, { silent: opts.silent });
  return r.stages.map((s) => ({ stage: s.stage, seconds: s.seconds }));
}

function readRows(file: string): LabelledClip[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as LabelledClip;
      } catch (err) {
        throw new Error(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
      }
    });
}

/** The corpus labels file (ground truth and classes), when the corpus has one. */
function labelsFileOf(config: Config): string | null {
  if (config.experiment.realPairs || config.corpus.synth) return path.join(config.runDir!, 'corpus', 'labels.jsonl');
  const src = config.corpus.source;
  if (!src) return null;
  if (src.endsWith('.jsonl')) return src;
  const inside = path.join(src, 'labels.jsonl');
  return existsSync(inside) ? inside : null;
}

function sortedClasses(values: Array<string | number>): string[] {
  const list = [...new Set(values.map(String))];
  return list.every((s) => /^-?\d+$/.test(s)) ? list.sort((a, b) => Number(a) - Number(b)) : list.sort();
}

function fmtPct(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '   –  ' : `${(100 * x).toFixed(1).padStart(5)}`;
}

/** The results table printed at the end of a run. */
export function formatResultsTable(r: ExperimentResults): string {
  const agg = aggregateProbes(r.probes);
  const modalities = (['audio', 'visual', 'both', 'cross'] as const).filter((m) => agg.some((a) => a.modality === m));
  const lines: string[] = [];
  for (const task of [...new Set(agg.map((a) => a.task))]) {
    const seeds = Math.max(...agg.filter((a) => a.task === task).map((a) => a.seeds));
    lines.push(`probe task "${task}": top-1 accuracy %, mean ± std over ${seeds} seed(s)`);
    lines.push(`  ${'arm'.padEnd(12)} ${'clips'.padStart(6)} ${'prec.'.padStart(6)}  ${modalities.map((m) => m.padStart(13)).join(' ')}`);
    for (const arm of r.arms) {
      const cells = modalities.map((m) => {
        const a = agg.find((x) => x.arm === arm.arm && x.task === task && x.modality === m);
        return (a ? `${fmtPct(a.top1)} ± ${(100 * a.top1Std).toFixed(1)}` : '–').padStart(13);
      });
      lines.push(`  ${arm.arm.padEnd(12)} ${String(arm.size).padStart(6)} ${arm.precision === undefined ? '     –' : arm.precision.toFixed(3).padStart(6)}  ${cells.join(' ')}`);
    }
  }
  if (r.selection.length > 0) {
    lines.push('selection precision (truly corresponding):');
    for (const s of r.selection) {
      lines.push(`  ${s.method.padEnd(12)} selected ${String(s.selected).padStart(5)}  precision ${s.precision?.toFixed(3) ?? '–'}  at #positives ${s.precisionAtPositives?.toFixed(3) ?? '–'}  at 20 % ${s.precisionAtRatio?.toFixed(3) ?? '–'}`);
    }
  }
  for (const e of r.expectations ?? []) lines.push(`${e.pass ? 'met    ' : 'NOT met'}  ${e.name}: ${e.value.toFixed(3)} (target ${e.target})`);
  for (const n of r.notes ?? []) lines.push(`note: ${n}`);
  if (r.wallSeconds !== undefined) lines.push(`wall clock: ${r.wallSeconds.toFixed(1)} s`);
  return lines.join('\n');
}

interface CorpusSummary {
  labelsFile: string | null;
}

interface SplitSummary {
  poolFile: string;
  heldOutFile: string | null;
  pool: number;
  heldOut: number;
}

interface ArmsSummary {
  armSize: number;
  arms: Array<{ arm: ArmName; file: string; size: number }>;
  contrastiveCsv?: string;
  notes: string[];
}

/** Run the whole experiment described by `config`. */
export async function runExperiment(config: Config, opts: ExperimentOptions = {}): Promise<ExperimentOutcome> {
  const runDir = path.resolve(config.runDir!);
  const exp = config.experiment;
  const silent = opts.silent ?? false;
  const ledger = new StageLedger(runDir, { silent });
  const expDir = path.join(runDir, 'experiment');
  const notes: string[] = [];
  const t0 = performance.now();

  // 1. Corpus.
  const corpus = await ledger.run<CorpusSummary>('corpus', { corpus: config.corpus, realPairs: config.experiment.realPairs, seed: config.seed }, async () => {
    const rp = config.experiment.realPairs;
    if (rp) {
      if (config.corpus.synth || config.corpus.source) throw new Error('config: experiment.realPairs builds the corpus; remove corpus.synth and corpus.source');
      await buildRealPairs({ ...rp, out: path.join(runDir, 'corpus'), seed: config.seed, silent });
    } else if (config.corpus.synth) await runSynth(config, { silent });
    const labelsFile = labelsFileOf(config);
    return { summary: { labelsFile }, outputs: labelsFile ? [labelsFile] : [] };
  });

  // 2. Held-out split for the built-in downstream task.
  const split = await ledger.run<SplitSummary>(
    'split',
    { labels: corpus.labelsFile ? stableKey(readFileSync(corpus.labelsFile, 'utf8')) : null, heldOut: exp.heldOut, seed: config.seed },
    async () => {
      if (!corpus.labelsFile) {
        if (!config.corpus.source) throw new Error('config: no corpus (set corpus.synth, corpus.source or experiment.realPairs)');
        return { summary: { poolFile: config.corpus.source, heldOutFile: null, pool: 0, heldOut: 0 } };
      }
      const base = path.dirname(corpus.labelsFile);
      const rows = readRows(corpus.labelsFile).map((r) => ({ ...r, file: path.resolve(base, r.file) }));
      const { pool, heldOut } = holdOut(rows, exp.heldOut, config.seed);
      const poolFile = path.join(expDir, 'pool.jsonl');
      const heldOutFile = path.join(expDir, 'heldout.jsonl');
      await writeJsonlAtomic(poolFile, pool);
      await writeJsonlAtomic(heldOutFile, heldOut);
      return { summary: { poolFile, heldOutFile, pool: pool.length, heldOut: heldOut.length }, outputs: [poolFile, heldOutFile] };
    },
  );

  if (!split.heldOutFile && exp.heldOut > 0) notes.push('the corpus has no labels.jsonl: no built-in downstream task (add experiment.tasks)');

  // 3. Curation on the pool: ingest → extract → cluster → select → eval-selection.
  const curationConfig: Config = { ...config, corpus: { source: split.poolFile } };
  const curateStage = await ledger.run<{ stages?: Array<{ stage: string; seconds: number }> }>(
    'curate',
    { pool: statSync(split.poolFile).isFile() ? stableKey(readFileSync(split.poolFile, 'utf8')) : path.resolve(split.poolFile), ingest: config.ingest, features: config.features, clustering: config.clustering, selection: config.selection, seed: config.seed },
    async () => {
      const stages = (await (opts.curate ?? defaultCurate)(curationConfig, { silent })) ?? [];
      const csv = path.join(runDir, 'selection.csv');
      if (!existsSync(csv)) throw new Error(`curation finished without ${csv}`);
      return { summary: { stages }, outputs: [csv, manifestPath(runDir)] };
    },
  );
  const curateTimings = curateStage.stages ?? [];
  const manifest = await readManifest(manifestPath(runDir));
  const truth = new Map<string, boolean>();
  for (const r of manifest) if (typeof r.corresponds === 'boolean') truth.set(r.id, r.corresponds);
  const curatedRanking = readSelectionCsv(path.join(runDir, 'selection.csv')).map((r) => r.id);

  // 4. Arms: training sets of equal size.
  const armsStage = await ledger.run<ArmsSummary>(
    'arms',
    { manifest: stableKey(manifest.map((r) => r.id)), curated: stableKey(curatedRanking), arms: exp.arms, armSize: exp.armSize, seed: config.seed },
    async () => {
      const armNotes: string[] = [];
      const armSize = Math.min(exp.armSize ?? curatedRanking.length, manifest.length);
      const ids = manifest.map((r) => r.id);
      const out: ArmsSummary['arms'] = [];
      let contrastiveCsv: string | undefined;
      for (const arm of exp.arms) {
        let members: string[];
        switch (arm) {
          case 'curated':
            members = curatedRanking.slice(0, armSize);
            if (members.length < armSize) armNotes.push(`curated arm: selection.csv holds ${members.length} clips, fewer than the arm size ${armSize}`);
            break;
          case 'random':
            members = sampleIds(ids, armSize, Rng.derive(config.seed, 'arm-random'));
            break;
          case 'clean': {
            const positives = ids.filter((id) => truth.get(id) === true);
            if (positives.length === 0) throw new Error('arm "clean" needs ground truth (corresponds) in the manifest; remove it from experiment.arms');
            if (positives.length < armSize) armNotes.push(`clean arm: only ${positives.length} truly corresponding clips, fewer than the arm size ${armSize}`);
            members = sampleIds(positives, armSize, Rng.derive(config.seed, 'arm-clean'));
            break;
          }
          case 'contrastive': {
            // The same scorer and settings as `select --method contrastive` (selection.contrastive).
            const feats = await readAllFeatures(runDir);
            const scores = await contrastiveClipScores(feats, config.selection.contrastive, { seed: config.seed, backend: config.ssl.backend });
            const pos = new Map(feats.ids.map((id, i) => [id, i]));
            const clips = manifest.filter((r) => pos.has(r.id));
            contrastiveCsv = path.join(expDir, 'selection.contrastive.csv');
            const rows = await writeScoreSelection(contrastiveCsv, clips, Float32Array.from(clips, (c) => scores[pos.get(c.id)!]), { size: clips.length });
            members = rows.slice(0, armSize).map((r) => r.id);
            break;
          }
          case 'pool':
            members = ids.slice();
            break;
          case 'untrained':
            members = [];
            break;
        }
        const file = path.join(expDir, 'arms', `${arm}.json`);
        await writeJsonAtomic(file, { arm, ids: members });
        out.push({ arm, file, size: members.length });
      }
      const outputs = out.map((a) => a.file);
      if (contrastiveCsv) outputs.push(contrastiveCsv);
      return { summary: { armSize, arms: out, contrastiveCsv, notes: armNotes }, outputs };
    },
  );
  notes.push(...armsStage.notes);
  const armIds = new Map<ArmName, string[]>();
  for (const a of armsStage.arms) armIds.set(a.arm, (JSON.parse(await fsp.readFile(a.file, 'utf8')) as { ids: string[] }).ids);

  // 5. Downstream tasks: the held-out clips of the corpus, plus configured datasets.
  const probeCfg = config.probe;
  const tasks: Array<ArmTaskJob & { clips: ClipRef[] }> = [];
  const byIdSeconds = config.corpus.synth?.seconds ?? config.experiment.realPairs?.seconds ?? config.ingest.clipSeconds;
  if (split.heldOutFile && split.heldOut > 0) {
    const rows = readRows(split.heldOutFile).filter((r) => r.corresponds !== false);
    const key = exp.taskLabel === 'visual' ? 'visual_class' : 'audio_class';
    const usable = rows.filter((r) => r[key] !== undefined);
    const classes = sortedClasses(usable.map((r) => r[key] as string | number));
    if (classes.length >= 2 && usable.length >= 4) {
      const index = new Map(classes.map((c, i) => [c, i]));
      const labels = usable.map((r) => index.get(String(r[key]))!);
      const splits = resolveSplits({ labels }, exp.taskProtocol as SplitProtocol, Rng.derive(config.seed, 'task-splits', 'heldout'));
      const base = {
        cacheDir: path.join(runDir, 'tensors'),
        ids: usable.map((r) => `heldout:${r.id}`),
        labels,
        classes: classes.length,
        clips: usable.map((r) => ({ id: `heldout:${r.id}`, source: r.file, start: 0, duration: byIdSeconds })),
      };
      tasks.push({ name: `heldout-${exp.taskLabel}`, ...base, splits });
      // The same clips with few labelled examples per class (the same embeddings, other splits).
      const perClass = classes.map((_, c) => labels.filter((l) => l === c).length);
      for (const shots of exp.fewShot?.shots ?? []) {
        const fewest = Math.min(...perClass);
        if (fewest <= shots) {
          notes.push(`${shots}-shot task skipped: class ${classes[perClass.indexOf(fewest)]} has ${fewest} corresponding held-out clip(s); it needs more than ${shots}`);
          continue;
        }
        const protocol: SplitProtocol = { kind: 'fewshot', shots, episodes: exp.fewShot!.episodes };
        const fs = resolveSplits({ labels }, protocol, Rng.derive(config.seed, 'task-splits', 'heldout', `${shots}shot`));
        tasks.push({ name: `heldout-${exp.taskLabel}-${shots}shot`, ...base, ids: base.ids.slice(), labels: labels.slice(), splits: fs });
      }
    } else notes.push(`held-out task skipped: ${usable.length} corresponding held-out clips in ${classes.length} class(es)`);
  }
  const baseDir = config.configFile ? path.dirname(config.configFile) : process.cwd();
  for (const t of exp.tasks) {
    const ds = loadProbeDataset(t.dataset, baseDir);
    if (ds.missing.length > 0) notes.push(`task ${t.name}: ${ds.missing.length} listed file(s) not found, e.g. ${ds.missing[0].reason}`);
    const protocol = (t.protocol ?? probeCfg.protocol) as SplitProtocol;
    const splits = resolveSplits({ labels: ds.items.map((i) => i.label), folds: ds.folds, splits: ds.splits }, protocol, Rng.derive(config.seed, 'task-splits', t.name));
    tasks.push({
      name: t.name,
      cacheDir: path.join(runDir, `tensors-${t.name}`),
      ids: ds.items.map((i) => i.id),
      labels: ds.items.map((i) => i.label),
      classes: ds.classes.length,
      splits,
      clips: ds.items.map((i) => ({ id: i.id, source: i.file, start: i.start ?? 0, duration: i.duration ?? probeCfg.clipSeconds ?? byIdSeconds })),
    });
  }
  if (tasks.length === 0) throw new Error('experiment: no downstream task (set experiment.heldOut > 0 with a labelled corpus, or add experiment.tasks)');

  // 6. Decode every clip once into the model's input shapes: loaders tensor caches.
  const dataCfg = { ssl: config.ssl, loader: config.loader };
  const mainDir = path.join(runDir, 'tensors');
  const trainClips: ClipRef[] = manifest.map((r: ClipRecord) => ({ id: r.id, source: r.source, start: r.start, duration: r.duration, probe: r.probe }));
  const seenClips = new Set<string>();
  const mainClips = [...trainClips, ...tasks.filter((t) => t.cacheDir === mainDir).flatMap((t) => t.clips)].filter((c) => {
    if (seenClips.has(c.id)) return false;
    seenClips.add(c.id);
    return true;
  });
  const cacheGroups: Array<{ dir: string; clips: ClipRef[] }> = [{ dir: mainDir, clips: mainClips }];
  for (const t of tasks) if (t.cacheDir !== mainDir) cacheGroups.push({ dir: t.cacheDir, clips: t.clips });
  const cacheKeys = new Map<string, string>();
  for (const g of cacheGroups) {
    const stage = `tensors${g.dir === mainDir ? '' : `-${path.basename(g.dir).slice('tensors-'.length)}`}`;
    const fingerprint = stableKey({ clips: stableKey(g.clips), ssl: config.ssl.model, decode: config.loader.decode, seed: config.seed });
    cacheKeys.set(g.dir, fingerprint);
    const built = await ledger.run<{ count: number; failed: Array<{ id: string; reason: string }> }>(stage, { fingerprint }, async () => {
      const progress = new Progress(`decode clips (${stage})`, { total: g.clips.length, unit: 'clips', silent });
      const r = await buildModelCache({ dataset: fromArray(g.clips) }, g.dir, dataCfg, { seed: config.seed, fingerprint, onItem: (k) => progress.set(k) });
      progress.finish();
      const kept = new Set(r.index.keys);
      const reasons = r.index.skipped.flatMap((s) => s.errors);
      const failed = g.clips.filter((c) => !kept.has(c.id)).map((c) => ({ id: c.id, reason: reasons.find((e) => e.startsWith(`${c.id}:`)) ?? 'not decoded' }));
      return { summary: { count: r.index.count, failed }, outputs: [path.join(g.dir, 'index.json')] };
    });
    const failed = built.failed;
    if (failed.length > 0) {
      notes.push(`${failed.length} clip(s) could not be decoded for ${stage} (e.g. ${failed[0].id}: ${failed[0].reason})`);
      const bad = new Set(failed.map((f) => f.id));
      if (g.dir === mainDir) for (const [arm, ids] of armIds) armIds.set(arm, ids.filter((id) => !bad.has(id)));
      for (const t of tasks) {
        if (t.cacheDir !== g.dir) continue;
        const keep = t.ids.map((id, i) => (bad.has(id) ? -1 : i)).filter((i) => i >= 0);
        if (keep.length < t.ids.length) {
          const remap = new Map(keep.map((old, neu) => [old, neu]));
          t.ids = keep.map((i) => t.ids[i]);
          t.labels = keep.map((i) => t.labels[i]);
          t.splits = t.splits.map((s) => ({ name: s.name, train: s.train.filter((i) => remap.has(i)).map((i) => remap.get(i)!), test: s.test.filter((i) => remap.has(i)).map((i) => remap.get(i)!) }));
        }
      }
    }
  }

  // 7. Pretrain and probe every arm and seed, in parallel processes.
  const tensorsKey = cacheKeys.get(mainDir)!;
  const jobs: ArmJob[] = [];
  for (const arm of exp.arms) {
    for (const seed of exp.seeds) {
      jobs.push({
        arm,
        seed,
        cacheDir: mainDir,
        trainIds: armIds.get(arm)!,
        outDir: path.join(runDir, 'ssl', `${arm}-s${seed}`),
        ssl: config.ssl,
        loader: config.loader,
        tasks: tasks.map(({ clips: _c, ...t }) => t),
        probe: {
          modalities: probeCfg.modalities as ProbeModality[],
          layer: probeCfg.layer,
          lambdas: probeCfg.lambdas,
          valFraction: probeCfg.valFraction,
          maxIter: probeCfg.maxIter,
          topK: probeCfg.topK,
          batchSize: probeCfg.batchSize,
        },
        resultFile: path.join(runDir, 'probe', `${arm}-s${seed}.json`),
        silent,
      });
    }
  }
  const parallel = opts.inProcess ? 1 : opts.parallel ?? exp.parallel ?? defaultConcurrency();
  const pool = new Pool(parallel);
  if (!silent) log(`experiment: ${jobs.length} arm runs (${exp.arms.length} arms x ${exp.seeds.length} seeds), ${parallel} at a time`);
  const armResults = await pool.map(jobs, (job) =>
    ledger.run<ArmResultFile>(`arm-${job.arm}-s${job.seed}`, { ...job, silent: undefined }, async () => {
      const jobFile = path.join(expDir, 'jobs', `${job.arm}-s${job.seed}.json`);
      // A checkpoint folder left by training with other inputs (ssl config, training set) is not
      // resumed from: it is removed. The same training killed mid-way resumes from its latest
      // checkpoint; a change of the probe settings alone re-probes without retraining.
      const key = stableKey({ arm: job.arm, seed: job.seed, trainIds: job.trainIds, ssl: job.ssl, loader: job.loader, tensors: tensorsKey });
      const keyFile = path.join(job.outDir, 'job.key');
      const previous = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : null;
      if (previous !== key && existsSync(job.outDir)) await fsp.rm(job.outDir, { recursive: true, force: true });
      await fsp.mkdir(job.outDir, { recursive: true });
      await writeFileAtomic(keyFile, key + '\n');
      await writeJsonAtomic(jobFile, job);
      const result = opts.inProcess ? await runArmJob(job) : await runWorker(jobFile, `${job.arm}/s${job.seed}`, silent);
      return { summary: result, outputs: [job.resultFile] };
    }),
  );

  // 8. Results and report.
  const probes: ProbeRecord[] = [];
  for (const r of armResults) {
    for (const [task, byModality] of Object.entries(r.tasks)) {
      for (const [modality, pr] of Object.entries(byModality)) {
        if (!pr) continue;
        probes.push({ arm: r.arm, seed: r.seed, task, modality: modality as ProbeModality, top1: pr.top1, topK: pr.topK, k: pr.k, chance: pr.chance, top1StdOverSplits: pr.top1Std });
      }
    }
  }
  const positives = [...truth.values()].filter(Boolean).length;
  const hasTruth = truth.size > 0;
  const selection: SelectionSummary[] = [];
  const summarise = (method: string, ranking: string[], selected: number, objective?: Array<{ size: number; objective: number }>): SelectionSummary => ({
    method,
    selected,
    precision: hasTruth ? precisionAt(ranking, truth, selected) : undefined,
    precisionAtPositives: hasTruth && positives > 0 ? precisionAt(ranking, truth, positives) : undefined,
    precisionAtRatio: hasTruth ? precisionAt(ranking, truth, Math.max(1, Math.round(0.2 * manifest.length))) : undefined,
    curve: hasTruth ? precisionCurve(ranking, truth, { keep: positives > 0 ? [positives] : [] }) : [],
    ...(objective ? { objective } : {}),
  });
  const curatedRows = readSelectionCsv(path.join(runDir, 'selection.csv'));
  const thin = Math.max(1, Math.ceil(curatedRows.length / 200));
  selection.push(
    summarise(
      'mi',
      curatedRanking,
      armsStage.armSize,
      curatedRows.filter((_, i) => i % thin === 0 || i === curatedRows.length - 1).map((r) => ({ size: r.rank, objective: r.objective })),
    ),
  );
  const selectSeconds = curateTimings.find((t) => t.stage === 'select')?.seconds;
  if (selectSeconds !== undefined) selection[0].seconds = selectSeconds;
  if (armsStage.contrastiveCsv) selection.push(summarise('contrastive', readSelectionCsv(armsStage.contrastiveCsv).map((r) => r.id), armsStage.armSize));
  selection.push(summarise('random', sampleIds(manifest.map((r) => r.id), manifest.length, Rng.derive(config.seed, 'arm-random')), armsStage.armSize));

  const arms: ArmSummary[] = exp.arms.map((arm) => {
    const ids = armIds.get(arm)!;
    const rs = armResults.filter((r) => r.arm === arm);
    return { arm, description: ARM_DESCRIPTIONS[arm], size: ids.length, precision: hasTruth ? precisionOf(ids, truth) : undefined, steps: rs[0]?.steps, seeds: rs.map((r) => r.seed) };
  });

  const byId = new Map(manifest.map((r) => [r.id, r]));
  const curatedSet = new Set(curatedRanking);
  const preview = (r: ClipRecord, selected: boolean, rank?: number): ClipPreview => ({
    id: r.id,
    file: r.source,
    start: r.start,
    duration: r.duration,
    selected,
    ...(rank !== undefined ? { rank } : {}),
    ...(r.corresponds !== undefined ? { corresponds: r.corresponds } : {}),
    ...(r.visual_class !== undefined ? { visualClass: r.visual_class } : {}),
    ...(r.audio_class !== undefined ? { audioClass: r.audio_class } : {}),
  });
  const nShow = exp.report.clips;
  // Selected clips spread evenly over the ranking (rank 1 first), so the grid shows its range.
  const shownRanks = [...new Set(Array.from({ length: Math.min(nShow, curatedRanking.length) }, (_, i) => Math.floor((i * curatedRanking.length) / Math.min(nShow, curatedRanking.length))))];
  const selectedPreview = shownRanks.map((r) => preview(byId.get(curatedRanking[r])!, true, r + 1));
  const rejected = manifest.filter((r) => !curatedSet.has(r.id));
  const rejectedPreview = sampleIds(rejected.map((r) => r.id), nShow, Rng.derive(config.seed, 'report-rejected'))
    .sort()
    .map((id) => preview(byId.get(id)!, false));

  const expectations: ExpectationCheck[] = [];
  const mi = selection[0];
  if (mi.precision !== undefined) {
    expectations.push({ name: 'curated selection precision', value: mi.precision, target: `>= ${exp.expect.selectionPrecision}`, pass: mi.precision >= exp.expect.selectionPrecision });
  }
  const agg = aggregateProbes(probes);
  for (const task of tasks) {
    for (const mod of exp.expect.modalities) {
      const get = (arm: string) => agg.find((a) => a.arm === arm && a.task === task.name && a.modality === mod)?.top1;
      const cur = get('curated');
      const rnd = get('random');
      const cln = get('clean');
      if (cur !== undefined && rnd !== undefined) {
        expectations.push({ name: `${task.name} (${mod}): curated − random top-1`, value: cur - rnd, target: `>= ${exp.expect.curatedOverRandom}`, pass: cur - rnd >= exp.expect.curatedOverRandom });
      }
      if (cur !== undefined && cln !== undefined) {
        expectations.push({ name: `${task.name} (${mod}): clean − curated top-1`, value: cln - cur, target: `<= ${exp.expect.curatedWithinClean}`, pass: cln - cur <= exp.expect.curatedWithinClean });
      }
    }
  }

  const { configFile: _cf, ...resolved } = config;
  const results: ExperimentResults = {
    version: RESULTS_VERSION,
    name: config.name,
    createdAt: new Date().toISOString(),
    runDir,
    pool: {
      clips: manifest.length,
      ...(hasTruth ? { positives } : {}),
      ...(config.corpus.synth ? { classes: config.corpus.synth.classes, mismatch: config.corpus.synth.mismatch } : {}),
      ...(config.experiment.realPairs ? { mismatch: config.experiment.realPairs.mismatch } : {}),
      heldOut: split.heldOut,
    },
    selection,
    arms,
    probes,
    clips: [...selectedPreview, ...rejectedPreview],
    timings: ledger.timings
      .flatMap((t) => (t.stage === 'curate' && curateTimings.length > 0 ? curateTimings.map((c) => ({ stage: `curate: ${c.stage}`, seconds: c.seconds, status: t.status })) : [t])),
    wallSeconds: (performance.now() - t0) / 1000,
    expectations,
    notes,
    config: resolved,
  };
  const resultsFile = path.join(runDir, 'results.json');
  await writeJsonAtomic(resultsFile, results);
  const reportFile = path.join(runDir, 'report.html');
  await writeReport(results, reportFile, { images: exp.report.images });
  return { results, resultsFile, reportFile, table: formatResultsTable(results) };
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const c of running) {
      try {
        c.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Run one arm job in a worker process; its progress lines are prefixed with the arm name. */
async function runWorker(jobFile: string, label: string, silent: boolean): Promise<ArmResultFile> {
  installExitHook();
  // From sources the worker file is TypeScript and needs tsx (a dev dependency); compiled, plain node runs it.
  const loader = ARM_WORKER_FILE.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  const child = spawn(process.execPath, [...loader, ARM_WORKER_FILE, jobFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(silent ? { AVCURATE_QUIET: '1' } : {}) } });
  running.add(child);
  let tail = '';
  const relay = (chunk: Buffer, stream: NodeJS.WriteStream) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-4000);
    if (silent) return;
    for (const line of text.split(/\r?\n|\r/)) if (line.trim()) stream.write(`[${label}] ${line}\n`);
  };
  child.stdout!.on('data', (c: Buffer) => relay(c, process.stderr));
  child.stderr!.on('data', (c: Buffer) => relay(c, process.stderr));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  running.delete(child);
  if (code !== 0) throw new Error(`arm ${label} failed (exit ${code}):\n${tail.trim().split('\n').slice(-8).join('\n')}`);
  const job = JSON.parse(await fsp.readFile(jobFile, 'utf8')) as ArmJob;
  return JSON.parse(await fsp.readFile(job.resultFile, 'utf8')) as ArmResultFile;
}

