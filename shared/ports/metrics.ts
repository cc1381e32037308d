/**
 * The metrics the domain publishes (CloudWatch embedded metric format on Lambda). A port, so the
 * domain does not depend on Powertools: its Metrics satisfies this, and the Lambda wiring builds
 * it and passes it in. Only the units the pipeline uses are named.
 */
export type MetricUnit = 'Count' | 'Percent';

/** A metric emitted on its own, with its own dimensions (the budget alarm's per-team metric). */
export interface SingleMetric {
  clearDefaultDimensions(): void;
  addDimension(name: string, value: string): void;
  addMetric(name: string, unit: MetricUnit, value: number): void;
}

export interface Metrics {
  addMetric(name: string, unit: MetricUnit, value: number): void;
  singleMetric(): SingleMetric;
  /** Flushes what was added; the handlers call it at the end of each invocation. */
  publishStoredMetrics(): void;
}
