import { z } from 'zod';

/** The `probe` section. Owned by the probe stage; fill in its keys with defaults. */
export const ProbeSchema = z.object({}).strict();

export type ProbeConfig = z.infer<typeof ProbeSchema>;
