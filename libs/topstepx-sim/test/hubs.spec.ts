import { HttpTransportType, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { HubConnection } from '../src/hub';
import type { Simulator } from '../src/index';
import { MNQ, RawHub, client, login, quietSim, until } from './helpers';

let sim: Simulator | null = null;
const hubs: RawHub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) h.close();
  await sim?.close();
  sim = null;
});

async function connect(s: Simulator, kind: 'user' | 'market', token: string): Promise<RawHub> {
  const h = await RawHub.connect(kind === 'user' ? s.userHubUrl : s.marketHubUrl, token);
  hubs.push(h);
  return h;
}

describe('SignalR JSON protocol', () => {
  it('completes the handshake with {} and answers invocations with a type-3 completion', async () => {
    sim = await quietSim();
    const token = await login(sim);
    const h = await connect(sim, 'market', token);
    expect(h.frames[0]).toBe('{}\x1e');
    const done = await h.invoke('SubscribeContractQuotes', MNQ);
    expect(done).toEqual({ type: 3, invocationId: '1' });
  });

  it('answers an unknown hub method with ASP.NET Core\'s completion error "… HubException: Method does not exist."', async () => {
    sim = await quietSim();
    const h = await connect(sim, 'market', await login(sim));
    const done = await h.invoke('SubscribeContractDepth', MNQ);
    expect(done).toEqual({ type: 3, invocationId: '1', error: "Failed to invoke 'SubscribeContractDepth' due to an error on the server. HubException: Method does not exist." });
    // The connection keeps working.
    expect(await h.invoke('SubscribeContractTrades', MNQ)).toEqual({ type: 3, invocationId: '2' });
  });

  it('binds arguments like SignalR: a string accountId, a missing or extra argument fail the invocation and subscribe nothing', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const user = await connect(sim, 'user', c.token);
    const failed = (target: string) => ({ type: 3, error: `Failed to invoke '${target}' due to an error on the server.` });
    // accountId is an int on the hub method: a numeric string does not bind (no string-to-number reading).
    expect(await user.invoke('SubscribeOrders', '1001')).toMatchObject(failed('SubscribeOrders'));
    expect(await user.invoke('SubscribePositions')).toMatchObject(failed('SubscribePositions'));
    expect(await user.invoke('SubscribePositions', 1001, 5)).toMatchObject(failed('SubscribePositions'));
    expect(await user.invoke('SubscribeOrders', 1001.5)).toMatchObject(failed('SubscribeOrders'));
    expect(await user.invoke('SubscribeAccounts', 1001)).toMatchObject(failed('SubscribeAccounts'));
    expect(await user.invoke('SubscribeTrades', 1001)).toEqual({ type: 3, invocationId: '6' });
    await c.place({ type: 2, side: 0 });
    // Order, position and account events of this fill leave in the same message as its trade.
    await user.waitFor((r) => r.target === 'GatewayUserTrade');
    expect(user.records.filter((r) => r.type === 1).map((r) => r.target)).toEqual(['GatewayUserTrade']);

    const market = await connect(sim, 'market', c.token);
    expect(await market.invoke('SubscribeContractQuotes', 42)).toMatchObject(failed('SubscribeContractQuotes'));
    expect(await market.invoke('SubscribeContractTrades')).toMatchObject(failed('SubscribeContractTrades'));
    expect(await market.invoke('SubscribeContractTrades', MNQ, MNQ)).toMatchObject(failed('SubscribeContractTrades'));
    expect(market.events('GatewayQuote')).toHaveLength(0);
  });

  it('closes the connection with an error on an invocation whose invocationId is not a string', async () => {
    sim = await quietSim();
    const h = await connect(sim, 'user', await login(sim));
    h.send({ type: 1, invocationId: 7, target: 'SubscribeAccounts', arguments: [] });
    expect(await h.waitFor((r) => r.type === 7)).toMatchObject({ type: 7, error: expect.stringContaining("'invocationId'") });
    await h.waitClosed();
    expect(h.records.some((r) => r.type === 3)).toBe(false);
  });

  it('refuses the upgrade with 401 without a valid access_token', async () => {
    sim = await quietSim();
    await expect(RawHub.connect(sim.userHubUrl, null)).rejects.toThrow('HTTP 401');
    await expect(RawHub.connect(sim.marketHubUrl, 'bogus')).rejects.toThrow('HTTP 401');
  });

  it('pings every interval and accepts client pings; a close record closes the socket', async () => {
    sim = await quietSim({ hub: { pingIntervalMs: 50 } });
    const h = await connect(sim, 'user', await login(sim));
    h.send({ type: 6 });
    expect(await h.waitFor((r) => r.type === 6)).toEqual({ type: 6 });
    h.send({ type: 7 });
    await h.waitClosed();
  });

  it('a record that parses to a non-object (null) closes that socket with an error, and the hub keeps serving', async () => {
    sim = await quietSim();
    const token = await login(sim);
    const h = await connect(sim, 'market', token);
    h.ws.send('null\x1e');
    expect(await h.waitFor((r) => r.type === 7)).toMatchObject({ type: 7, error: expect.stringContaining('InvalidDataException') });
    await h.waitClosed();
    const again = await connect(sim, 'market', token);
    expect(await again.invoke('SubscribeContractQuotes', MNQ)).toEqual({ type: 3, invocationId: '1' });
  });

  it('sends market events with two arguments (contractId, data); trades batched as arrays; sparse quotes', async () => {
    sim = await quietSim();
    const h = await connect(sim, 'market', await login(sim));
    await h.invoke('SubscribeContractQuotes', MNQ);
    await h.invoke('SubscribeContractTrades', MNQ);
    const snapshot = await h.waitFor((r) => r.target === 'GatewayQuote');
    expect(snapshot.arguments[0]).toBe(MNQ);
    expect(snapshot.arguments[1]).toMatchObject({ symbol: 'F.US.MNQ', lastPrice: 21000, bestBid: 21000, bestAsk: 21000.25 });
    sim.setPrice(MNQ, 21002);
    const trade = await h.waitFor((r) => r.target === 'GatewayTrade');
    expect(trade.arguments).toHaveLength(2);
    expect(trade.arguments[0]).toBe(MNQ);
    expect(Array.isArray(trade.arguments[1])).toBe(true);
    expect(trade.arguments[1][0]).toMatchObject({ symbolId: 'F.US.MNQ', price: 21002, type: 0, volume: 1 });
    const quotes = (await until(() => (h.events('GatewayQuote').length >= 2 ? h.events('GatewayQuote') : null)))!;
    const sparse = quotes[1].arguments[1];
    expect(sparse).toMatchObject({ lastPrice: 21002, bestBid: 21001.75, bestAsk: 21002 });
    expect(sparse).not.toHaveProperty('open');
    for (const k of Object.keys(sparse)) expect(k.toLowerCase()).not.toContain('size');
    // A step that changes only the volume sends only the volume.
    sim.setPrice(MNQ, 21002);
    sim.setPrice(MNQ, 21002);
    const later = await until(() => (h.events('GatewayQuote').length >= 4 ? h.events('GatewayQuote')[3].arguments[1] : null));
    expect(later).not.toHaveProperty('lastPrice');
    expect(later).toHaveProperty('volume');
  });

  it('sends single trades when batching is off', async () => {
    sim = await quietSim({ market: { tradeBatching: 'single' } });
    const h = await connect(sim, 'market', await login(sim));
    await h.invoke('SubscribeContractTrades', MNQ);
    sim.setPrice(MNQ, 21003);
    const trade = await h.waitFor((r) => r.target === 'GatewayTrade');
    expect(Array.isArray(trade.arguments[1])).toBe(false);
    expect(trade.arguments[1].price).toBe(21003);
  });

  it('puts a null entry first in every GatewayTrade and GatewayDepth array when market.nullEntries is on', async () => {
    sim = await quietSim({ market: { nullEntries: true } });
    const h = await connect(sim, 'market', await login(sim));
    await h.invoke('SubscribeContractTrades', MNQ);
    await h.invoke('SubscribeContractMarketDepth', MNQ);
    const snapshot = await h.waitFor((r) => r.target === 'GatewayDepth');
    expect(snapshot.arguments[1].map((d: { type: number } | null) => d?.type ?? null)).toEqual([null, 4, 3]);
    sim.setPrice(MNQ, 21002);
    const trade = await h.waitFor((r) => r.target === 'GatewayTrade');
    expect(trade.arguments[1]).toHaveLength(2);
    expect(trade.arguments[1][0]).toBeNull();
    expect(trade.arguments[1][1]).toMatchObject({ price: 21002 });
    const moved = await h.waitFor((r) => r.target === 'GatewayDepth' && r !== snapshot);
    expect(moved.arguments[1][0]).toBeNull();
  });

  it('drives a seeded random walk on the tick grid to subscribers', async () => {
    sim = await quietSim({ market: { tradesPerSecond: 200, tickIntervalMs: 20 } });
    const h = await connect(sim, 'market', await login(sim));
    await h.invoke('SubscribeContractTrades', MNQ);
    await until(() => h.events('GatewayTrade').flatMap((e) => e.arguments[1]).length >= 50);
    const prices = h.events('GatewayTrade').flatMap((e) => e.arguments[1].map((t: any) => t.price as number));
    for (const p of prices) expect((p * 4) % 1).toBe(0);
  });

  it('sends user events with one argument to subscribed accounts only; optional {action,data} wrapping', async () => {
    sim = await quietSim({ hub: { wrapUserEvents: true } });
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const h = await connect(sim, 'user', c.token);
    for (const m of ['SubscribeOrders', 'SubscribePositions', 'SubscribeTrades']) await h.invoke(m, 1001);
    await h.invoke('SubscribeAccounts');
    await c.place({ accountId: 1002, type: 2, side: 0 }); // not subscribed
    await c.place({ type: 2, side: 0 });
    const order = await h.waitFor((r) => r.target === 'GatewayUserOrder' && r.arguments[0].data.status === 2);
    expect(order.arguments).toHaveLength(1);
    expect(order.arguments[0]).toMatchObject({ action: expect.any(Number), data: { accountId: 1001, contractId: MNQ, fillVolume: 1, filledPrice: 21000.25 } });
    const trade = await h.waitFor((r) => r.target === 'GatewayUserTrade');
    expect(trade.arguments[0].data).toMatchObject({ accountId: 1001, price: 21000.25, profitAndLoss: null, fees: 0.37 });
    const pos = await h.waitFor((r) => r.target === 'GatewayUserPosition');
    expect(pos.arguments[0].data).toMatchObject({ accountId: 1001, type: 1, size: 1 });
    const acc = await h.waitFor((r) => r.target === 'GatewayUserAccount' && r.arguments[0].data.id === 1001);
    expect(acc.arguments[0].data.balance).toBe(49_999.63);
    expect(h.events('GatewayUserOrder').every((e) => e.arguments[0].data.accountId === 1001)).toBe(true);
  });

  it('loses subscriptions on reconnect', async () => {
    sim = await quietSim();
    const token = await login(sim);
    const first = await connect(sim, 'market', token);
    await first.invoke('SubscribeContractTrades', MNQ);
    first.close();
    await until(() => sim!.hubConnections('market') === 0);
    const second = await connect(sim, 'market', token);
    const other = await connect(sim, 'market', token);
    await other.invoke('SubscribeContractTrades', MNQ);
    sim.setPrice(MNQ, 21001);
    await other.waitFor((r) => r.target === 'GatewayTrade');
    expect(second.events('GatewayTrade')).toHaveLength(0);
  });
});

