// Regression (found in review of c9d1606): a print stamped ahead of the local clock but inside FUTURE_PRINT_TOLERANCE_MS (5 s) is taken
// with its own stamp by the bar aggregator. It opens a bucket up to 5 s in the future, and every real print that
// follows (stamped with the real time) is older than that bucket: counted late and dropped from the bars until
// the clock reaches the outlier's stamp. The mark was protected (its stamp is capped at the local clock); the bars
// were not. Real simulator, real market-data app; the only fault is one print stamped 4.9 s ahead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMark, PRICE_SCALE } from '@gateway/shared-state';
import { startHarness, waitFor, type Harness } from './harness';

describe('a single print stamped a few seconds ahead (inside the tolerance)', () => {
  let h: Harness;
  let skewMs = 0;

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1s', BAR_CACHE_SIZE: '50', STALE_AFTER_MS: '60000' },
      sim: { market: { tradesPerSecond: 0 }, clock: () => Date.now() + skewMs },
      app: { backfill: false },
      contracts: ['MNQ'],
    });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('does not make the real prints after it late: the next real print is in the bars', async () => {
    const { slot, contractId } = h.contracts[0]!;
    const m = newMark();
    skewMs = 0;
    h.sim.setPrice(contractId, 21_010);
    await waitFor(() => h.state.marks.read(slot, m).last === 21_010 * PRICE_SCALE, 10_000, 'mark at 21010');

    // One outlier stamped 4.9 s ahead: accepted (below the 5 s tolerance).
    skewMs = 4_900;
    h.sim.setPrice(contractId, 21_000);
    await waitFor(() => h.state.marks.read(slot, m).last === 21_000 * PRICE_SCALE, 10_000, 'mark at 21000 (outlier taken)');

    // The very next print carries the real time.
    skewMs = 0;
    h.sim.setPrice(contractId, 21_020);
    await waitFor(() => h.state.marks.read(slot, m).last === 21_020 * PRICE_SCALE, 10_000, 'mark at 21020');
    const res = (await h.supervisor.request('market-data', 'getBars', { symbol: 'MNQ', timeframe: '1s', includeOpen: true, limit: 0 })) as {
      bars: Array<{ startTimeMs: number; open: number; high: number; low: number; close: number; closed: boolean }>;
    };
    const now = Date.now();
    // The real print (21020, the highest price traded) must be in some 1 s bar.
    expect(
      res.bars.some((b) => b.high === 21_020),
      `bars: ${JSON.stringify(res.bars.map((b) => ({ t: b.startTimeMs - now, c: b.close, closed: b.closed })))}`,
    ).toBe(true);
  }, 30_000);
});
