/**
 * `npm run bench:bootstrap`: precision per round of bootstrapped features (curate.bootstrap;
 * docs/experiments.md "Bootstrapped features") on three corpora:
 *
 *   (a) the demo corpus (configs/demo.yaml's synthetic settings) curated with only weak layers
 *       (audio spectral + visual colour); first the precision of every single audio layer x visual
 *       layer pair of the built-in descriptors, so "weak" is measured, not assumed;
 *   (b) the temporal synthetic family (flash/click synchrony) with every built-in layer;
 *   (c) configs/real-pairs.yaml (Debian qabcs-data pictures and sounds).
 *
 * Each round pretrains the config's two-tower model on the previous round's selection, embeds
 * every clip with the trained towers (`type: encoder`), clusters those layers and selects again.
 * Sizes are printed; they are cut so that each corpus takes a few minutes on 2 shared cores.
 *
 * Options: --quick (half the pools, fewer steps), --only a,b,c, --rounds R (default 2),
 * --steps S (pretraining steps per round; default: the config's ssl.steps), --features
 * replace|append (curate.bootstrap.features), --layers l1,l2 (curate.bootstrap.layers), --no-grid
 * (skip (a)'s per-layer grid), --keep (keep the run folders under /tmp and print their paths).
 */
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { synthesize } from '../src/media/synth.js';
import { runCuration } from '../src/curation/pipeline.js';
import { runCluster } from '../src/curation/clustering/stage.js';
import { runSelect } from '../src/curation/selection/stage.js';
import { runEvalSelection } from '../src/curation/selection/eval-stage.js';
import { formatRounds, type BootstrapRound } from '../src/curation/bootstrap.js';
import { runSslBootstrap } from '../src/experiments/encoders.js';
import { BUILTIN_AUDIO_LAYERS, BUILTIN_VISUAL_LAYERS, readAllFeatures } from '../src/curation/features/index.js';
import { runLayout } from '../src/run/layout.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const keep = args.includes('--keep');
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = new Set((opt('--only') ?? 'a,b,c').split(','));
const rounds = Number(opt('--rounds') ?? 2);
const stepsArg = opt('--steps');
const featuresArg = opt('--features') ?? 'replace';
const layersArg = opt('--layers')?.split(',').filter(Boolean) ?? [];
const grid = !args.includes('--no-grid');
const line = (s = '') => process.stdout.write(`${s}\n`);
const quiet = { silent: true };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = Record<string, any>;
const readYaml = (f: string): Raw => YAML.parse(readFileSync(path.resolve(f), 'utf8')) as Raw;

function roundLines(label: string, rs: BootstrapRound[]): void {
  for (const r of rs) {
    const p = r.precision;
    line(
      `bootstrap ${label} round ${r.round}: ` +
        (p ? `precision ${p.atPositives.toFixed(3)} at the ${p.positives} positives, ${p.atRatio.toFixed(3)} top ${Math.round(p.ratio * 100)} % (random ${p.random.toFixed(3)})` : 'no ground truth') +
        `, objective ${r.objective.toFixed(4)}, ${r.round === 0 ? 'configured layers' : `encoder after ${r.pretrainSteps} steps`}, ${r.seconds.toFixed(0)} s`,
    );
  }
}

/** A run folder sharing `from`'s manifest and feature shards (hard links), for another clustering. */
async function sibling(from: string, to: string): Promise<void> {
  const a = runLayout(from);
  const b = runLayout(to);
  await fsp.mkdir(b.featuresDir, { recursive: true });
  await fsp.copyFile(a.manifest, b.manifest);
  for (const n of await fsp.readdir(a.featuresDir)) if (n.endsWith('.h5')) await fsp.link(path.join(a.featuresDir, n), path.join(b.featuresDir, n));
}

async function curateLayers(base: Config, runDir: string, layers: Config['clustering']['layers']): Promise<{ precision: number; config: Config }> {
  await sibling(base.runDir!, runDir);
  const config: Config = { ...base, runDir, clustering: { ...base.clustering, layers } };
  await runCluster(config, { index: 0, count: 1 }, quiet);
  await runSelect(config, quiet);
  const ev = await runEvalSelection(config, { silent: true, truth: path.join(base.corpus.source!, 'labels.jsonl') });
  return { precision: ev.summary.atPositives.precision, config };
}

function bootstrapOf(raw: Raw, steps: number | undefined): Raw {
  return { ...raw, curate: { bootstrap: { rounds, features: featuresArg, layers: layersArg, ...(steps ? { steps } : {}) } } };
}

