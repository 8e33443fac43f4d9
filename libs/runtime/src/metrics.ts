// A prom-client registry per thread, labelled by app. Workers send their registry as JSON to the
// main thread, which merges all of them for /metrics (AggregatorRegistry keeps series apart by label).
import { AggregatorRegistry, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export function createMetricsRegistry(app: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  return registry;
}

/** Merge the JSON of several registries (main thread + each worker) into one text exposition. */
export async function mergeMetrics(parts: MetricsJson[]): Promise<{ contentType: string; body: string }> {
  const merged = AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}
