/** Types of the media layer: what probing and decoding return. */

export interface VideoStreamInfo {
  index: number;
  codec: string;
  width: number;
  height: number;
  /** Average frame rate (frames per second); 0 when unknown. */
  fps: number;
  /** Frame count when the container states it. */
  frames?: number;
  pixelFormat?: string;
  duration?: number;
}

export interface AudioStreamInfo {
  index: number;
  codec: string;
  sampleRate: number;
  channels: number;
  duration?: number;
}

export interface ProbeInfo {
  file: string;
  /** Container duration in seconds (falls back to the longest stream). */
  duration: number;
  format: string;
  sizeBytes: number;
  bitRate?: number;
  hasVideo: boolean;
  hasAudio: boolean;
  video?: VideoStreamInfo;
  audio?: AudioStreamInfo;
  streams: number;
}

export interface DecodeOptions {
  /** Output frame rate (frames per second). */
  fps: number;
  width: number;
  height: number;
  /** Output audio sample rate (Hz), mono. */
  sampleRate: number;
  /** 'stretch' scales to width x height; 'cover' scales the short side and centre-crops. Default 'stretch'. */
  fit?: 'stretch' | 'cover';
  /** 'require' (default): error when the file has no audio; 'optional': silent zeros; 'skip': no audio decode. */
  audio?: 'require' | 'optional' | 'skip';
  /** 'require' (default), 'optional' (black frames when missing), 'skip'. */
  video?: 'require' | 'optional' | 'skip';
  /** Kill ffmpeg after this many milliseconds (default 60000). */
  timeoutMs?: number;
  /** ffmpeg decoder threads per process (default 1: pools give the parallelism). */
  threads?: number;
  /** Known probe result, to skip probing. */
  probe?: ProbeInfo;
  /** Abort signal. */
  signal?: AbortSignal;
}

export interface DecodedClip {
  file: string;
  start: number;
  seconds: number;
  /** RGB frames, [T, H, W, 3] row-major. */
  frames: Uint8Array;
  /** [T, H, W, 3] */
  shape: [number, number, number, number];
  fps: number;
  /** Mono PCM in [-1, 1], exactly round(seconds * sampleRate) samples. */
  audio: Float32Array;
  sampleRate: number;
  /** What decoding delivered before padding or trimming to the requested lengths. */
  decodedFrames: number;
  decodedSamples: number;
  /** Frames repeated (last frame) or samples zero-filled to reach the requested length. */
  paddedFrames: number;
  paddedSamples: number;
  /** Frames or samples dropped beyond the requested length. */
  trimmedFrames: number;
  trimmedSamples: number;
  /** True when the file lacked a stream and 'optional' filled it. */
  missingAudio: boolean;
  missingVideo: boolean;
}