async function benchDemo(tmp: string): Promise<void> {
  const raw = readYaml('configs/demo.yaml');
  const synth = { ...raw.corpus.synth, clips: quick ? 200 : 400 };
  const steps = stepsArg ? Number(stepsArg) : quick ? 40 : raw.ssl.steps;
  line(`== (a) demo corpus, weak layers: ${synth.clips} clips (${synth.family} family, ${synth.classes} classes, ${synth.mismatch * 100} % mismatched, ${synth.seconds} s ${synth.width}x${synth.height}), k ${raw.clustering.k.join('/')}, ratio ${raw.selection.ratio}; ${rounds} round(s) of ${steps} pretraining steps (batch ${raw.ssl.batchSize})`);
  const corpus = path.join(tmp, 'demo-corpus');
  await synthesize({ out: corpus, seed: raw.seed ?? 0, ...synth, silent: true });
  const { corpus: _c, experiment: _e, ...rest } = raw;
  const base = parseConfig({ ...bootstrapOf(rest, steps), name: 'demo-all', runDir: path.join(tmp, 'demo-all'), corpus: { source: corpus } });
  const all = await runCuration(base, quiet);
  line(`  every built-in layer: precision ${all.evaluation!.summary.atPositives.precision.toFixed(3)} at the ${all.evaluation!.summary.positives} positives`);
  // Per layer pair: one audio layer x one visual layer.
  const audio = BUILTIN_AUDIO_LAYERS.map((l) => l.name);
  const visual = BUILTIN_VISUAL_LAYERS.map((l) => l.name);
  if (grid) line(`  precision at the positives of one audio layer x one visual layer (k ${raw.clustering.k.join('/')}):`);
  if (grid) line(`  ${''.padEnd(14)}${visual.map((v) => v.padStart(10)).join('')}`);
  for (const a of grid ? audio : []) {
    const cells: string[] = [];
    for (const v of visual) {
      const r = await curateLayers(base, path.join(tmp, `demo-${a}-${v}`), [{ modality: 'audio', layer: a }, { modality: 'visual', layer: v }]);
      cells.push(r.precision.toFixed(3).padStart(10));
    }
    line(`  ${a.padEnd(14)}${cells.join('')}`);
  }
  const weak = await curateLayers(base, path.join(tmp, 'demo-weak'), [{ modality: 'audio', layer: 'spectral' }, { modality: 'visual', layer: 'colour' }]);
  const b = await runSslBootstrap({ ...weak.config, name: 'demo-weak' }, quiet);
  line(formatRounds(b.rounds));
  roundLines('(a) demo, audio spectral + visual colour', b.rounds);
}

async function benchTemporal(tmp: string): Promise<void> {
  const raw = readYaml('configs/demo.yaml');
  const synth = { ...raw.corpus.synth, family: 'temporal', clips: quick ? 200 : 400 };
  const steps = stepsArg ? Number(stepsArg) : quick ? 40 : raw.ssl.steps;
  // The temporal family's clips share a few colours and sounds (in 400 clips visual/colour holds 4
  // distinct points, audio/logmel_stats 17): each built-in layer is clustered with the k of 4/8
  // below its number of distinct points (layers with fewer than 3 are left out).
  const k = [4, 8];
  const { experiment: _e, ...rest } = raw;
  let config = parseConfig({ ...bootstrapOf(rest, steps), name: 'temporal', runDir: path.join(tmp, 'temporal'), corpus: { synth }, clustering: { ...raw.clustering, k } });
  await runCuration(config, { ...quiet, until: 'extract' });
  const feats = await readAllFeatures(config.runDir!);
  const layers: Config['clustering']['layers'] = [];
  const described: string[] = [];
  for (const l of feats.layers) {
    const rows = new Set<string>();
    for (let i = 0; i < feats.ids.length; i++) rows.add(Array.from(l.data.subarray(i * l.dim, (i + 1) * l.dim)).join(','));
    const ks = [...k.filter((x) => x < rows.size)];
    if (ks.length === 0 && rows.size >= 3) ks.push(rows.size - 1);
    if (ks.length === 0) continue;
    layers.push({ modality: l.modality, layer: l.layer, k: ks });
    described.push(`${l.modality}/${l.layer} (${rows.size} distinct, k ${ks.join('/')})`);
  }
  // The encoder layers of the rounds take clustering.k: 3, below the 4 distinct visual inputs.
  config = { ...config, clustering: { ...config.clustering, layers, k: [3] } };
  line(`== (b) temporal family: ${synth.clips} clips (${synth.classes} classes, ${synth.mismatch * 100} % mismatched, ${synth.seconds} s ${synth.width}x${synth.height}); built-in layers ${described.join(', ')}; encoder layers k 3; ${rounds} round(s) of ${steps} steps`);
  await runCuration(config, quiet);
  const b = await runSslBootstrap(config, quiet);
  line(formatRounds(b.rounds));
  roundLines('(b) temporal family', b.rounds);
}

async function benchRealPairs(tmp: string): Promise<void> {
  const raw = readYaml('configs/real-pairs.yaml');
  const steps = stepsArg ? Number(stepsArg) : quick ? 50 : raw.ssl.steps;
  const { experiment: _e, ...rest } = raw;
  const config = parseConfig({ ...bootstrapOf(rest, steps), runDir: path.join(tmp, 'real-pairs') }, path.resolve('configs/real-pairs.yaml'));
  const first = await runCuration(config, quiet);
  const s = first.evaluation?.summary;
  line(`== (c) configs/real-pairs.yaml: ${s?.pool ?? '?'} clips (qabcs-data, ${config.corpus.realPairs!.seconds} s), layers ${[...config.features.audio, ...config.features.visual].map((e) => e.type).join(' + ')}, k ${config.clustering.k.join('/')}; ${rounds} round(s) of ${steps} steps`);
  const b = await runSslBootstrap(config, quiet);
  line(formatRounds(b.rounds));
  roundLines('(c) real pairs', b.rounds);
}

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-bench-bootstrap-'));
line(`bench:bootstrap ${args.join(' ')}: ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}; bootstrap features ${featuresArg}, layers ${layersArg.length ? layersArg.join(',') : 'all'}`);
try {
  if (only.has('a')) await benchDemo(tmp);
  if (only.has('b')) await benchTemporal(tmp);
  if (only.has('c')) await benchRealPairs(tmp);
} finally {
  if (keep) line(`run folders kept in ${tmp}`);
  else await fsp.rm(tmp, { recursive: true, force: true });
}
