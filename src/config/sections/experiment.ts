import { z } from 'zod';

/** The `experiment` section. Owned by the experiment stage; fill in its keys with defaults. */
export const ExperimentSchema = z.object({}).strict();

export type ExperimentConfig = z.infer<typeof ExperimentSchema>;
