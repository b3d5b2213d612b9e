/**
 * Experiment stage 8: results.json (selection precision of each ranking, arm summaries, probe
 * results, clip previews, expectation checks, timings), report.html, and the table on stdout.
 */
import type { ClipRecord } from '../../run/manifest.js';
import type { ProbeModality } from '../../ssl/probe/embeddings.js';
import { readSelectionCsv } from '../../run/selection.js';
import { runLayout } from '../../run/layout.js';
import { ManifestIndex } from '../../run/manifest.js';
import { Rng } from '../../runtime/random.js';
import { writeJsonAtomic } from '../../runtime/atomic.js';
import { precisionAt, precisionCurve, precisionOf, sampleIds } from '../arms.js';
import type { ArmResultFile } from '../arm-worker.js';
import { ARMS } from '../arms/registry.js';
import { RESULTS_VERSION, aggregateProbes, topPct, type ArmSummary, type ClipPreview, type ExpectationCheck, type ExperimentResults, type ProbeRecord, type SelectionSummary } from '../results.js';
import { writeReport } from '../report.js';
import type { ExperimentContext } from '../context.js';
import type { SplitSummary } from './corpus.js';
import type { Curation } from './curate.js';
import type { ArmSets } from './arms.js';
import type { TaskPlan } from './tasks.js';

export interface ExperimentOutcome {
  results: ExperimentResults;
  resultsFile: string;
  reportFile: string;
  table: string;
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
      lines.push(`  ${s.method.padEnd(12)} selected ${String(s.selected).padStart(5)}  precision ${s.precision?.toFixed(3) ?? '–'}  at #positives ${s.precisionAtPositives?.toFixed(3) ?? '–'}  at top ${topPct(s.topRatio)} ${s.precisionAtRatio?.toFixed(3) ?? '–'}`);
    }
  }
  for (const e of r.expectations ?? []) lines.push(`${e.pass ? 'met    ' : 'NOT met'}  ${e.name}: ${e.value.toFixed(3)} (target ${e.target})`);
  for (const n of r.notes ?? []) lines.push(`note: ${n}`);
  if (r.wallSeconds !== undefined) lines.push(`wall clock: ${r.wallSeconds.toFixed(1)} s`);
  return lines.join('\n');
}

export async function resultsStage(
  ctx: ExperimentContext,
  inputs: { split: SplitSummary; curation: Curation; arms: ArmSets; tasks: TaskPlan[]; armResults: ArmResultFile[]; t0: number },
): Promise<ExperimentOutcome> {
  const { config, runDir, ledger, notes } = ctx;
  const exp = config.experiment;
  const { split, arms, tasks, armResults, t0 } = inputs;
  const { manifest, truth, curatedRanking, selectionFile, timings: curateTimings } = inputs.curation;
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
    precisionAtRatio: hasTruth ? precisionAt(ranking, truth, Math.max(1, Math.round(config.evaluation.topRatio * manifest.length))) : undefined,
    topRatio: config.evaluation.topRatio,
    curve: hasTruth ? precisionCurve(ranking, truth, { keep: positives > 0 ? [positives] : [] }) : [],
    ...(objective ? { objective } : {}),
  });
  const curatedRows = readSelectionCsv(selectionFile);
  const thin = Math.max(1, Math.ceil(curatedRows.length / 200));
  selection.push(
    summarise(
      'mi',
      curatedRanking,
      arms.armSize,
      curatedRows.filter((_, i) => i % thin === 0 || i === curatedRows.length - 1).map((r) => ({ size: r.rank, objective: r.objective })),
    ),
  );
  const selectSeconds = curateTimings.find((t) => t.stage === 'select')?.seconds;
  if (selectSeconds !== undefined) selection[0].seconds = selectSeconds;
  for (const r of arms.rankings) selection.push(summarise(r.method, readSelectionCsv(r.file).map((x) => x.id), arms.armSize));
  selection.push(summarise('random', sampleIds(manifest.map((r) => r.id), manifest.length, Rng.derive(config.seed, 'arm-random')), arms.armSize));

  const armSummaries: ArmSummary[] = exp.arms.map((arm) => {
    const ids = arms.ids.get(arm)!;
    const rs = armResults.filter((r) => r.arm === arm);
    return { arm, description: ARMS[arm].description, size: ids.length, precision: hasTruth ? precisionOf(ids, truth) : undefined, steps: rs[0]?.steps, seeds: rs.map((r) => r.seed) };
  });

  const byId = new ManifestIndex(manifest, runLayout(runDir).manifest);
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
  const selectedPreview = shownRanks.map((r) => preview(byId.get(curatedRanking[r], `${selectionFile}: rank ${r + 1}`), true, r + 1));
  const rejected = manifest.filter((r) => !curatedSet.has(r.id));
  const rejectedPreview = sampleIds(rejected.map((r) => r.id), nShow, Rng.derive(config.seed, 'report-rejected'))
    .sort()
    .map((id) => preview(byId.get(id, 'the pool'), false));

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
      ...(config.corpus.realPairs ? { mismatch: config.corpus.realPairs.mismatch } : {}),
      heldOut: split.heldOut,
    },
    selection,
    arms: armSummaries,
    probes,
    clips: [...selectedPreview, ...rejectedPreview],
    timings: ledger.timings
      .flatMap((t) => (t.stage === 'curate' && curateTimings.length > 0 ? curateTimings.map((c) => ({ stage: `curate: ${c.stage}`, seconds: c.seconds, status: t.status })) : [t])),
    wallSeconds: (performance.now() - t0) / 1000,
    expectations,
    notes,
    config: resolved,
  };
  const resultsFile = runLayout(runDir).results;
  await writeJsonAtomic(resultsFile, results);
  const reportFile = runLayout(runDir).report;
  await writeReport(results, reportFile, { images: exp.report.images });
  return { results, resultsFile, reportFile, table: formatResultsTable(results) };
}
