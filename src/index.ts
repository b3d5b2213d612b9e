export * as curation from './curation/index.js';
export * as loaders from './loaders/index.js';
export * as ssl from './ssl/index.js';
export * as media from './media/index.js';
export * as experiments from './experiments/index.js';
export * as runtime from './runtime/index.js';
export {
  ConfigSchema, type Config, CorpusSchema, IngestSchema, FeaturesSchema, ClusteringSchema, SelectionSchema,
  EvaluationSchema, LoaderSchema, SslSchema, ProbeSchema, ExperimentSchema, LaunchSchema, IncrementalSchema,
  parseConfig, applyOverride, loadConfig, snapshotConfig, ConfigError, formatPath, formatIssues,
  SynthSchema, type SynthConfig, type CorpusConfig, type IngestConfig,
} from './config/index.js';
