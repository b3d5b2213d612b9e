/**
 * The layout of a run folder: every path a stage, the loaders or the experiment reads or writes,
 * spelled once. Nothing else in the code joins a run-folder file name by hand.
 *
 *     runs/<name>/
 *       config.resolved.yaml   the config as run (defaults filled in, seed)
 *       corpus/                a corpus built by the run (synthetic, or real pairs)
 *       manifest.jsonl         one clip a line (ClipRecord)
 *       failures.jsonl         one line per clip a stage could not use
 *       features/shard-*.h5    feature shards
 *       clusters.h5            cluster labels (+ clusters.model.h5 and clusters/ parts while sharded)
 *       selection.csv          the ranking of the configured selection method
 *       selection.<method>.csv the ranking of another method (random, contrastive, ...)
 *       selection.eval.json    precision/recall of a ranking (selection.<method>.eval.json for others)
 *       selection.meta.json    parameters and statistics of selection.csv; selection/ its partition parts
 *                              (selection.<method>.meta.json and selection.<method>/ for another method)
 *       shards/                WebDataset shards of the selection + shards.json
 *       launch/                scripts and logs of a sharded run
 *       explain.json           why the selection is what it is
 *       ssl/<arm>/             checkpoints and metrics.jsonl of a pretraining arm
 *       probe/<arm>.json       linear-probe results
 *       stages/<stage>.json    the stage ledger (see ledger.ts); stages/<stage>/<shard>.json per shard
 *       experiment/            the experiment's own intermediate files
 *       results.json, report.html
 */
import path from 'node:path';
import { shardName } from '../runtime/shard.js';

/** The method whose ranking is `selection.csv` when nobody says otherwise is the configured one. */
export interface SelectionFileOptions {
  /** The method asked about. */
  method: string;
  /** The configured method (`selection.method`): its ranking is the plain `selection.csv`. */
  configured: string;
}

export interface RunLayout {
  root: string;
  configResolved: string;
  corpusDir: string;
  /** labels.jsonl of a corpus the run built. */
  corpusLabels: string;
  manifest: string;
  failures: string;
  featuresDir: string;
  /** features/shard-IIIII-of-NNNNN.h5 */
  featureShard(index: number, count: number): string;
  clusters: string;
  clustersModel: string;
  clustersPartsDir: string;
  /** selection.csv for the configured method, selection.<method>.csv for any other. */
  selection(method?: string, configured?: string): string;
  /** The evaluation beside a ranking: selection.eval.json, selection.<method>.eval.json. */
  selectionEval(method?: string, configured?: string): string;
  /** Parameters and statistics beside a ranking: selection.meta.json, selection.<method>.meta.json. */
  selectionMeta(method?: string, configured?: string): string;
  /** Partition parts of a ranking while it is computed: selection/, selection.<method>/. */
  selectionPartsDir(method?: string, configured?: string): string;
  shardsDir: string;
  shardsIndex: string;
  launchDir: string;
  explain: string;
  sslDir(arm: string): string;
  probe(arm: string): string;
  stagesDir: string;
  /** The ledger record of a stage: stages/<stage>.json. */
  stage(name: string): string;
  /** The ledger record of one shard or part of a stage: stages/<stage>/<shard>.json. */
  stageShard(name: string, shard: string): string;
  experimentDir: string;
  results: string;
  report: string;
}

const METHOD = /^[a-z][a-z0-9-]*$/;

function methodSuffix(method: string | undefined, configured: string | undefined): string {
  if (method === undefined || method === configured) return '';
  if (!METHOD.test(method)) throw new Error(`selection method "${method}": expected lower-case letters, digits and "-"`);
  return `.${method}`;
}

/**
 * Stage names may hold ":" or "/" (e.g. "arm:curated-s0"); those become "_" in the file name. The
 * record inside names its stage, and the ledger ignores a record of another stage, so two names
 * that share a file never pass for each other.
 */
function stageFileName(name: string): string {
  if (!name) throw new Error('a stage needs a name');
  return `${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`;
}

export function runLayout(runDir: string): RunLayout {
  const root = path.resolve(runDir);
  const at = (...p: string[]) => path.join(root, ...p);
  return {
    root,
    configResolved: at('config.resolved.yaml'),
    corpusDir: at('corpus'),
    corpusLabels: at('corpus', 'labels.jsonl'),
    manifest: at('manifest.jsonl'),
    failures: at('failures.jsonl'),
    featuresDir: at('features'),
    featureShard: (index, count) => at('features', `${shardName(index, count)}.h5`),
    clusters: at('clusters.h5'),
    clustersModel: at('clusters.model.h5'),
    clustersPartsDir: at('clusters'),
    selection: (method, configured) => at(`selection${methodSuffix(method, configured)}.csv`),
    selectionEval: (method, configured) => at(`selection${methodSuffix(method, configured)}.eval.json`),
    selectionMeta: (method, configured) => at(`selection${methodSuffix(method, configured)}.meta.json`),
    selectionPartsDir: (method, configured) => at(`selection${methodSuffix(method, configured)}`),
    shardsDir: at('shards'),
    shardsIndex: at('shards', 'shards.json'),
    launchDir: at('launch'),
    explain: at('explain.json'),
    sslDir: (arm) => at('ssl', arm),
    probe: (arm) => at('probe', `${arm}.json`),
    stagesDir: at('stages'),
    stage: (name) => at('stages', stageFileName(name)),
    stageShard: (name, shard) => at('stages', stageFileName(name).slice(0, -'.json'.length), stageFileName(shard)),
    experimentDir: at('experiment'),
    results: at('results.json'),
    report: at('report.html'),
  };
}

/** The file name of the shard index inside a shard folder. */
export const SHARD_INDEX_NAME = 'shards.json';
/** The manifest's file name (a selection's manifest is the one beside it). */
export const MANIFEST_NAME = 'manifest.jsonl';
/** The failures log's file name (beside the manifest). */
export const FAILURES_NAME = 'failures.jsonl';
