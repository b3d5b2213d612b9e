export {
  type VideoStreamInfo, type AudioStreamInfo, type ProbeInfo, type DecodeOptions, type DecodedClip,
} from './types.js';
export {
  type ToolLocation, ffmpegLocation, ffprobeLocation, ffmpegPath, ffprobePath, toolVersion, resetToolCache,
} from './ffmpeg.js';
export { MediaError, type RunResult, type RunOptions, runTool, reasonFromStderr } from './process.js';
export { type ProbeOptions, probe } from './probe.js';
export { expectedFrames, expectedSamples, decodeArgs, decodeClip } from './decode.js';
export { type CutOptions, cutClip } from './cut.js';
export { type TarMemberSource, tarMemberSource, parseTarMemberSource, sourceFile, ffmpegInput, sourceLabel } from './source.js';
export {
  type SynthOptions, type SynthFamily, SYNTH_FAMILIES, type SynthLabel, VISUAL_FAMILIES, AUDIO_FAMILIES,
  MAX_CLASSES, planCorpus, synthArgs, type SynthResult, synthesize,
} from './synth.js';
export {
  type LogMelOptions, VGGISH_LOGMEL, VGGISH_EXAMPLE_FRAMES, type LogMel, hertzToMel, melToHertz, melCenters,
  melMatrix, logMelFrameCount, logMelSpectrogram, logMelExamples,
} from './logmel.js';
export { FftPlan, nextPow2, hannWindow, RealSpectrum, resample } from './fft.js';
