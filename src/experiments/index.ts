/**
 * The experiment runner (curate → pretrain arms → probe → results.json + report.html), its stage
 * ledger, and the report.
 */
export { runExperiment, formatResultsTable, type ExperimentOptions, type ExperimentOutcome } from './runner.js';
export { StageLedger, stableKey, type StageRecord, type StageResult } from '../run/ledger.js';
export { runArmJob, type ArmJob, type ArmResultFile, type ArmTaskJob } from './arm-worker.js';
export { holdOut, sampleIds, precisionOf, precisionCurve, precisionAt, type LabelledClip } from './arms.js';
export { renderReport, writeReport, reportPlots, renderSvg, clipImages, type ReportOptions, type ReportPlot } from './report.js';
export {
  RESULTS_VERSION, type PoolSummary, type CurvePoint, type ObjectivePoint, type SelectionSummary,
  type ArmSummary, type ResultModality, type ProbeRecord, type ClipPreview, type ExpectationCheck,
  type ExperimentResults, meanStd, type ProbeAggregate, aggregateProbes, validateResults, type StageTiming,
} from './results.js';
export { registerSslEncoders, usesEncoders, sslBootstrapTrainer, runSslBootstrap } from './encoders.js';
