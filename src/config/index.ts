export {
  ConfigSchema, type Config, CorpusSchema, IngestSchema, FeaturesSchema, ClusteringSchema, SelectionSchema,
  EvaluationSchema, LoaderSchema, SslSchema, ProbeSchema, ExperimentSchema, LaunchSchema, IncrementalSchema,
} from './schema.js';
export { parseConfig, applyOverride, loadConfig, snapshotConfig, ConfigError } from './load.js';
export { formatPath, formatIssues } from './errors.js';
export { SynthSchema, type SynthConfig, type CorpusConfig } from './sections/corpus.js';
export { type IngestConfig } from './sections/ingest.js';
export { CONFIG_DEFAULTS, SYNTH_DEFAULTS, ONNX_EXTRACTOR_DEFAULTS, ONNX_OUTPUT_DEFAULTS, MOBILENET_DEFAULTS, BUILTIN_DEFAULTS, defaultsOf, type DefaultsOf } from './defaults.js';
