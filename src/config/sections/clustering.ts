import { z } from 'zod';

/** The `clustering` section. Owned by the clustering stage; fill in its keys with defaults. */
export const ClusteringSchema = z.object({}).strict();

export type ClusteringConfig = z.infer<typeof ClusteringSchema>;
