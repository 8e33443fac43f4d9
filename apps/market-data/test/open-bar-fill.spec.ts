// The open bars of the longer timeframes after a lost feed, against the real simulator in a quiet market (the test
// prints every trade, so the simulator's own 1 s history is the whole truth). While the market hub is down (or its
// feed frozen) the simulator prints a new high and a new low the thread never sees. The closed-bucket repair puts
// them in the 1h and 1d bars only once those buckets close; the open bars must carry them as soon as the feed is
// back: high, low and volume as the simulator's history has them, no trade counted twice at either edge.
import { BroadcastChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Atr, Ema, parseTimeframe, Sma } from '@gateway/bars';
import { BROKER_TOKEN_CHANNEL } from '@gateway/runtime';
import { PRICE_SCALE } from '@gateway/shared-state';
import { GatewayRestClient } from '@gateway/topstepx';
import { FUTURE_PRINT_TOLERANCE_MS } from '../src/app';
import { bucketOf } from '../src/backfill';
import type { BarMessage } from '../src/frames';
import { Client, metricValue, startHarness, waitFor, type Harness } from './harness';

const HOUR = parseTimeframe('1h');
const DAY = parseTimeframe('1d');
const units = (x: number): number => Math.round(x * PRICE_SCALE);

interface Ohlcv {
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

/** What the two specs share: a harness in a quiet market, and reads of the thread's and the simulator's bars. */
function setup(staleAfterMs: string): {
  h: () => Harness;
  rest: () => GatewayRestClient;
  clients: Client[];
  /** Market-hub SubscribeContractTrades invocations seen by the simulator since the start. */
  tradeSubscriptions: () => number;
} {
  let h: Harness;
  let rest: GatewayRestClient;
  let subs = 0;
  const clients: Client[] = [];
  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1s,1h,1d', BAR_CACHE_SIZE: '200', STALE_AFTER_MS: staleAfterMs },
      sim: { market: { tradesPerSecond: 0 } },
      contracts: ['MNQ'],
    });
    h.sim.on('hubInvocation', (e) => {
      if (e.hub === 'market' && e.target.toLowerCase() === 'subscribecontracttrades') subs++;
    });
    rest = new GatewayRestClient({ baseUrl: h.sim.url, userName: 'demo', apiKey: 'demo-key' });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await rest?.close();
    await h?.close();
  });
  return { h: () => h, rest: () => rest, clients, tradeSubscriptions: () => subs };
}

async function bars(h: Harness, timeframe: string, includeOpen: boolean): Promise<BarMessage[]> {
  const res = (await h.supervisor.request('market-data', 'getBars', { symbol: 'MNQ', timeframe, limit: 0, includeOpen })) as { bars: BarMessage[] };
  return res.bars;
}

async function openBar(h: Harness, timeframe: string): Promise<BarMessage | undefined> {
  const all = await bars(h, timeframe, true);
  const last = all[all.length - 1];
  return last !== undefined && !last.closed ? last : undefined;
}

/** The simulator's record of [fromMs, now]: its live 1 s bars (the partial one included) folded into one bar. */
async function truth(h: Harness, rest: GatewayRestClient, fromMs: number): Promise<Ohlcv> {
  const rows = (await rest.retrieveBars({
    contractId: h.contracts[0]!.contractId,
    live: false,
    startTime: new Date(fromMs).toISOString(),
    endTime: new Date(Date.now() + 1_000).toISOString(),
    unit: 1,
    unitNumber: 1,
    limit: 20_000,
    includePartialBar: true,
  })) ?? [];
  const sorted = rows.map((b) => ({ t: Date.parse(b.t), o: b.o, h: b.h, l: b.l, c: b.c, v: b.v })).sort((a, b) => a.t - b.t);
  expect(sorted.length).toBeGreaterThan(0);
  return {
    o: sorted[0]!.o,
    h: Math.max(...sorted.map((b) => b.h)),
    l: Math.min(...sorted.map((b) => b.l)),
    c: sorted[sorted.length - 1]!.c,
    v: sorted.reduce((s, b) => s + b.v, 0),
  };
}

function ohlcv(b: { open: number; high: number; low: number; close: number; volume: number } | undefined): Ohlcv | undefined {
  return b && { o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume };
}

/**
 * The open 1h and 1d buckets must outlast the test (a closed bucket is the closed-bucket repair's business): wait
 * for the next hour when this one (or the trading day) ends within three minutes.
 */
