export {
  type FeatureModality, type FeatureLayer, type FeatureShard, FEATURE_SHARD_PATTERN, writeFeatureShard,
  readFeatureShard, readFeatureShardAttrs, listFeatureShards, featureShardPath, readAllFeatures,
} from './store.js';
export {
  ExtractorFatalError, type LayerSpec, type Extractor, type AnyExtractor, type Pooling, poolRows,
  checkBatchResult,
} from './extractor.js';
export {
  type RgbImage, type Layout, type NormalisePreset, NORMALISE_PRESETS, type NormalisePresetName,
  normalisePreset, sampleFrameIndices, clipFrame, type Interpolation, resizeImage, resizePlane,
  shortSideSize, resizeShortSide, centerCrop, type ChannelOrder, type ResizePolicy, type FramePreprocess,
  PREPROCESS_PRESETS, type PreprocessPresetName, PREPROCESS_PRESET_NAMES, resolvePreprocess,
  neededFrameSize, type FrameSampling, sampleViews, type FramePrepOptions, resizeAndCrop, prepareFrames,
} from './preprocess.js';
export {
  BUILTIN_AUDIO_LAYERS, type AudioInput, builtinAudioFeatures, BuiltinAudioExtractor,
} from './builtin-audio.js';
export {
  BUILTIN_VISUAL_LAYERS, type BuiltinVisualOptions, DEFAULT_BUILTIN_VISUAL, type VisualInput,
  builtinVisualFeatures, BuiltinVisualExtractor,
} from './builtin-visual.js';
export { type WorkerTask, defaultDescriptorWorkers, DescriptorWorkers } from './workers.js';
export {
  type TokenPooling, type OnnxOutputSpec, type PerProvider, type OnnxExtractorOptions, type OnnxPrepared,
  sanitiseLayerName, type OutputReduction, reduceOutput, reduceToChannels, OnnxExtractor,
  onnxFramePreprocess, loadOnnxRuntime,
} from './onnx.js';
export {
  MissingPackageError, findPackageDir, MOBILENET_DEFAULT_LAYERS, type MobileNetOptions, MobileNetExtractor,
  type OpenWakeWordOptions, OpenWakeWordExtractor,
} from './pretrained.js';
export {
  EXTRACT_STAGE, FEATURE_FORMAT, type ExtractorSet, type BuildExtractorsOptions, buildExtractors,
  type ResolvedDecode, resolveDecode, describeLayers, featuresConfigHash, resolveSource,
  type ExtractOptions, type ExtractResult, runExtract, prefetchOrdered,
} from './stage.js';
export {
  type EncoderInputs, type EncoderSession, type EncoderProvider, registerEncoderProvider, encoderProvider,
  windowFrameIndices, type EncoderPrepared, EncoderExtractor, digestOf,
} from './encoder.js';