describe('@microsoft/signalr client', () => {
  it('connects with skipNegotiation + WebSockets, subscribes and receives market and user events', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const build = (url: string) =>
      new HubConnectionBuilder()
        .withUrl(`${url}?access_token=${c.token}`, { skipNegotiation: true, transport: HttpTransportType.WebSockets, accessTokenFactory: () => c.token, timeout: 10_000 })
        .configureLogging(LogLevel.None)
        .build();
    const market = build(sim.marketHubUrl);
    const user = build(sim.userHubUrl);
    const quotes: Array<[string, any]> = [];
    const trades: Array<[string, any]> = [];
    const orders: any[] = [];
    market.on('GatewayQuote', (id: string, q: any) => quotes.push([id, q]));
    market.on('GatewayTrade', (id: string, t: any) => trades.push([id, t]));
    user.on('GatewayUserOrder', (o: any) => orders.push(o));
    try {
      await market.start();
      await user.start();
      await market.invoke('SubscribeContractQuotes', MNQ);
      await market.invoke('SubscribeContractTrades', MNQ);
      await user.invoke('SubscribeOrders', 1001);
      await expect(market.invoke('SubscribeContractDepth', MNQ)).rejects.toThrow('Method does not exist');
      sim.setPrice(MNQ, 21004);
      await c.place({ type: 2, side: 1 });
      await until(() => trades.length > 0 && orders.some((o) => o.status === 2) && quotes.length >= 2);
      expect(quotes[0]![0]).toBe(MNQ);
      expect(trades[0]![0]).toBe(MNQ);
      expect(trades[0]![1][0].price).toBe(21004);
      expect(orders.find((o) => o.status === 2)).toMatchObject({ accountId: 1001, side: 1, filledPrice: 21003.75 });
    } finally {
      await market.stop();
      await user.stop();
    }
  });
});

