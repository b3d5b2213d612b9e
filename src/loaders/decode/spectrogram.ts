/**
 * spectrogram(spec): the log-mel spectrogram of each decoded clip's audio (the media layer's
 * VGGish front end: 25 ms windows, 10 ms hop, `mels` bins), cut to its first `frames` frames
 * (repeating the last frame when the audio is shorter), as a float32 field `spec` [frames, mels].
 * The waveform is dropped unless `keepAudio` is set, so a tensor cache stores the model's input.
 */
import type { Stage } from '../core/node.js';
import { mapStage } from '../stages/map.js';
import type { NdArray } from '../formats/ndarray.js';
import type { DecodedItem } from './decode.js';
import { logMelExamples, logMelSpectrogram } from '../../media/logmel.js';

export interface SpectrogramSpec {
  /** Time frames (10 ms each) and mel bins of the patch. */
  frames: number;
  mels: number;
  /** Keep the waveform field `audio` as well (default false). */
  keepAudio?: boolean;
}

export type SpectrogramItem = Omit<DecodedItem, 'audio'> & { audio?: DecodedItem['audio']; spec: NdArray<Float32Array> };

/** The log-mel patch of one decoded clip. */
export function spectrogramItem(x: DecodedItem, spec: SpectrogramSpec): SpectrogramItem {
  const mel = logMelSpectrogram(x.audio.data, x.sampleRate, { nMels: spec.mels });
  const ex = logMelExamples(mel, spec.frames, spec.frames, true);
  if (ex.examples === 0) throw new Error(`clip ${x.key}: ${x.seconds} s of audio give no ${spec.frames}-frame log-mel patch`);
  const { audio, ...rest } = x;
  return {
    ...rest,
    ...(spec.keepAudio ? { audio } : {}),
    spec: { dtype: 'float32', shape: [spec.frames, spec.mels], data: ex.data.slice(0, spec.frames * spec.mels) },
  };
}

export function spectrogramStage(spec: SpectrogramSpec): Stage<DecodedItem, SpectrogramItem> {
  if (!Number.isInteger(spec.frames) || spec.frames < 1 || !Number.isInteger(spec.mels) || spec.mels < 1) {
    throw new RangeError(`spectrogram: frames and mels must be positive integers, got ${spec.frames} x ${spec.mels}`);
  }
  return mapStage((x: DecodedItem) => spectrogramItem(x, spec), { name: 'spectrogram' });
}
