/**
 * Worker thread body for the built-in descriptors: computing them on the main thread would stop it
 * from draining ffmpeg's pipes, so decoding and descriptor computation would take turns instead of
 * overlapping. Messages: { id, kind: 'audio' | 'visual', options, input } -> { id, result } | { id, error }.
 */
import { parentPort } from 'node:worker_threads';
import { builtinAudioFeatures, type AudioInput } from './builtin-audio.js';
import { builtinVisualFeatures, type BuiltinVisualOptions, type VisualInput } from './builtin-visual.js';

interface Task {
  id: number;
  kind: 'audio' | 'visual';
  options?: Partial<BuiltinVisualOptions>;
  input: AudioInput | VisualInput;
}

parentPort?.on('message', (task: Task) => {
  try {
    const result = task.kind === 'audio'
      ? builtinAudioFeatures(task.input as AudioInput)
      : builtinVisualFeatures(task.input as VisualInput, task.options);
    parentPort!.postMessage({ id: task.id, result }, result.map((r) => r.buffer as ArrayBuffer));
  } catch (err) {
    parentPort!.postMessage({ id: task.id, error: (err as Error).message });
  }
});
