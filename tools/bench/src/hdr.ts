// HDR histogram helpers shared by every latency benchmark. Values are recorded as integers in one unit
// chosen by the caller (µs for round trips, ns for the in-process gate), 3 significant digits, so a
// percentile is exact to 0.1 %. Warm-up samples are simply never recorded (callers run them first).
import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  /** Samples recorded. */
  count: number;
  p50: number;
  p99: number;
  max: number;
  /** The unit the values above are in (`us`, `ns`, `ms`). */
  unit: string;
}

export type Histogram = hdr.Histogram;

/** A 64-bit-bucket histogram tracking 1 .. 1e12 of the caller's unit (µs: up to ~11 days; ns: ~16 min). */
export function createHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: 1e12, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Records samples (rounded to an integer, at least 1 so sub-unit values are not lost as zero). */
export function recordAll(h: Histogram, values: Iterable<number>): Histogram {
  for (const v of values) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`sample: expected a finite non-negative number, got ${v}`);
    h.recordValue(Math.max(1, Math.round(v)));
  }
  return h;
}

export function summarize(h: Histogram, unit: string): LatencySummary {
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p99: h.getValueAtPercentile(99),
    max: h.maxValue,
    unit,
  };
}

/** Convenience: histogram of raw samples → summary. Throws on an empty sample set (nothing was measured). */
export function summarizeSamples(values: readonly number[], unit: string): LatencySummary {
  if (values.length === 0) throw new RangeError('samples: no samples recorded');
  return summarize(recordAll(createHistogram(), values), unit);
}

/** Converts a summary to another unit by a divisor (µs → ms: 1000), keeping 3 decimals. */
export function scaleSummary(s: LatencySummary, divisor: number, unit: string): LatencySummary {
  const f = (v: number): number => Math.round((v / divisor) * 1000) / 1000;
  return { count: s.count, p50: f(s.p50), p99: f(s.p99), max: f(s.max), unit };
}
