export { exampleSize, subsetDataset, syntheticDataset, validateDataset } from './dataset.js';
export type { LocalDataset, SyntheticDatasetOptions } from './dataset.js';
export { partition, partitionLabelCounts } from './partition.js';
export type { Labels } from './partition.js';
export { PARTITION_KINDS, parsePartitionSpec, resolvePartitionSpec } from './partition-spec.js';
export type { PartitionSpec, ResolvedPartitionSpec } from './partition-spec.js';
