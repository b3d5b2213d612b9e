export * from './types.js';
export * from './ffmpeg.js';
export * from './process.js';
export * from './probe.js';
export * from './decode.js';
export * from './cut.js';
export * from './synth.js';
