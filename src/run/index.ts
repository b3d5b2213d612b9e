/**
 * The run folder (src/run): its layout, a typed reader/writer per file format, the stage ledger
 * with fingerprints, and the id rule. Stages, the loaders and the experiment touch run files only
 * through this module. (Locks: ./lock.ts.)
 */
export { runLayout, SHARD_INDEX_NAME, MANIFEST_NAME, FAILURES_NAME, type RunLayout } from './layout.js';
export { ID_PATTERN, ID_RULE, ID_MAX_LENGTH, isId, assertId, toId, shardKey, isShardKey } from './ids.js';
export { canonicalJson, stableKey, fileDigest } from './hash.js';
export {
  StageLedger,
  StageRecordSchema,
  STAGE_RECORD_FORMAT,
  STAGE_RECORD_VERSION,
  fileStamp,
  stageFingerprint,
  stageDone,
  stageDoneSync,
  markDone,
  redoNote,
  forgetStage,
  stageShards,
  restampStage,
  readStageRecord,
  listStageRecords,
  stageRecordFile,
  type StageRecord,
  type StageResult,
  type StageTiming,
  type StageInputs,
  type StageFingerprint,
  type StageCheck,
  type MarkDoneOptions,
} from './ledger.js';
export {
  ClipRecordSchema,
  ClipProbeSchema,
  ClipIdSchema,
  ManifestIndex,
  ManifestJoinError,
  parseClipRecord,
  readManifest,
  readManifestIds,
  iterManifest,
  leadingId,
  writeManifest,
  type ClipRecord,
  type ClipProbe,
} from './manifest.js';
export { FailureLog, FailureRecordSchema, readFailures, type FailureRecord } from './failures.js';
export {
  SELECTION_COLUMNS,
  formatSelectionCsv,
  parseSelectionCsv,
  readSelectionCsv,
  writeSelectionCsv,
  joinSelection,
  type SelectionRow,
  type SelectedClip,
} from './selection.js';
export { ShardIndexSchema, ShardEntrySchema, SHARD_INDEX_FORMAT, parseShardIndex, writeShardIndex, type ShardIndex, type ShardEntry } from './shards-index.js';
