import { z } from 'zod';

/** The `ssl` section. Owned by the ssl stage; fill in its keys with defaults. */
export const SslSchema = z.object({}).strict();

export type SslConfig = z.infer<typeof SslSchema>;
