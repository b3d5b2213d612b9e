export {
  type ClipRecord, type ClipProbe, type ClipWindow, clipWindows, type ContentStats, contentStats,
  MEDIA_EXTENSIONS, type InputItem, type IngestOptions, type IngestResult, videoIdFor, discoverInputs,
  ingestOne, ingest, manifestPath, readManifest, ManifestIndex, corpusDir, runSynth, runIngest,
} from './manifest/index.js';
export {
  type FeatureModality, type FeatureLayer, type FeatureShard, FEATURE_SHARD_PATTERN, writeFeatureShard,
  readFeatureShard, readFeatureShardAttrs, listFeatureShards, featureShardPath, readAllFeatures,
  ExtractorFatalError, type LayerSpec, type Extractor, type AnyExtractor, type Pooling, poolRows,
  checkBatchResult, type RgbImage, type Layout, type NormalisePreset, NORMALISE_PRESETS,
  type NormalisePresetName, normalisePreset, sampleFrameIndices, clipFrame, type Interpolation, resizeImage,
  resizePlane, shortSideSize, resizeShortSide, centerCrop, type ChannelOrder, type ResizePolicy,
  type FramePreprocess, PREPROCESS_PRESETS, type PreprocessPresetName, PREPROCESS_PRESET_NAMES,
  resolvePreprocess, neededFrameSize, type FrameSampling, sampleViews, type FramePrepOptions, resizeAndCrop,
  prepareFrames, BUILTIN_AUDIO_LAYERS, type AudioInput, builtinAudioFeatures, BuiltinAudioExtractor,
  BUILTIN_VISUAL_LAYERS, type BuiltinVisualOptions, DEFAULT_BUILTIN_VISUAL, type VisualInput,
  builtinVisualFeatures, BuiltinVisualExtractor, type WorkerTask, defaultDescriptorWorkers,
  DescriptorWorkers, type TokenPooling, type OnnxOutputSpec, type PerProvider, type OnnxExtractorOptions,
  type OnnxPrepared, sanitiseLayerName, type OutputReduction, reduceOutput, reduceToChannels, OnnxExtractor,
  onnxFramePreprocess, loadOnnxRuntime, MissingPackageError, findPackageDir, MOBILENET_DEFAULT_LAYERS,
  type MobileNetOptions, MobileNetExtractor, type OpenWakeWordOptions, OpenWakeWordExtractor, EXTRACT_STAGE,
  FEATURE_FORMAT, type ExtractorSet, type BuildExtractorsOptions, buildExtractors, type ResolvedDecode,
  resolveDecode, describeLayers, featuresConfigHash, resolveSource, type ExtractOptions, type ExtractResult,
  runExtract, prefetchOrdered, type EncoderInputs, type EncoderSession, type EncoderProvider,
  registerEncoderProvider, encoderProvider, windowFrameIndices, type EncoderPrepared, EncoderExtractor, digestOf,
} from './features/index.js';
export {
  writeClusters, readClusters, readClustersAttrs, CLUSTERS_FORMAT, CLUSTERS_VERSION, type ClusterFile,
  type ClusteringInfo, type ClusterModality, NearestCentroid, assignJs, pairwiseSqDist,
  releaseKernelSessions, assignGraph, type KernelBackend, type KernelOptions, type AssignResult, kmeans,
  kmeansPlusPlus, distinctRows, KMeansInputError, type KMeansOptions, type KMeansResult, fitTransform,
  applyTransform, transformedDim, l2NormalizeRows, fitPcaWhitening, symmetricEigen, fitStandardisation,
  applyStandardisation, type Standardisation, JOINT_LAYER, type FeatureTransform,
  type PcaWhitening, type TransformOptions, readClusterModel, writeClusterModel, MODEL_FORMAT,
  type ClusterModel, type FittedClustering, runCluster, assignShard, planClusterings, clusterPaths,
  ClusterStageError, type ClusterStageOptions, type ClusterStageResult, type ClusteringSpec,
  plantedClusters, adjustedRandIndex, type PlantedClusters,
} from './clustering/index.js';
export {
  SELECTION_COLUMNS, formatSelectionCsv, parseSelectionCsv, readSelectionCsv, writeSelectionCsv,
  type SelectionRow, type Estimator, SelectionInputError, type LabelMatrix, xlogx, incrementTable,
  validateLabels, type ObjectiveOptions, MIObjective, type KernelStructure, type ObjectiveKernels,
  MAX_COMPILED_PAIRS, buildKernels, type PairingMode, type ClusteringMeta, type PairRef, type PairingSpec,
  clusteringName, resolvePairs, type Algorithm, type RankOrder, type RefineOptions, type SearchOptions,
  type RefineStats, type SearchResult, targetSize, searchSubset, refineSwaps, orderByLeaveOneOut,
  type GreedyOrderOptions, orderGreedy, replayObjective, type SelectLabelsOptions, selectFromLabels,
  type SelectionParams, type Partition, planPartitions, type PartitionResult, sliceRows, partitionRng,
  selectPartition, mergeByRelativeRank, type MergedSelection, mergePartitions, selectPartitioned,
  type PlantedOptions, type PlantedLabels, plantedLabels, precisionOf, rankToSelection, scoreColumns,
  type CutoffMetrics, type EvalSummary, type PrefixCurves, prefixCurves, TOP_RATIOS, type SummarizeOptions,
  summarizeRanking, formatSummary, SELECTION_PART_FORMAT, selectionPaths, type SelectionPool,
  poolFromClusters, selectionParams, selectionFingerprint, type SelectStageOptions, type SelectStageResult,
  type SelectionMeta, runSelect, writeScoreSelection, type EvalStageOptions, type EvalStageResult,
  truthLookup, runEvalSelection,
} from './selection/index.js';
export {
  type CurationStage, CURATION_STAGES, type CurationOptions, type StageTiming, type CurationResult,
  runCuration,
} from './pipeline.js';
export {
  type BootstrapTrainer, type RoundPrecision, type BootstrapRound, type BootstrapResult, BOOTSTRAP_DIR,
  ENCODER_NAME, BOOTSTRAP_ROUND_STAGE, usesEncoders, bootstrapDir, roundDir, encoderLayerNames, roundConfig, type BootstrapOptions, runBootstrap,
  formatRound, formatRounds,
} from './bootstrap.js';