async function roomInOpenBuckets(): Promise<{ hourStart: number; dayStart: number }> {
  const room = (now: number): number => Math.min(bucketOf(HOUR, now).endMs, bucketOf(DAY, now).endMs) - now;
  await waitFor(() => room(Date.now()) >= 180_000, 240_000, 'three minutes left in the open 1h and 1d buckets');
  const now = Date.now();
  return { hourStart: bucketOf(HOUR, now).startMs, dayStart: bucketOf(DAY, now).startMs };
}

/** The lost trades: a new high and a new low beyond anything printed live, then back. Returns the trade count. */
function printLost(h: Harness): number {
  const id = h.contracts[0]!.contractId;
  h.sim.setPrice(id, 21_060);
  h.sim.step(id, 10);
  h.sim.setPrice(id, 20_940);
  h.sim.step(id, 10);
  h.sim.setPrice(id, 21_001);
  return 23;
}

/**
 * Checks the open 1h and 1d bars (GetBars and the subscriber's newest in-progress frame) against the simulator's
 * record of their buckets, and the frame's indicators against the closed bars' incremental ones peeked with it.
 */
async function expectOpenBarsExact(h: Harness, rest: GatewayRestClient, ws: Client, starts: { hourStart: number; dayStart: number }, seenBefore: number): Promise<void> {
  for (const [tf, start] of [
    ['1h', starts.hourStart],
    ['1d', starts.dayStart],
  ] as const) {
    const want = await truth(h, rest, start);
    // The lost high and low are in the record, beyond anything printed live (a walk of at most 40 ticks from 21000).
    expect(want.h).toBeGreaterThanOrEqual(21_060);
    expect(want.l).toBeLessThanOrEqual(20_940);
    const ours = await openBar(h, tf);
    expect(ours?.startTimeMs, `${tf} bucket`).toBe(start);
    expect(ohlcv(ours), `${tf} open bar vs the simulator's history`).toEqual(want);
    // `n` counts the trades seen live only: the history does not report trade counts.
    expect(ours!.tradeCount, `${tf} trades seen live`).toBe(seenBefore);

    const frames = ws.of('bar').filter((f) => f['timeframe'] === tf);
    const last = frames[frames.length - 1]!;
    expect(last['closed'], `${tf} newest frame is in progress`).toBe(false);
    expect({ o: last['o'], h: last['h'], l: last['l'], c: last['c'], v: last['v'] }, `${tf} in-progress frame`).toEqual(want);

    // Provisional indicators: the closed bars' incremental ATR/SMA/EMA, peeked with the filled open bar.
    const closed = await bars(h, tf, false);
    const atr = new Atr(14);
    const sma = new Sma(20);
    const ema = new Ema(20);
    for (const b of closed) {
      atr.update(units(b.high), units(b.low), units(b.close));
      sma.update(units(b.close));
      ema.update(units(b.close));
    }
    const opt = (x: unknown): number | undefined => (typeof x === 'number' ? units(x) : undefined);
    expect(opt(last['atr']), `${tf} atr`).toBe(atr.peek(units(want.h), units(want.l), units(want.c)));
    expect(opt(last['sma']), `${tf} sma`).toBe(sma.peek(units(want.c)));
    expect(opt(last['ema']), `${tf} ema`).toBe(ema.peek(units(want.c)));
  }
}

/** Trades the thread has seen once liveOpenBars returns: the price set, then 30 steps. */
const LIVE_TRADES = 31;

/**
 * Both tests' start: open 1h and 1d buckets with room, a WebSocket subscriber of both, and live trades before the
 * loss (the open bars hold these).
 */
async function liveOpenBars(ctx: ReturnType<typeof setup>): Promise<{ h: Harness; id: string; starts: { hourStart: number; dayStart: number }; ws: Client }> {
  const h = ctx.h();
  const id = h.contracts[0]!.contractId;
  const starts = await roomInOpenBuckets();
  const ws = new Client(h.wsUrl);
  ctx.clients.push(ws);
  await ws.opened;
  ws.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1h', snapshot: 0 });
  ws.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1d', snapshot: 0 });
  await ws.waitFrame((f) => f['type'] === 'snapshot' && f['timeframe'] === '1d', 10_000, 'snapshots');
  h.sim.setPrice(id, 21_000);
  h.sim.step(id, LIVE_TRADES - 1);
  await waitFor(async () => (await metricValue(h.registry, 'market_data_trades_total')) === LIVE_TRADES, 10_000, 'live trades seen');
  return { h, id, starts, ws };
}

