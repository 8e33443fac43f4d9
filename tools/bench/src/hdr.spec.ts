import { describe, expect, it } from 'vitest';
import { createHistogram, recordAll, scaleSummary, summarize, summarizeSamples } from './hdr';

describe('HDR summary helper', () => {
  it('computes p50, p99 and max of known data', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summarizeSamples(values, 'us')).toEqual({ count: 100, p50: 50, p99: 99, max: 100, unit: 'us' });
  });

  it('keeps 3 significant digits on large values', () => {
    const s = summarize(recordAll(createHistogram(), [1_000_000, 2_000_000, 3_000_000]), 'ns');
    expect(s.count).toBe(3);
    expect(Math.abs(s.max - 3_000_000) / 3_000_000).toBeLessThan(0.001);
    expect(Math.abs(s.p50 - 2_000_000) / 2_000_000).toBeLessThan(0.001);
  });

  it('records sub-unit samples as 1 instead of dropping them', () => {
    expect(summarizeSamples([0.2, 0.4], 'us')).toMatchObject({ count: 2, p50: 1, max: 1 });
  });

  it('rejects an empty sample set and bad samples', () => {
    expect(() => summarizeSamples([], 'us')).toThrow(/samples/);
    expect(() => recordAll(createHistogram(), [Number.NaN])).toThrow(/sample/);
    expect(() => recordAll(createHistogram(), [-1])).toThrow(/sample/);
  });

  it('scales a summary to another unit', () => {
    expect(scaleSummary({ count: 3, p50: 1500, p99: 2250, max: 10_001, unit: 'us' }, 1000, 'ms')).toEqual({ count: 3, p50: 1.5, p99: 2.25, max: 10.001, unit: 'ms' });
  });
});