describe('CSV replay and depth', () => {
  it('replays CSV trades to subscribers and into bars instead of the random walk', async () => {
    const csv = ['timestamp,contractId,price,volume,side', `2026-11-25T14:00:00Z,${MNQ},21100.25,2,buy`, `2026-11-25T14:00:01Z,${MNQ},21099.75,1,sell`, `2026-11-25T14:00:02Z,${MNQ},21100,3,0`].join('\n');
    sim = await quietSim({ market: { replayCsv: csv, replaySpeed: 0, tickIntervalMs: 20 } });
    const h = await connect(sim, 'market', await login(sim));
    await h.invoke('SubscribeContractMarketDepth', MNQ);
    const depth = await h.waitFor((r) => r.target === 'GatewayDepth');
    expect(depth.arguments[0]).toBe(MNQ);
    expect(depth.arguments[1].map((d: any) => d.type)).toEqual([4, 3]);
    await until(() => sim!.quote(MNQ).last === 21100);
    const c = await client(sim);
    const bars = (
      await c.call('History/retrieveBars', { contractId: MNQ, live: false, startTime: '2026-11-25T14:59:00Z', endTime: '2026-11-25T16:00:00Z', unit: 2, unitNumber: 1, limit: 5, includePartialBar: true })
    ).json['bars'];
    expect(bars[0]).toMatchObject({ o: 21100.25, h: 21100.25, l: 21099.75, c: 21100, v: 6 });
  });
});

