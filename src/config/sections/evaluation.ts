import { z } from 'zod';

/** How a ranking is judged against ground truth (`avcurate eval-selection`, the experiment's report). */
export const EvaluationSchema = z
  .object({
    /** Besides the precision at the selected size and at the number of true positives, report the precision of the top this fraction of the pool (the reference ratio 0.2). */
    topRatio: z.number().gt(0).max(1).default(0.2),
  })
  .strict();

export type EvaluationConfig = z.infer<typeof EvaluationSchema>;
