import type { CommandModule } from 'yargs';
import { withStageOptions, prepareStage, type StageArgs, displayPath } from '../common.js';
import { UserError } from '../errors.js';

export const command: CommandModule<object, StageArgs> = {
  command: 'extract',
  describe: 'decode every clip of the manifest once and write features of each audio and visual layer to features/shard-*.h5',
  builder: (y) => withStageOptions(y) as never,
  handler: async (a) => {
    const { config, shard } = await prepareStage(a);
    // `type: encoder` extractors load pretrain checkpoints through src/ssl (wired outside curation).
    // (src/ssl and TensorFlow.js are loaded only when the config asks for them.)
    if ((await import('../../curation/bootstrap.js')).usesEncoders(config)) (await import('../../experiments/encoders.js')).registerSslEncoders();
    const [{ extractAll }, { MissingPackageError }] = await Promise.all([import('../../curation/incremental/stage.js'), import('../../curation/features/pretrained.js')]);
    const controller = new AbortController();
    const stop = () => {
      if (controller.signal.aborted) process.exit(130);
      process.stderr.write('\nextract: stopping after the current batch (finished shards are kept; press Ctrl-C again to quit now)\n');
      controller.abort();
    };
    process.once('SIGINT', stop);
    try {
      // The base clips, then clips added to the run (curate --add), each batch in its own folder.
      const all = await extractAll(config, shard, { silent: a.quiet, signal: controller.signal });
      const r = all.base;
      for (const b of all.batches) {
        r.written.push(...b.result.written);
        r.skipped.push(...b.result.skipped);
        r.clips += b.result.clips;
        r.failed += b.result.failed;
        r.aborted ||= b.result.aborted;
      }
      process.stdout.write(
        `extract ${shard.index}/${shard.count}: ${r.mine.length} of ${r.units} shard(s) here; wrote ${r.written.length}, ${r.skipped.length} already complete; ` +
          `${r.clips} clips extracted, ${r.failed} failed, ${r.clipsPerSecond.toFixed(2)} clips/s (config ${r.configHash})\n`,
      );
      for (const f of r.written) process.stdout.write(`  ${displayPath(f)}\n`);
      if (r.failed > 0) process.stdout.write(`failures: ${displayPath((await import('../../run/layout.js')).runLayout(r.runDir).failures)}\n`);
      if (r.aborted) {
        process.stdout.write('stopped early: run the same command again to finish\n');
        process.exitCode = 130;
      }
    } catch (err) {
      if (err instanceof MissingPackageError) throw new UserError(err.message, 1);
      if (err instanceof Error && /Features of two configs are never mixed|manifest not found|ONNX model|onnxruntime|no layer|both produce a layer/.test(err.message)) throw new UserError(err.message, 1);
      throw err;
    } finally {
      process.removeListener('SIGINT', stop);
    }
  },
};
