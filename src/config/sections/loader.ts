import { z } from 'zod';

/** The `loader` section. Owned by the loader stage; fill in its keys with defaults. */
export const LoaderSchema = z.object({}).strict();

export type LoaderConfig = z.infer<typeof LoaderSchema>;
