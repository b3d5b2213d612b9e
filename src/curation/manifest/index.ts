export { type ClipRecord, type ClipProbe } from './types.js';
export { type ClipWindow, clipWindows } from './windows.js';
export { type ContentStats, contentStats } from './prefilter.js';
export {
  MEDIA_EXTENSIONS, type InputItem, type IngestOptions, type IngestResult, videoIdFor, discoverInputs,
  ingestOne, ingest,
} from './ingest.js';
export { manifestPath, readManifest, ManifestIndex } from './read.js';
export { corpusDir, runSynth, runIngest } from './stage.js';
