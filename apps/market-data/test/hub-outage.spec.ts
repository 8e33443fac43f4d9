// A market-hub outage against the real simulator: the hub drops and cannot reconnect for a few seconds (its token
// expired; the main thread's rotated token ends the outage) while the simulator keeps trading. The trades of the
// gap never reach the thread, so its bars of that window are missing or partial until they are repaired from
// History/retrieveBars, which the simulator builds from every trade it printed, connected or not.
import { BroadcastChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Atr, Ema, Sma } from '@gateway/bars';
import { BROKER_TOKEN_CHANNEL } from '@gateway/runtime';
import { PRICE_SCALE } from '@gateway/shared-state';
import { GatewayRestClient } from '@gateway/topstepx';
import type { BarMessage } from '../src/frames';
import { Client, metricValue, startHarness, waitFor, type Harness } from './harness';

const TIMEFRAMES = [
  { name: '1s', ms: 1_000, unitNumber: 1 },
  { name: '5s', ms: 5_000, unitNumber: 5 },
];

interface SimBar {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

describe('bars after a market-hub outage', () => {
  let h: Harness;
  let rest: GatewayRestClient;
  const clients: Client[] = [];

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: TIMEFRAMES.map((t) => t.name).join(','), BAR_CACHE_SIZE: '600', STALE_AFTER_MS: '60000' },
      sim: { market: { tradesPerSecond: 40 } },
      contracts: ['MNQ'],
    });
    rest = new GatewayRestClient({ baseUrl: h.sim.url, userName: 'demo', apiKey: 'demo-key' });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await rest?.close();
    await h?.close();
  });

  async function cached(timeframe: string): Promise<BarMessage[]> {
    const res = (await h.supervisor.request('market-data', 'getBars', { symbol: 'MNQ', timeframe, limit: 0 })) as { bars: BarMessage[] };
    return res.bars;
  }

  /** The simulator's history bars with start in [fromMs, toMs), oldest first. */
  async function history(unitNumber: number, fromMs: number, toMs: number): Promise<SimBar[]> {
    const bars = await rest.retrieveBars({
      contractId: h.contracts[0]!.contractId,
      live: false,
      startTime: new Date(fromMs).toISOString(),
      endTime: new Date(toMs).toISOString(),
      unit: 1,
      unitNumber,
      limit: 20_000,
      includePartialBar: false,
    });
    return (bars ?? []).map((b) => ({ t: Date.parse(b.t), o: b.o, h: b.h, l: b.l, c: b.c, v: b.v })).sort((a, b) => a.t - b.t);
  }

  it('repairs the bars of the gap from history, recomputes the indicators and re-sends the repaired bars', async () => {
    const ws = new Client(h.wsUrl);
    clients.push(ws);
    await ws.opened;
    ws.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s', snapshot: 0 });
    // Enough live bars before the gap for ATR (14) to be ready over the window.
    await waitFor(async () => (await cached('1s')).length >= 12, 30_000, '12 closed 1s bars');

    const dropAt = Date.now();
    h.sim.faults.expireTokens();
    h.sim.faults.disconnectHubs();
    await waitFor(() => h.sim.hubConnections('market') === 0, 10_000, 'hub dropped');
    // The simulator trades on through whole seconds the thread does not see.
    await waitFor(() => Date.now() - dropAt >= 3_000, 10_000, 'three seconds of outage');
    const token = await rest.login();
    const channel = new BroadcastChannel(BROKER_TOKEN_CHANNEL);
    channel.postMessage(token);
    channel.close();
    await waitFor(() => h.sim.hubConnections('market') === 1, 15_000, 'hub reconnected');
    const upAt = Date.now();

    await waitFor(async () => (await metricValue(h.registry, 'market_data_bar_repairs_total', { result: 'ok' })) >= TIMEFRAMES.length, 30_000, 'repairs done');
    for (const tf of TIMEFRAMES) {
      // The window: from the bucket of the drop to the one open at the reconnect (both were partial).
      const from = Math.floor(dropAt / tf.ms) * tf.ms;
      const to = Math.floor(upAt / tf.ms) * tf.ms + tf.ms;
      const broker = await history(tf.unitNumber, from, to);
      const ours = (await cached(tf.name)).filter((b) => b.startTimeMs >= from && b.startTimeMs < to);
      // The gap had trades the thread never saw: whole seconds of it have broker bars (40 trades/s).
      if (tf.ms === 1_000) expect(broker.filter((b) => b.t >= dropAt && b.t + tf.ms <= upAt).length).toBeGreaterThan(0);
      expect(ours.map((b) => ({ t: b.startTimeMs, o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume })), tf.name).toEqual(broker);
    }

    // Subscribers got the repaired bars as closed updates: the last closed frame of each bucket is the broker's bar.
    const broker1s = await history(1, Math.floor(dropAt / 1000) * 1000, Math.floor(upAt / 1000) * 1000 + 1000);
    for (const b of broker1s) {
      const frames = ws.of('bar').filter((f) => f['closed'] === true && f['t'] === b.t);
      const last = frames[frames.length - 1];
      expect(last && { t: last['t'], o: last['o'], h: last['h'], l: last['l'], c: last['c'], v: last['v'] }, `frame of ${b.t}`).toEqual(b);
    }

    // Indicators over the repaired cache, including bars closed live after the repair, as a fresh computation gives.
    const closedAfter = (await cached('1s')).length + 2;
    await waitFor(async () => (await cached('1s')).length >= closedAfter, 15_000, 'two more closed bars');
    const all = await cached('1s');
    const atr = new Atr(14);
    const sma = new Sma(20);
    const ema = new Ema(20);
    const units = (x: number): number => Math.round(x * PRICE_SCALE);
    let checked = 0;
    for (const b of all) {
      atr.update(units(b.high), units(b.low), units(b.close));
      sma.update(units(b.close));
      ema.update(units(b.close));
      expect(b.atr === undefined ? undefined : units(b.atr), `atr at ${b.startTimeMs}`).toBe(atr.value);
      expect(b.sma === undefined ? undefined : units(b.sma), `sma at ${b.startTimeMs}`).toBe(sma.value);
      expect(b.ema === undefined ? undefined : units(b.ema), `ema at ${b.startTimeMs}`).toBe(ema.value);
      if (atr.value !== undefined) checked++;
    }
    expect(checked).toBeGreaterThan(0);
  }, 120_000);
});
