// The marks and stale flags in shared memory, which the executor's stale-data gate and the risk-manager's P&L
// read: a restarted market-data thread whose feed never comes back, and trades that arrive out of order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMark, PRICE_SCALE } from '@gateway/shared-state';
import { metricValue, startHarness, waitFor, type Harness } from './harness';

describe('a restarted market-data thread whose feed stays silent', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1m', BAR_CACHE_SIZE: '10', STALE_AFTER_MS: '300' },
      sim: { market: { tradesPerSecond: 0 }, faults: { feedFrozen: true } },
      app: { backfill: false },
      // The shared memory outlives the thread (engine supervisor): the previous thread left the flags fresh.
      beforeStart: (_sim, state) => {
        for (let slot = 0; slot < state.directory.count(); slot++) state.marks.setStale(slot, false);
      },
    });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('marks every contract stale until its feed delivers, so entries are refused', async () => {
    for (const c of h.contracts) {
      await waitFor(() => h.state.marks.isStale(c.slot), 5_000, `${c.root} stale`);
    }
  }, 20_000);
});

describe('trades arriving out of timestamp order', () => {
  let h: Harness;
  let skewMs = 0;

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1m', BAR_CACHE_SIZE: '10', STALE_AFTER_MS: '60000' },
      sim: { market: { tradesPerSecond: 0 }, clock: () => Date.now() + skewMs },
      app: { backfill: false },
    });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('keep the newest trade as the mark: an older print does not move last or lastTradeMs back', async () => {
    const { slot, contractId } = h.contracts[0]!;
    const m = newMark();
    h.sim.setPrice(contractId, 21_003.25);
    await waitFor(() => h.state.marks.read(slot, m).last === 21_003.25 * PRICE_SCALE, 10_000, 'mark at 21003.25');
    const newestTs = m.lastTradeMs;
    // A print stamped 5 s earlier arrives next (with its quote, which the hub sends after it in the same frame).
    skewMs = -5_000;
    h.sim.setPrice(contractId, 21_001);
    await waitFor(() => h.state.marks.read(slot, m).bid === 21_001 * PRICE_SCALE, 10_000, 'quote after the older print');
    expect(m.last).toBe(21_003.25 * PRICE_SCALE);
    expect(m.lastTradeMs).toBe(newestTs);
  }, 20_000);

  it('refuse a print stamped an hour ahead of the local clock: neither the bars nor the mark follow it', async () => {
    const { slot, contractId } = h.contracts[0]!;
    const m = newMark();
    skewMs = 0;
    h.sim.setPrice(contractId, 21_005);
    await waitFor(() => h.state.marks.read(slot, m).last === 21_005 * PRICE_SCALE, 10_000, 'mark at 21005');
    const refused = await metricValue(h.registry, 'market_data_bad_trades_total', { reason: 'future' });
    skewMs = 3_600_000;
    h.sim.setPrice(contractId, 21_000);
    await waitFor(() => h.state.marks.read(slot, m).bid === 21_000 * PRICE_SCALE, 10_000, 'quote after the future print');
    expect(m.last).toBe(21_005 * PRICE_SCALE);
    expect(await metricValue(h.registry, 'market_data_bad_trades_total', { reason: 'future' })).toBe(refused + 1);
    // A real print afterwards lands in the bar of the current minute, not 'late' behind a bucket an hour ahead.
    skewMs = 0;
    const before = Date.now();
    h.sim.setPrice(contractId, 21_006);
    await waitFor(() => h.state.marks.read(slot, m).last === 21_006 * PRICE_SCALE, 10_000, 'mark at 21006');
    const res = (await h.supervisor.request('market-data', 'getBars', { symbol: 'MNQ', timeframe: '1m', includeOpen: true })) as {
      bars: Array<{ startTimeMs: number; close: number; closed: boolean }>;
    };
    const open = res.bars.find((b) => !b.closed)!;
    expect(open.close).toBe(21_006);
    expect(open.startTimeMs).toBeLessThanOrEqual(Date.now());
    expect(open.startTimeMs).toBeGreaterThan(before - 60_000);
    expect(res.bars.every((b) => b.startTimeMs <= Date.now())).toBe(true);
  }, 20_000);
});
