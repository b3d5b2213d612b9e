/**
 * The whole config: one section per stage, each defined in ./sections/<stage>.ts with its
 * defaults. Unknown keys are errors (strict objects), so a typo never silently does nothing.
 */
import { z } from 'zod';
import { CorpusSchema } from './sections/corpus.js';
import { IngestSchema } from './sections/ingest.js';
import { FeaturesSchema } from './sections/features.js';
import { ClusteringSchema } from './sections/clustering.js';
import { SelectionSchema } from './sections/selection.js';
import { EvaluationSchema } from './sections/evaluation.js';
import { LoaderSchema } from './sections/loader.js';
import { SslSchema } from './sections/ssl.js';
import { ProbeSchema } from './sections/probe.js';
import { ExperimentSchema } from './sections/experiment.js';
import { LaunchSchema } from './sections/launch.js';
import { IncrementalSchema } from './sections/incremental.js';
import { CurateSchema } from './sections/curate.js';

export const ConfigSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a name of letters, digits, ".", "_" or "-"').default('run'),
    /** Run folder; default runs/<name>. */
    runDir: z.string().optional(),
    seed: z.number().int().nonnegative().default(0),
    corpus: CorpusSchema.default({}),
    ingest: IngestSchema.default(IngestSchema.parse({})),
    features: FeaturesSchema.default(FeaturesSchema.parse({})),
    clustering: ClusteringSchema.default(ClusteringSchema.parse({})),
    selection: SelectionSchema.default(SelectionSchema.parse({})),
    evaluation: EvaluationSchema.default(EvaluationSchema.parse({})),
    loader: LoaderSchema.default(LoaderSchema.parse({})),
    ssl: SslSchema.default(SslSchema.parse({})),
    probe: ProbeSchema.default(ProbeSchema.parse({})),
    experiment: ExperimentSchema.default(ExperimentSchema.parse({})),
    launch: LaunchSchema.default(LaunchSchema.parse({})),
    /** Adding clips to a curated run (curate --add). */
    incremental: IncrementalSchema.default(IncrementalSchema.parse({})),
    /** Bootstrapped features: curate, pretrain on the selection, re-extract, re-curate (curate.bootstrap). */
    curate: CurateSchema.default(CurateSchema.parse({})),
    /** Set by loadConfig: the absolute path of the file read. */
    configFile: z.string().optional(),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export { CorpusSchema, IngestSchema, FeaturesSchema, ClusteringSchema, SelectionSchema, EvaluationSchema, LoaderSchema, SslSchema, ProbeSchema, ExperimentSchema, LaunchSchema, IncrementalSchema, CurateSchema };
