import type { CommandModule } from 'yargs';
import { UserError } from '../errors.js';
import type { SynthFamily } from '../../media/synth.js';

interface Args {
  out: string;
  clips: number;
  classes: number;
  mismatch: number;
  seconds: number;
  seed: number;
  width: number;
  height: number;
  fps: number;
  'sample-rate': number;
  family: SynthFamily;
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
      .option('clips', { type: 'number', default: 200, describe: 'number of clips' })
      .option('classes', { type: 'number', default: 6, describe: 'number of classes (2 up to the number of built-in sound/picture families)' })
      .option('mismatch', { type: 'number', default: 0.5, describe: 'fraction of clips whose audio comes from another class' })
      .option('seconds', { type: 'number', default: 4, describe: 'clip length in seconds' })
      .option('seed', { type: 'number', default: 0, describe: 'random seed (same seed, identical bytes)' })
      .option('width', { type: 'number', default: 160 })
      .option('height', { type: 'number', default: 120 })
      .option('fps', { type: 'number', default: 12 })
      .option('sample-rate', { type: 'number', default: 16000 })
      .option('family', { choices: ['concepts', 'temporal', 'mixed', 'scenes'] as const satisfies readonly SynthFamily[], default: 'concepts' as const, describe: 'concepts: class families; temporal: flash/click sync; mixed: both; scenes: a class foreground over shared backgrounds, with distractor sounds (harder)' })
      .option('jobs', { type: 'number', describe: 'concurrent ffmpeg processes (default: cores)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace a corpus made with other settings' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false }) as never,
  handler: async (a) => {
    const { synthesize } = await import('../../media/synth.js');
    const { withRunLock } = await import('../../run/lock.js');
    try {
      // the corpus folder's lock: two synths into one folder never interleave (reliab)
      const r = await withRunLock(a.out, 'synth', () => synthesize({
        out: a.out, clips: a.clips, classes: a.classes, mismatch: a.mismatch, seconds: a.seconds, seed: a.seed,
        width: a.width, height: a.height, fps: a.fps, sampleRate: a['sample-rate'], family: a.family,
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
