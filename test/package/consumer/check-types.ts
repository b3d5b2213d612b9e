// Type-checked by test/package/pack.test.ts inside the consumer project (moduleResolution NodeNext
// and Bundler): the package's `types` conditions must resolve every subpath to its .d.ts.
import { parseConfig, type Config } from 'avcurate';
import { readSelectionCsv, type SelectionRow } from 'avcurate/curation';
import { fromShards, type Dataset, type Sample } from 'avcurate/loaders';
import { pretrain, type PretrainOptions } from 'avcurate/ssl';

const config: Config = parseConfig({ name: 'types' });
const rows: SelectionRow[] = readSelectionCsv('selection.csv');
const shards: Promise<Dataset<Sample>> = fromShards('shards');
const options: Pick<PretrainOptions, 'seed'> = { seed: config.seed };
export { rows, shards, options, pretrain };
