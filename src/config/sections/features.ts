import { z } from 'zod';

/** The `features` section. Owned by the features stage; fill in its keys with defaults. */
export const FeaturesSchema = z.object({}).strict();

export type FeaturesConfig = z.infer<typeof FeaturesSchema>;
