/**
 * results.json: every figure an experiment produced, in one object. The report is a pure
 * function of it (plus the clip files it makes images from), so a report can be rebuilt from a
 * finished run, and other tools can read the numbers without parsing HTML.
 */

export const RESULTS_VERSION = 1;

export interface PoolSummary {
  /** Clips in the pool (after ingest and pre-filters). */
  clips: number;
  /** Clips whose audio truly corresponds, where ground truth exists. */
  positives?: number;
  classes?: number;
  mismatch?: number;
  /** Clips held out from curation for the downstream probe. */
  heldOut?: number;
}

export interface CurvePoint {
  /** Subset size (prefix of the ranking). */
  size: number;
  precision: number;
  recall?: number;
}

export interface ObjectivePoint {
  size: number;
  objective: number;
}

/** The evaluation cut-off as printed: "20 %" (results written before it was recorded: "?"). */
export function topPct(ratio: number | undefined): string {
  return ratio === undefined ? '? %' : `${Number((100 * ratio).toFixed(1))} %`;
}

/** One selection method's outcome on the pool. */
export interface SelectionSummary {
  method: string;
  /** Clips this method selected (the arm's budget). */
  selected: number;
  /** Precision of the whole selected subset against ground truth. */
  precision?: number;
  /** Precision at |S| = number of positives, and at the top `topRatio` of the pool (config: evaluation.topRatio). */
  precisionAtPositives?: number;
  precisionAtRatio?: number;
  topRatio?: number;
  /** Precision (and recall) of every prefix of the ranking, possibly thinned. */
  curve: CurvePoint[];
  /** Running objective along the ranking (MI methods). */
  objective?: ObjectivePoint[];
  seconds?: number;
}

/** One pretraining arm: a training set and what was trained on it. */
export interface ArmSummary {
  arm: string;
  description: string;
  /** Clips in the arm's training set. */
  size: number;
  /** Fraction of the arm's clips whose audio corresponds, where ground truth exists. */
  precision?: number;
  /** Optimiser steps per seed (equal across arms of equal budget). */
  steps?: number;
  seeds: number[];
}

/** cross: cross-modal transfer in the shared projection space (see crossModalProbe). */
export type ResultModality = 'audio' | 'visual' | 'both' | 'cross';

/** One probe of one arm, seed, task and modality. */
export interface ProbeRecord {
  arm: string;
  seed: number;
  task: string;
  modality: ResultModality;
  top1: number;
  topK: number;
  k: number;
  chance: number;
  /** Spread over the task's folds/splits. */
  top1StdOverSplits?: number;
}

/** A clip shown in the report's grid. */
export interface ClipPreview {
  id: string;
  /** Media file (absolute, or relative to the run folder). */
  file: string;
  start?: number;
  duration?: number;
  selected: boolean;
  rank?: number;
  corresponds?: boolean;
  visualClass?: string | number;
  audioClass?: string | number;
}

export type { StageTiming } from '../run/ledger.js';
import type { StageTiming } from '../run/ledger.js';

/** A target the experiment was meant to reach, checked against the figures. */
export interface ExpectationCheck {
  name: string;
  value: number;
  target: string;
  pass: boolean;
}

export interface ExperimentResults {
  version: typeof RESULTS_VERSION;
  name: string;
  createdAt: string;
  runDir: string;
  pool: PoolSummary;
  selection: SelectionSummary[];
  arms: ArmSummary[];
  probes: ProbeRecord[];
  clips: ClipPreview[];
  /** Stage times (arm stages overlap when they run in parallel). */
  timings: StageTiming[];
  /** Wall-clock seconds of the run that wrote these results (skipped stages cost ~0). */
  wallSeconds?: number;
  expectations?: ExpectationCheck[];
  notes?: string[];
  /** The resolved config the run used. */
  config: unknown;
}

/** Mean and population standard deviation over a list (NaN mean for an empty list). */
export function meanStd(values: number[]): { mean: number; std: number; n: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  return { mean, std, n };
}

export interface ProbeAggregate {
  arm: string;
  task: string;
  modality: ResultModality;
  top1: number;
  top1Std: number;
  topK: number;
  k: number;
  chance: number;
  seeds: number;
}

/** Probe results averaged over seeds, per (arm, task, modality), in first-seen order. */
export function aggregateProbes(probes: ProbeRecord[]): ProbeAggregate[] {
  const groups = new Map<string, ProbeRecord[]>();
  for (const p of probes) {
    const key = `${p.arm}\u0000${p.task}\u0000${p.modality}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(p);
  }
  return [...groups.values()].map((g) => {
    const t1 = meanStd(g.map((p) => p.top1));
    return {
      arm: g[0].arm,
      task: g[0].task,
      modality: g[0].modality,
      top1: t1.mean,
      top1Std: t1.std,
      topK: meanStd(g.map((p) => p.topK)).mean,
      k: g[0].k,
      chance: g[0].chance,
      seeds: g.length,
    };
  });
}

/** Check the shape of a parsed results.json, naming the first problem. */
export function validateResults(value: unknown, file = 'results.json'): ExperimentResults {
  const r = value as Partial<ExperimentResults>;
  const fail = (what: string) => {
    throw new Error(`${file}: ${what}`);
  };
  if (typeof r !== 'object' || r === null) fail('not an object');
  if (r.version !== RESULTS_VERSION) fail(`version ${String(r.version)} is not ${RESULTS_VERSION}`);
  if (typeof r.name !== 'string') fail('name is missing');
  for (const key of ['selection', 'arms', 'probes', 'clips', 'timings'] as const) {
    if (!Array.isArray(r[key])) fail(`${key} must be a list`);
  }
  if (typeof r.pool !== 'object' || r.pool === null || typeof r.pool.clips !== 'number') fail('pool.clips is missing');
  for (const [i, p] of r.probes!.entries()) {
    if (typeof p.arm !== 'string' || typeof p.top1 !== 'number' || !['audio', 'visual', 'both', 'cross'].includes(p.modality)) fail(`probes[${i}] needs arm, modality and top1`);
  }
  return r as ExperimentResults;
}
