import path from 'node:path';
import type { CommandModule } from 'yargs';
import { prepareStage, withStageOptions, type StageArgs } from '../common.js';
import { UserError } from '../errors.js';

interface Args extends StageArgs {
  id?: string;
  json: boolean;
  html: boolean;
  images?: boolean;
  selection?: string;
  out?: string;
}

export const command: CommandModule<object, Args> = {
  command: 'explain',
  describe: 'why the selection is what it is: MI per clustering pair against a permutation null, the strongest audio↔visual cells, per-clip contributions → explain.json (+ explain.html)',
  builder: (y) =>
    withStageOptions(y)
      .option('id', { type: 'string', describe: 'explain this clip (selected or not): its contribution split by pair and the cells it sits in' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (the whole explain.json, or the clip with --id) instead of text' })
      .option('html', { type: 'boolean', default: true, describe: 'also write explain.html (plots, cells with frames and spectrograms); --no-html to skip' })
      .option('images', { type: 'boolean', describe: 'draw clip frames and spectrograms in explain.html with ffmpeg (default: experiment.report.images); --no-images to skip' })
      .option('selection', { type: 'string', describe: 'ranking to explain (default <runDir>/selection.csv)' })
      .option('out', { type: 'string', describe: 'output JSON (default <runDir>/explain.json)' }) as never,
  handler: async (a) => {
    const { config } = await prepareStage(a);
    const { runExplain, formatExplain, formatClip, SelectionInputError } = await import('../../curation/selection/index.js');
    let r;
    try {
      r = await runExplain(config, { id: a.id, selection: a.selection, out: a.out });
    } catch (err) {
      if (err instanceof SelectionInputError) throw new UserError(err.message);
      throw err;
    }
    const out = process.stdout;
    if (a.json) out.write(`${JSON.stringify(a.id !== undefined ? r.clip : r.explain, null, 2)}\n`);
    else out.write(`${a.id !== undefined && r.clip ? formatClip(r.explain, r.clip) : formatExplain(r.explain)}\n`);
    if (a.html) {
      const { writeExplainPage } = await import('../../experiments/explain-section.js');
      const page = r.file.replace(/\.json$/i, '') + '.html';
      await writeExplainPage(r.file, page, { images: a.images ?? config.experiment.report.images });
      if (!a.json) out.write(`  → ${path.relative(process.cwd(), r.file) || r.file}, ${path.relative(process.cwd(), page) || page}\n`);
    } else if (!a.json) out.write(`  → ${path.relative(process.cwd(), r.file) || r.file}\n`);
  },
};
