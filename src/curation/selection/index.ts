/** MI subset selection: the incremental objective, the greedy family, partitions, evaluation. */
export {
  type Estimator, SelectionInputError, type LabelMatrix, xlogx, incrementTable, validateLabels,
  type ObjectiveOptions, MIObjective,
} from './objective.js';
export { type KernelStructure, type ObjectiveKernels, MAX_COMPILED_PAIRS, buildKernels } from './kernels.js';
export {
  type PairingMode, type ClusteringMeta, type PairRef, type PairingSpec, clusteringName, resolvePairs,
} from './pairs.js';
export {
  type Algorithm, type RankOrder, type RefineOptions, type SearchOptions, type RefineStats,
  type SearchResult, targetSize, searchSubset, refineSwaps, orderByLeaveOneOut, type GreedyOrderOptions,
  orderGreedy, replayObjective, type SelectLabelsOptions, selectFromLabels,
} from './algorithms.js';
export {
  type SelectionParams, type Partition, planPartitions, type PartitionResult, sliceRows, partitionRng, partitionRestarts,
  selectPartition, mergeByRelativeRank, type MergedSelection, mergePartitions, mergePartitionsSelected, selectPartitioned,
} from './partitions.js';
export { type PlantedOptions, type PlantedLabels, plantedLabels, precisionOf } from './planted.js';
export { rankToSelection, scoreColumns } from './rank.js';
export { SELECTION_COLUMNS, formatSelectionCsv, parseSelectionCsv, readSelectionCsv, writeSelectionCsv, type SelectionRow } from '../../run/selection.js';
export {
  type CutoffMetrics, type EvalSummary, type PrefixCurves, prefixCurves, TOP_RATIOS, type SummarizeOptions,
  summarizeRanking, formatSummary,
} from './evaluate.js';
export {
  labelMI, type NullTest, permutationTest, type PairEvidence, type EvidenceOptions, strideSample, pairEvidence,
  type AutoPairingOptions, type AutoPairing, autoPairs, takeRows, type PairingConfig, DEFAULT_AUTO, poolPairs,
} from './evidence.js';
export {
  SELECTION_PART_FORMAT, selectionPaths, type SelectionPool, poolFromClusters, selectionParams,
  selectionFingerprint, type SelectStageOptions, type SelectStageResult, type SelectionMeta, runSelect,
  writeScoreSelection, summarizeAutoPairing,
} from './stage.js';
export { type EvalStageOptions, type EvalStageResult, truthLookup, runEvalSelection } from './eval-stage.js';
export {
  EXPLAIN_FORMAT, type ExplainPair, type ExplainClipRef, type ExplainCell, type ExplainClip, type ExplainFile, type ExplainOptions,
  type Explanation, explainSelection, type ExplainStageOptions, type ExplainStageResult, runExplain, formatExplain, formatClip,
} from './explain.js';
