// Regression (found in review of c9d1606): the bar repair runs only after a hub *reconnect* ('reconnecting' → 'reconnected'). A market hub
// whose socket stays up (pings answered) while it stops delivering market events — the simulator's feedFrozen
// fault, which the thread itself detects per contract through the hub watchdog ('market data stale', reason
// hub-watchdog) — loses the prints of that window just the same, but nothing repairs them: once the feed flows
// again the 1 s bars of the frozen seconds stay missing for good, though History/retrieveBars has them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayRestClient } from '@gateway/topstepx';
import type { BarMessage } from '../src/frames';
import { startHarness, waitFor, type Harness } from './harness';

describe('bars after a frozen market feed (socket up, no events)', () => {
  let h: Harness;
  let rest: GatewayRestClient;

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1s', BAR_CACHE_SIZE: '600', STALE_AFTER_MS: '1000' },
      sim: { market: { tradesPerSecond: 40 } },
      contracts: ['MNQ'],
    });
    rest = new GatewayRestClient({ baseUrl: h.sim.url, userName: 'demo', apiKey: 'demo-key' });
  }, 60_000);

  afterAll(async () => {
    await rest?.close();
    await h?.close();
  });

  async function cached(): Promise<BarMessage[]> {
    const res = (await h.supervisor.request('market-data', 'getBars', { symbol: 'MNQ', timeframe: '1s', limit: 0 })) as { bars: BarMessage[] };
    return res.bars;
  }

  it('has the broker bars of the frozen seconds once the feed is back', async () => {
    await waitFor(async () => (await cached()).length >= 5, 30_000, '5 closed 1s bars');
    const frozenAt = Date.now();
    h.sim.faults.set({ feedFrozen: true });
    // The thread notices: the contract goes stale (hub watchdog) while the simulator trades on.
    await waitFor(() => h.state.marks.isStale(h.contracts[0]!.slot), 10_000, 'stale while frozen');
    await waitFor(() => Date.now() - frozenAt >= 6_000, 15_000, "six seconds frozen");
    const thawedAt = Date.now();
    h.sim.faults.set({ feedFrozen: false });
    await waitFor(() => !h.state.marks.isStale(h.contracts[0]!.slot), 10_000, 'fresh again');
    // Generous: every bucket of the window closed long ago, a repair (if any) had many seconds to run.
    await waitFor(() => Date.now() - thawedAt >= 8_000, 20_000, 'eight seconds after the thaw');

    // Whole seconds strictly inside the frozen window: the thread saw none of their prints.
    const from = Math.ceil(frozenAt / 1000) * 1000 + 1000;
    const to = Math.floor(thawedAt / 1000) * 1000 - 1000;
    const broker = ((await rest.retrieveBars({
      contractId: h.contracts[0]!.contractId,
      live: false,
      startTime: new Date(from).toISOString(),
      endTime: new Date(to).toISOString(),
      unit: 1,
      unitNumber: 1,
      limit: 20_000,
      includePartialBar: false,
    })) ?? []).map((b) => Date.parse(b.t));
    expect(broker.length).toBeGreaterThan(0);
    const ours = new Set((await cached()).map((b) => b.startTimeMs));
    const missing = broker.filter((t) => !ours.has(t));
    expect(missing, `broker 1s bars of the frozen window missing from the cache (of ${broker.length})`).toEqual([]);
  }, 120_000);
});