/**
 * Both tests' end, once the open bars were filled: five more live trades, seen in the cache and on both in-progress
 * frames, then the open bars checked against the simulator's own history (`seen`: live trades so far).
 */
async function liveAfterFill(ctx: ReturnType<typeof setup>, h: Harness, id: string, ws: Client, starts: { hourStart: number; dayStart: number }, seenBefore: number): Promise<void> {
  h.sim.step(id, 5);
  const seen = seenBefore + 5;
  await waitFor(async () => (await metricValue(h.registry, 'market_data_trades_total')) === seen, 10_000, 'later live trades seen');
  await waitFor(async () => (await openBar(h, '1h'))?.tradeCount === seen, 10_000, 'open 1h bar up to date');
  await ws.waitFrame((f) => f['timeframe'] === '1d' && f['n'] === seen, 10_000, 'in-progress 1d frame up to date');
  await ws.waitFrame((f) => f['timeframe'] === '1h' && f['n'] === seen, 10_000, 'in-progress 1h frame up to date');
  await expectOpenBarsExact(h, ctx.rest(), ws, starts, seen);
}

describe('open bars after a market-hub outage', () => {
  const ctx = setup('60000');

  it('carry the trades of the outage as soon as the hub is back, none counted twice', async () => {
    const { h, id, starts, ws } = await liveOpenBars(ctx);
    let seen = LIVE_TRADES;
    const lastLive = Date.now();

    h.sim.faults.expireTokens();
    h.sim.faults.disconnectHubs();
    await waitFor(() => h.sim.hubConnections('market') === 0, 10_000, 'hub dropped');
    // Lost trades stamped well after the last live one (past the future-print tolerance and a whole second).
    await waitFor(() => Date.now() >= lastLive + FUTURE_PRINT_TOLERANCE_MS + 1_500, 15_000, 'lost trades clear of the live ones');
    printLost(h);
    const lastLost = Date.now();
    await waitFor(() => Date.now() >= Math.floor(lastLost / 1_000) * 1_000 + 1_100, 5_000, "the lost trades' second over");

    const subsBefore = ctx.tradeSubscriptions();
    const token = await ctx.rest().login();
    const channel = new BroadcastChannel(BROKER_TOKEN_CHANNEL);
    channel.postMessage(token);
    channel.close();
    await waitFor(() => ctx.tradeSubscriptions() > subsBefore, 20_000, 'trades subscribed again');
    // Live again at once: counted live, before the open bars are filled, and not again from history.
    h.sim.step(id, 5);
    seen += 5;
    await waitFor(async () => (await metricValue(h.registry, 'market_data_open_bar_fills_total', { result: 'ok' })) >= 1, 20_000, 'open bars filled');
    await liveAfterFill(ctx, h, id, ws, starts, seen);
    expect(await metricValue(h.registry, 'market_data_open_bar_fills_total', { result: 'failed' })).toBe(0);
  }, 360_000);
});

describe('open bars after a frozen market feed (socket up, no events)', () => {
  const ctx = setup('1000');

  it('carry the trades of the frozen spell once the probe finds them missing', async () => {
    const { h, id, starts, ws } = await liveOpenBars(ctx);
    const slot = h.contracts[0]!.slot;
    let seen = LIVE_TRADES;
    const lastLive = Date.now();

    h.sim.faults.set({ feedFrozen: true });
    // Silent past STALE_AFTER_MS: the thread marks the contract stale (the spell a probe will look at).
    await waitFor(() => h.state.marks.isStale(slot), 10_000, 'stale while frozen');
    await waitFor(() => Date.now() >= lastLive + FUTURE_PRINT_TOLERANCE_MS + 1_500, 15_000, 'lost trades clear of the live ones');
    printLost(h);
    const lastLost = Date.now();
    await waitFor(() => Date.now() >= Math.floor(lastLost / 1_000) * 1_000 + 1_100, 5_000, "the lost trades' second over");

    h.sim.faults.set({ feedFrozen: false });
    h.sim.step(id, 5);
    seen += 5;
    await waitFor(() => !h.state.marks.isStale(slot), 10_000, 'fresh again');
    await waitFor(async () => (await metricValue(h.registry, 'market_data_open_bar_fills_total', { result: 'ok' })) >= 1, 30_000, 'open bars filled');
    await liveAfterFill(ctx, h, id, ws, starts, seen);
  }, 360_000);
});
