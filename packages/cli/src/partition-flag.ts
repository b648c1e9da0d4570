/**
 * The `--partition` flag shared by `fedkit client` and `fedkit demo`: `iid`, `shards[:N]` or
 * `dirichlet:ALPHA`, parsed by client-core's partition-spec parser with errors naming the flag.
 */
import { parsePartitionSpec, type PartitionSpec } from '@fedkit/client-core';
import { FedkitError } from '@fedkit/protocol';

export function partitionFlag(values: Record<string, unknown>): { text: string; spec: PartitionSpec } {
  const text = typeof values.partition === 'string' ? values.partition : 'iid';
  try {
    return { text, spec: parsePartitionSpec(text) };
  } catch (error) {
    throw new FedkitError('config-invalid', `--partition: ${(error as Error).message}`);
  }
}
