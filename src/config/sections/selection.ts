import { z } from 'zod';

/** The `selection` section. Owned by the selection stage; fill in its keys with defaults. */
export const SelectionSchema = z.object({}).strict();

export type SelectionConfig = z.infer<typeof SelectionSchema>;
