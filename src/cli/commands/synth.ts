import type { CommandModule } from 'yargs';
import { UserError } from '../errors.js';
import type { SynthFamily } from '../../media/synth.js';

interface Args {
  out: string;
  clips?: number;
  classes?: number;
  mismatch?: number;
  seconds?: number;
  seed?: number;
  width?: number;
  height?: number;
  fps?: number;
  'sample-rate'?: number;
  family?: SynthFamily;
  jobs?: number;
  force: boolean;
  quiet: boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'synth',
  describe: 'generate a synthetic audio-visual corpus with known correspondence (clips + labels.jsonl)',
  builder: (y) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
      // Defaults: the config schema's corpus.synth (and seed), read in the handler.
      .option('clips', { type: 'number', describe: 'number of clips' })
      .option('classes', { type: 'number', describe: 'number of classes (2 up to the number of built-in sound/picture families)' })
      .option('mismatch', { type: 'number', describe: 'fraction of clips whose audio comes from another class' })
      .option('seconds', { type: 'number', describe: 'clip length in seconds' })
      .option('seed', { type: 'number', describe: 'random seed (same seed, identical bytes)' })
      .option('width', { type: 'number' })
      .option('height', { type: 'number' })
      .option('fps', { type: 'number' })
      .option('sample-rate', { type: 'number' })
      .option('family', { choices: ['concepts', 'temporal', 'mixed', 'scenes'] as const satisfies readonly SynthFamily[], describe: 'concepts: class families; temporal: flash/click sync; mixed: both; scenes: a class foreground over shared backgrounds, with distractor sounds (harder)' })
      .option('jobs', { type: 'number', describe: 'concurrent ffmpeg processes (default: cores)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace a corpus made with other settings' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false }) as never,
  handler: async (a) => {
    const { synthesize } = await import('../../media/synth.js');
    const { withRunLock } = await import('../../run/lock.js');
    const { CONFIG_DEFAULTS, SYNTH_DEFAULTS: d } = await import('../../config/defaults.js');
    try {
      // the corpus folder's lock: two synths into one folder never interleave (reliab)
      const r = await withRunLock(a.out, 'synth', () => synthesize({
        out: a.out, clips: a.clips ?? d.clips, classes: a.classes ?? d.classes, mismatch: a.mismatch ?? d.mismatch, seconds: a.seconds ?? d.seconds,
        seed: a.seed ?? CONFIG_DEFAULTS.seed, width: a.width ?? d.width, height: a.height ?? d.height, fps: a.fps ?? d.fps,
        sampleRate: a['sample-rate'] ?? d.sampleRate, family: a.family ?? d.family,
        concurrency: a.jobs, force: a.force, silent: a.quiet,
      }));
      const pos = r.labels.filter((l) => l.corresponds).length;
      process.stdout.write(`wrote ${r.labels.length} clips (${pos} corresponding, ${r.labels.length - pos} mismatched) and ${r.labelsFile} in ${r.seconds.toFixed(1)} s (${r.generated} generated, ${r.skipped} already there)\n`);
    } catch (err) {
      if (err instanceof RangeError) throw new UserError(err.message, 2);
      throw err;
    }
  },
};
