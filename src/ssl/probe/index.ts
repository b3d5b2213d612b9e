/**
 * Linear probes on frozen embeddings: L2 multinomial logistic regression (L-BFGS), standardisation
 * fitted on training rows, lambda chosen on a validation split, top-1/top-k; evaluation protocols
 * (k folds, predefined splits, hold-out); downstream dataset adapters (folder per class, CSV,
 * ESC-50, UCF101, Kinetics-style CSV, synthetic labels).
 */
export { Standardizer, fitLogReg, predictScores, topKAccuracy, toMatrix, logits, type Matrix, type LogRegModel, type LogRegOptions } from './logreg.js';
export { linearProbe, chooseLambda, DEFAULT_LAMBDAS, type LinearProbeOptions, type ProbeResult, type SplitResult } from './linear-probe.js';
export { stratifiedFolds, foldsToSplits, stratifiedHoldout, resolveSplits, type ProbeSplit, type SplitProtocol, type SplittableDataset } from './splits.js';
export { modalityMatrix, availableModalities, probeModalities, PROBE_MODALITIES, type ProbeEmbeddings, type ProbeModality } from './embeddings.js';
export {
  loadFolderDataset,
  loadCsvDataset,
  loadEsc50,
  loadUcf101,
  loadKineticsCsv,
  loadSynthDataset,
  loadProbeDataset,
  MEDIA_EXTENSIONS,
  type ProbeItem,
  type ProbeDataset,
  type DatasetSpec,
  type SynthLabelRow,
} from './datasets.js';
export { parseCsv } from '../../runtime/csv.js';
export { runProbe, formatProbe, type ProbeFile, type ProbeStageOptions } from './stage.js';
