/**
 * The names of the cache benchmark's workloads, apart from the workloads themselves so that the
 * CLI can list them in `--help` without loading the tokenizer and the simulator.
 */
export const WORKLOADS = ['synthetic', 'tiny-groups', 'mixed', 'corpus'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];