describe('user-hub records queued for the end of the turn', () => {
  // A WebSocket stand-in: records what would be written, in order.
  const fakeSocket = (): { ws: WebSocket; sent: string[] } => {
    const sent: string[] = [];
    const ws = { readyState: WebSocket.OPEN, bufferedAmount: 0, send: (d: string) => sent.push(d) } as unknown as WebSocket;
    return { ws, sent };
  };

  it('sends queued records as one message, and before any record sent directly after them', () => {
    const { ws, sent } = fakeSocket();
    const c = new HubConnection('user', ws);
    expect(c.queue('a\x1e')).toBe(true);
    expect(c.queue('b\x1e')).toBe(false);
    expect(sent).toEqual([]);
    // A completion or a ping sent now must not overtake the events queued before it.
    c.send('c\x1e');
    expect(sent).toEqual(['a\x1eb\x1e', 'c\x1e']);
    c.flush();
    expect(sent).toEqual(['a\x1eb\x1e', 'c\x1e']);
  });

  it('delivers the events of one Order/place in the order they were produced', async () => {
    sim = await quietSim();
    const c = await client(sim);
    const h = await connect(sim, 'user', c.token);
    await h.invoke('SubscribeOrders', 1001);
    await h.invoke('SubscribeTrades', 1001);
    const before = h.frames.length;
    const res = await c.place({ type: 2, side: 0 });
    expect(res.json).toMatchObject({ success: true });
    await until(() => h.frames.slice(before).join('').includes('"GatewayUserTrade"'), 10_000);
    const text = h.frames.slice(before).join('');
    const targets = [...text.matchAll(/"target":"(\w+)"/g)].map((m) => m[1]);
    // Working order, then its fill, then the filled order (see the README's event ordering).
    expect(targets.filter((t) => t === 'GatewayUserOrder' || t === 'GatewayUserTrade')).toEqual(['GatewayUserOrder', 'GatewayUserTrade', 'GatewayUserOrder']);
  });
});
