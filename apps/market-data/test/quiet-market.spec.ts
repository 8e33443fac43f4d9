// A quiet market (no random trades: the test moves the price) and a broker whose REST API fails: the service
// goes live without warm-up, marks follow each trade exactly, open bars are re-sent every second without
// trades, and the close timer closes a bar on time when no later trade does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMark, PRICE_SCALE } from '@gateway/shared-state';
import { Client, metricValue, startHarness, waitFor, type Harness } from './harness';

describe('market-data in a quiet market, REST history down', () => {
  let h: Harness;
  const clients: Client[] = [];

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1s,1h', BAR_CACHE_SIZE: '50', STALE_AFTER_MS: '60000' },
      sim: { market: { tradesPerSecond: 0, historyDays: 1 } },
      beforeStart: (sim) => sim.faults.set({ serverErrors: 1_000 }),
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await h?.close();
  });

  it('is ready without warm-up when History/retrieveBars fails', () => {
    const info = h.app.readyInfo!() as { backfilledBars: number; wsPort: number };
    expect(info.backfilledBars).toBe(0);
    expect(info.wsPort).toBeGreaterThan(0);
  });

  it('writes each trade to the marks, not stale', async () => {
    const { slot, contractId } = h.contracts[0]!;
    h.sim.setPrice(contractId, 21_003.25);
    const m = newMark();
    await waitFor(() => h.state.marks.read(slot, m).last === 21_003.25 * PRICE_SCALE, 10_000, 'mark at 21003.25');
    expect(h.state.marks.isStale(slot)).toBe(false);
    h.sim.setPrice(contractId, 21_002.5);
    await waitFor(() => h.state.marks.read(slot, m).last === 21_002.5 * PRICE_SCALE, 10_000, 'mark at 21002.50');
    expect(m.bid).toBeGreaterThan(0);
    expect(m.ask).toBeGreaterThan(m.bid);
  }, 20_000);

  it('re-sends the open bar every second without trades and closes bars on time by the timer', async () => {
    const c = new Client(h.wsUrl);
    clients.push(c);
    await c.opened;
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1h', snapshot: 10 });
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s', snapshot: 10 });
    const snap = await c.waitFrame((f) => f['type'] === 'snapshot' && f['timeframe'] === '1h', 5_000, 'snapshot');
    expect(snap['bars']).toEqual([]);
    const trades = await metricValue(h.registry, 'market_data_trades_total');
    h.sim.setPrice(h.contracts[0]!.contractId, 21_004);
    // One trade: the 1h bar is open and keeps being re-sent; the 1s bar closes by the timer.
    await waitFor(() => c.of('bar').filter((f) => f['timeframe'] === '1h' && f['c'] === 21_004).length >= 3, 10_000, 'three 1h frames');
    const closed = await c.waitFrame((f) => f['timeframe'] === '1s' && f['closed'] === true && f['c'] === 21_004, 10_000, 'timer-closed 1s bar');
    expect(closed['v']).toBeGreaterThan(0);
    expect(await metricValue(h.registry, 'market_data_trades_total')).toBe(trades + 1);
    const hourly = c.of('bar').filter((f) => f['timeframe'] === '1h' && f['c'] === 21_004);
    expect(hourly.every((f) => f['closed'] === false && f['h'] === hourly[0]!['h'])).toBe(true);
  }, 20_000);

  it('serves 1,000 concurrent subscribers: each gets the same update', async () => {
    const n = 1000;
    const many: Client[] = [];
    try {
      for (let i = 0; i < n; i += 100) {
        const batch = Array.from({ length: 100 }, () => new Client(h.wsUrl));
        many.push(...batch);
        await Promise.all(batch.map((c) => c.opened));
        for (const c of batch) c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1h', snapshot: 0 });
      }
      await waitFor(() => many.every((c) => c.of('snapshot').length === 1), 60_000, 'every snapshot');
      expect(await metricValue(h.registry, 'market_data_ws_subscribers')).toBeGreaterThanOrEqual(n);
      h.sim.setPrice(h.contracts[0]!.contractId, 21_010.75);
      await waitFor(() => many.every((c) => c.of('bar').some((f) => f['c'] === 21_010.75)), 60_000, 'every subscriber got the update');
      // One serialisation per update: every subscriber saw the same sequence number for it.
      const seqs = new Set(many.map((c) => c.of('bar').find((f) => f['c'] === 21_010.75)!['seq']));
      expect(seqs.size).toBe(1);
    } finally {
      for (const c of many) c.ws.terminate();
    }
    await waitFor(async () => (await metricValue(h.registry, 'market_data_ws_subscribers')) < n, 20_000, 'subscribers gone');
  }, 120_000);
});
