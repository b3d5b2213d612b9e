export {
  Standardizer, fitLogReg, predictScores, topKAccuracy, toMatrix, logits, type Matrix, type LogRegModel,
  type LogRegOptions, linearProbe, chooseLambda, DEFAULT_LAMBDAS, type LinearProbeOptions, type ProbeResult,
  type SplitResult, stratifiedFolds, foldsToSplits, stratifiedHoldout, resolveSplits, type ProbeSplit,
  type SplitProtocol, type SplittableDataset, modalityMatrix, availableModalities, probeModalities,
  PROBE_MODALITIES, type ProbeEmbeddings, type ProbeModality, loadFolderDataset, loadCsvDataset, loadEsc50,
  loadUcf101, loadKineticsCsv, loadSynthDataset, loadProbeDataset, MEDIA_EXTENSIONS, type ProbeItem,
  type ProbeDataset, type DatasetSpec, type SynthLabelRow, parseCsv, runProbe, formatProbe, type ProbeFile,
  type ProbeStageOptions,
} from './probe/index.js';
export { type TowerOutput, type ForwardOutput, type BnUpdate, AvModel, validateSpec } from './model.js';
export { type InfoNceOutput, l2Normalize, infoNce, retrievalAccuracy, infoNceReference } from './loss.js';
export { type ScheduleOptions, learningRate, type AdamWOptions, type AdamWParam, AdamW } from './optim.js';
export {
  CHECKPOINT_FORMAT, CHECKPOINT_VERSION, FileIOHandler, type CheckpointMeta, type LoadedCheckpoint,
  stepDirName, saveCheckpoint, resolveCheckpoint, loadCheckpoint,
} from './checkpoint.js';
export {
  type SslBatch, type BatchDims, batchSize, type SslDataConfig, modelInputs, toSslBatch,
  type SslBatchesOptions, sslTrainingBatches, sslEmbeddingBatches, buildModelCache, type SyntheticPairs,
  syntheticPairs, syntheticSource,
} from './data.js';
export {
  type StepMetrics, type TrainDataInput, type PretrainOptions, type PretrainResult, modelDims, lossAndGrads,
  pretrain, loadModel, type EmbedOptions, type Embeddings, embed, retrievalFromEmbeddings,
} from './trainer.js';
export {
  type ContrastiveOptions, contrastiveScores, type ContrastiveLayer, contrastiveInput,
  contrastiveClipScores,
} from './contrastive-select.js';
export {
  type EncoderLayerInfo, type SslEncoder, checkpointStepDir, checkpointDigest, openEncoder,
} from './encoder-session.js';
