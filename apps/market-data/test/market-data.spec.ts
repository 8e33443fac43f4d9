// The market-data service against the real simulator (fast trade rate): WebSocket fan-out, marks in shared
// memory, staleness on a feed freeze, bad input, flooding, many subscribers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMark, PRICE_SCALE } from '@gateway/shared-state';
import { CLOSE_CODES } from '../src/feed-server';
import { Client, metricValue, startHarness, waitFor, type Harness } from './harness';

const isTick = (x: unknown, tick: number): boolean => typeof x === 'number' && Number.isInteger(Math.round(x * PRICE_SCALE) / (tick * PRICE_SCALE)) && Math.abs(Math.round(x / tick) * tick - x) < 1e-9;

describe('market-data against the simulator', () => {
  let h: Harness;
  const clients: Client[] = [];
  const client = (): Client => {
    const c = new Client(h.wsUrl);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1s,1m', BAR_CACHE_SIZE: '300', STALE_AFTER_MS: '1000' },
      sim: { market: { tradesPerSecond: 40, tickIntervalMs: 25, historyDays: 1 } },
      app: { feed: { messageBurst: 10, messagesPerSecond: 5, floodTolerance: 10 } },
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await h?.close();
  });

  it('subscribe → snapshot warmed from history → in-progress and closed bars with atr/sma/ema', async () => {
    const c = client();
    await c.opened;
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1m', snapshot: 50 });
    c.send({ op: 'subscribe', symbol: h.contracts[0]!.contractId, timeframe: '1s', snapshot: 5 });
    const snap = await c.waitFrame((f) => f['type'] === 'snapshot' && f['timeframe'] === '1m', 10_000, '1m snapshot');
    expect(snap['symbol']).toBe('MNQ');
    expect(snap['contractId']).toBe(h.contracts[0]!.contractId);
    const bars = snap['bars'] as Array<Record<string, number | null>>;
    expect(bars.length).toBe(50);
    const last = bars[bars.length - 1]!;
    for (const k of ['atr', 'sma', 'ema']) expect(typeof last[k]).toBe('number');
    for (let i = 1; i < bars.length; i++) expect(bars[i]!['t']!).toBeGreaterThan(bars[i - 1]!['t']!);

    const open = await c.waitFrame((f) => f['type'] === 'bar' && f['timeframe'] === '1m' && f['closed'] === false, 10_000, '1m in-progress bar');
    for (const k of ['atr', 'sma', 'ema']) expect(typeof open[k]).toBe('number');
    for (const k of ['o', 'h', 'l', 'c']) expect(isTick(open[k], 0.25)).toBe(true);
    expect(open['h'] as number).toBeGreaterThanOrEqual(open['l'] as number);

    const closed = await c.waitFrame((f) => f['type'] === 'bar' && f['timeframe'] === '1s' && f['closed'] === true, 10_000, '1s closed bar');
    for (const k of ['atr', 'sma', 'ema']) expect(k in closed).toBe(true);
    expect((closed['end'] as number) - (closed['t'] as number)).toBeLessThanOrEqual(1000);
    expect(closed['v'] as number).toBeGreaterThan(0);
    // Sequence numbers per topic only grow.
    const seqs = c.of('bar').filter((f) => f['timeframe'] === '1s').map((f) => f['seq'] as number);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    expect(await metricValue(h.registry, 'market_data_bar_updates_total', { kind: 'closed' })).toBeGreaterThan(0);
    expect(await metricValue(h.registry, 'market_data_trades_total')).toBeGreaterThan(0);
    expect(await metricValue(h.registry, 'market_data_trade_to_send_seconds_count')).toBeGreaterThan(0);
  }, 30_000);

  it('quotes are sent when asked for', async () => {
    const c = client();
    await c.opened;
    c.send({ op: 'subscribe', symbol: 'es', timeframe: '1s', quotes: true, snapshot: 0 });
    const q = await c.waitFrame((f) => f['type'] === 'quote', 10_000, 'quote');
    expect(q['symbol']).toBe('ES');
    expect(typeof q['bid']).toBe('number');
    expect(q['ask'] as number).toBeGreaterThan(q['bid'] as number);
  }, 20_000);

  it('writes the marks to shared memory as the feed moves', async () => {
    const slot = h.contracts[0]!.slot;
    const id = h.contracts[0]!.contractId;
    const m = newMark();
    await waitFor(
      () => {
        h.state.marks.read(slot, m);
        const q = h.sim.quote(id);
        return m.last === Math.round(q.last * PRICE_SCALE) && m.bid === Math.round(q.bid * PRICE_SCALE) && m.ask === Math.round(q.ask * PRICE_SCALE);
      },
      10_000,
      'marks equal to the simulator quote',
    );
    expect(m.lastTradeMs).toBeGreaterThan(0);
    expect(m.updatedMs).toBeGreaterThanOrEqual(m.lastTradeMs - 60_000);
    expect(h.state.marks.isStale(slot)).toBe(false);
  }, 20_000);

  it('marks a contract stale when the feed freezes, and fresh again after', async () => {
    const slot = h.contracts[0]!.slot;
    await waitFor(() => !h.state.marks.isStale(slot), 10_000, 'fresh before the freeze');
    h.sim.faults.set({ feedFrozen: true });
    try {
      await waitFor(() => h.state.marks.isStale(slot), 10_000, 'stale after the freeze');
      expect(await metricValue(h.registry, 'market_data_stale', { contract: 'MNQ' })).toBe(1);
      expect(await metricValue(h.registry, 'market_data_stale_events_total', { contract: 'MNQ' })).toBeGreaterThanOrEqual(1);
    } finally {
      h.sim.faults.set({ feedFrozen: false });
    }
    await waitFor(() => !h.state.marks.isStale(slot), 10_000, 'fresh after the freeze');
    expect(await metricValue(h.registry, 'market_data_stale', { contract: 'MNQ' })).toBe(0);
  }, 30_000);

  it('answers bad input with an error frame naming the problem and keeps the connection open', async () => {
    const c = client();
    await c.opened;
    c.send('{not json');
    c.send({ op: 'subscribe', symbol: 'XYZ', timeframe: '1m' });
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '7x' });
    c.send({ op: 'dance' });
    c.send({ op: 'subscribe', timeframe: '1m' });
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1m', snapshot: -1 });
    c.send({ op: 'unsubscribe', symbol: 'MNQ', timeframe: '1s' });
    c.send({ op: 'ping' });
    await c.waitFrame((f) => f['type'] === 'pong', 5_000, 'pong');
    const errors = c.of('error');
    expect(errors.map((e) => e['code'])).toEqual(['BAD_JSON', 'UNKNOWN_SYMBOL', 'UNKNOWN_TIMEFRAME', 'UNKNOWN_OP', 'BAD_REQUEST', 'BAD_REQUEST', 'NOT_SUBSCRIBED']);
    expect(errors[1]!['field']).toBe('symbol');
    expect(errors[1]!['message']).toContain('XYZ');
    expect(errors[2]!['field']).toBe('timeframe');
    expect(errors[2]!['message']).toContain('7x');
    expect(errors[4]!['field']).toBe('symbol');
    expect(errors[5]!['field']).toBe('snapshot');
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  }, 20_000);

  it('throttles then closes a flooding client while another subscriber keeps receiving', async () => {
    const good = client();
    const flood = client();
    await Promise.all([good.opened, flood.opened]);
    good.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s', snapshot: 0 });
    await good.waitFrame((f) => f['type'] === 'snapshot', 5_000, 'good snapshot');
    for (let i = 0; i < 200 && flood.ws.readyState === flood.ws.OPEN; i++) flood.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1m', snapshot: 0 });
    const code = await flood.closed;
    expect(code).toBe(CLOSE_CODES.FLOODING);
    expect(flood.of('error').map((e) => e['code'])).toContain('RATE_LIMITED');
    const before = good.of('bar').length;
    await waitFor(() => good.of('bar').length > before + 2, 10_000, 'good client still receiving');
    expect(await metricValue(h.registry, 'market_data_ws_disconnects_total', { reason: 'flooding' })).toBe(1);
  }, 20_000);
});
