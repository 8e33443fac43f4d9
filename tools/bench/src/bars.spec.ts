import { describe, expect, it } from 'vitest';
import { runBarsBench } from './bars';

// Smoke test of the benchmark's wiring only: the numbers are reported, never asserted against a goal.
describe('runBarsBench', () => {
  it('returns finite positive throughputs and their ratio', async () => {
    const r = await runBarsBench({ trades: 20_000, seed: 1 });
    for (const v of [r.tradesPerSec, r.oracleTradesPerSec, r.indicatorBarsPerSec, r.oracleIndicatorBarsPerSec]) {
      expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    expect(r.ratio).toBeCloseTo(r.tradesPerSec / r.oracleTradesPerSec, 9);
  });

  it('rejects a bad trade count', async () => {
    await expect(runBarsBench({ trades: 0, seed: 1 })).rejects.toThrow(/trades/);
  });
});
