/** MI subset selection: the incremental objective, the greedy family, partitions, evaluation. */
export * from './objective.js';
export * from './kernels.js';
export * from './pairs.js';
export * from './algorithms.js';
export * from './partitions.js';
export * from './planted.js';
export * from './rank.js';
export { SELECTION_COLUMNS, formatSelectionCsv, parseSelectionCsv, readSelectionCsv, writeSelectionCsv, type SelectionRow } from '../../run/selection.js';
export * from './evaluate.js';
export * from './stage.js';
