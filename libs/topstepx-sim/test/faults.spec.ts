import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index';
import { MNQ, RawHub, client, login, post, quietSim, until } from './helpers';

let sim: Simulator | null = null;
const hubs: RawHub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) h.close();
  await sim?.close();
  sim = null;
});

async function admin(s: Simulator, method: 'GET' | 'POST', action: string, body?: unknown) {
  const r = await request(`${s.url}/admin/${action}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: r.statusCode, json: (await r.body.json()) as Record<string, any> };
}

describe('faults', () => {
  it('adds latency per endpoint', async () => {
    sim = await quietSim();
    const c = await client(sim);
    sim.faults.set({ latencyByEndpoint: { 'Account/search': 1000 } });
    const order: string[] = [];
    const slow = c.call('Account/search', { onlyActiveAccounts: true }).then((r) => {
      order.push('slow');
      return r;
    });
    const fast = c.call('Order/searchOpen', { accountId: 1001 }).then((r) => {
      order.push('fast');
      return r;
    });
    const [rs, rf] = await Promise.all([slow, fast]);
    expect(rs.json['success']).toBe(true);
    expect(rf.json['success']).toBe(true);
    expect(order).toEqual(['fast', 'slow']);
    expect(sim.faults.current().latencyByEndpoint).toEqual({ 'Account/search': 1000 });
  });

  it('answers 429 for the next N requests, then serves again', async () => {
    sim = await quietSim();
    const c = await client(sim);
    sim.faults.set({ rateLimitBurst: 2 });
    expect((await c.call('Account/search', {})).status).toBe(429);
    expect((await c.call('Account/search', {})).status).toBe(429);
    expect((await c.call('Account/search', {})).status).toBe(200);
  });

  it('answers 500 for the next N requests without processing them, and by seeded probability', async () => {
    sim = await quietSim();
    const c = await client(sim);
    sim.faults.set({ serverErrors: 1 });
    const r = await c.place({ type: 2, side: 0 });
    expect(r.status).toBe(500);
    expect(sim.orders(1001)).toHaveLength(0);
    sim.faults.set({ serverErrorProbability: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await c.call('Account/search', {})).status);
    expect(statuses.filter((s) => s === 500).length).toBeGreaterThan(5);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(5);
    expect(() => sim!.faults.set({ serverErrorProbability: 2 })).toThrow('serverErrorProbability');
  });

  it('accepts then times out Order/place: the order exists and is matched, the response never comes', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    sim.faults.set({ placeTimeouts: 1 });
    const pending = post(sim, 'Order/place', { accountId: 1001, contractId: MNQ, type: 2, side: 0, size: 1, customTag: 'lost-1' }, c.token).catch((e: Error) => e);
    await until(() => sim!.orders(1001).length === 1);
    expect(sim.orders(1001)[0]).toMatchObject({ customTag: 'lost-1', status: 2 });
    // The client can reconcile by tag; a blind retry bounces.
    expect((await c.place({ type: 2, side: 0, customTag: 'lost-1' })).json['errorMessage']).toBe('custom tag already in use');
    await sim.close(); // releases the held socket
    expect(await pending).toBeInstanceOf(Error);
    sim = null;
  });

  it('accept-then-reset mode destroys the socket after processing', async () => {
    sim = await quietSim();
    const c = await client(sim);
    sim.faults.set({ placeTimeouts: 1, placeTimeoutMode: 'reset' });
    const r = await post(sim, 'Order/place', { accountId: 1001, contractId: MNQ, type: 1, side: 0, size: 1, limitPrice: 20000 }, c.token).catch((e: Error) => e);
    expect(r).toBeInstanceOf(Error);
    expect(sim.orders(1001)).toHaveLength(1);
    expect((await c.call('Order/searchOpen', { accountId: 1001 })).json['orders']).toHaveLength(1);
  });

  it('drops every hub socket on demand', async () => {
    sim = await quietSim();
    const token = await login(sim);
    const a = await RawHub.connect(sim.userHubUrl, token);
    const b = await RawHub.connect(sim.marketHubUrl, token);
    hubs.push(a, b);
    expect(sim.hubConnections()).toBe(2);
    sim.faults.disconnectHubs();
    await a.waitClosed();
    await b.waitClosed();
    expect(sim.hubConnections()).toBe(0);
  });

  it('freezes the feed silently: no market events, pings still answered and sent', async () => {
    sim = await quietSim({ hub: { pingIntervalMs: 100 } });
    const h = await RawHub.connect(sim.marketHubUrl, await login(sim));
    hubs.push(h);
    await h.invoke('SubscribeContractTrades', MNQ);
    sim.faults.set({ feedFrozen: true });
    sim.setPrice(MNQ, 21001);
    const pingsBefore = h.records.filter((r) => r.type === 6).length;
    await until(() => h.records.filter((r) => r.type === 6).length >= pingsBefore + 2);
    expect(h.events('GatewayTrade')).toHaveLength(0);
    expect(h.closed).toBe(false);
    sim.faults.set({ feedFrozen: false });
    sim.setPrice(MNQ, 21002);
    const t = await h.waitFor((r) => r.target === 'GatewayTrade');
    expect(t.arguments[1][0].price).toBe(21002);
  });

  it('drops the next N user-hub events for every connection, leaves REST alone, then sends again', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const a = await RawHub.connect(sim.userHubUrl, c.token);
    const b = await RawHub.connect(sim.userHubUrl, c.token);
    hubs.push(a, b);
    for (const h of [a, b]) {
      for (const m of ['SubscribeOrders', 'SubscribePositions', 'SubscribeTrades']) await h.invoke(m, 1001);
      await h.invoke('SubscribeAccounts');
    }
    const userEvents = (h: RawHub) => h.records.filter((r) => r.type === 1 && String(r.target).startsWith('GatewayUser'));
    // A filled market order produces five: order added, trade, position, account, order filled.
    sim.faults.set({ userEventsDropped: 5 });
    const lost = (await c.place({ type: 2, side: 0 })).json['orderId'] as number;
    expect(sim.faults.current().userEventsDropped).toBe(0);
    expect(await c.positions()).toMatchObject([{ contractId: MNQ, type: 1, size: 1 }]);
    expect((await c.trades()).map((t) => t['orderId'])).toEqual([lost]);
    expect((await c.order(lost))['status']).toBe(2);
    // Resumed: the next fill's events arrive, and on one connection they keep their order, so nothing of the
    // first fill can still be on its way behind them.
    const next = (await c.place({ type: 2, side: 0 })).json['orderId'] as number;
    for (const h of [a, b]) {
      await h.waitFor((r) => r.target === 'GatewayUserOrder' && r.arguments[0].id === next && r.arguments[0].status === 2);
      expect(userEvents(h).map((r) => r.target)).toEqual(['GatewayUserOrder', 'GatewayUserTrade', 'GatewayUserPosition', 'GatewayUserAccount', 'GatewayUserOrder']);
      expect(h.events('GatewayUserTrade')[0].arguments[0].orderId).toBe(next);
      expect(h.events('GatewayUserPosition')[0].arguments[0].size).toBe(2);
    }
  });

  it('counts only user-hub events someone subscribed to; rejects a bad count naming the field; reset clears it', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const h = await RawHub.connect(sim.userHubUrl, c.token);
    hubs.push(h);
    await h.invoke('SubscribeTrades', 1001);
    sim.faults.set({ userEventsDropped: 1 });
    await c.place({ type: 2, side: 0 }); // its order, position and account events have no subscriber
    expect(sim.faults.current().userEventsDropped).toBe(0);
    const second = (await c.place({ type: 2, side: 0 })).json['orderId'] as number;
    await h.waitFor((r) => r.target === 'GatewayUserTrade');
    expect(h.events('GatewayUserTrade').map((r) => r.arguments[0].orderId)).toEqual([second]);
    expect(() => sim!.faults.set({ userEventsDropped: -1 })).toThrow('faults.userEventsDropped');
    expect(() => sim!.faults.set({ userEventsDropped: 'all' as unknown as number })).toThrow('faults.userEventsDropped');
    const bad = await admin(sim, 'POST', 'faults', { userEventsDropped: -2 });
    expect(bad.status).toBe(400);
    expect(bad.json['error']).toContain('userEventsDropped');
    expect((await admin(sim, 'POST', 'faults', { userEventsDropped: 3 })).json['userEventsDropped']).toBe(3);
    expect((await admin(sim, 'GET', 'faults')).json['userEventsDropped']).toBe(3);
    expect(sim.faults.reset().userEventsDropped).toBe(0);
  });

  it('expires every token now; a new login works', async () => {
    sim = await quietSim();
    const token = await login(sim);
    sim.faults.expireTokens();
    expect((await post(sim, 'Account/search', {}, token)).status).toBe(401);
    await expect(RawHub.connect(sim.userHubUrl, token)).rejects.toThrow('HTTP 401');
    const fresh = await login(sim);
    expect((await post(sim, 'Account/search', {}, fresh)).status).toBe(200);
  });
});

describe('admin HTTP endpoint', () => {
  it('sets and reads faults, moves prices, lists orders, changes credentials, toggles rate limits', async () => {
    sim = await quietSim({ rateLimits: true });
    const c = await client(sim);
    const f = await admin(sim, 'POST', 'faults', { rateLimitBurst: 1, latencyMs: 0 });
    expect(f).toMatchObject({ status: 200, json: { rateLimitBurst: 1 } });
    expect((await c.call('Account/search', {})).status).toBe(429);
    expect((await admin(sim, 'GET', 'faults')).json['rateLimitBurst']).toBe(0);
    expect((await admin(sim, 'POST', 'faults', { serverErrors: -1 })).status).toBe(400);
    expect((await admin(sim, 'POST', 'price', { contractId: MNQ, price: 21010 })).json).toMatchObject({ last: 21010, bid: 21009.75, ask: 21010 });
    await c.place({ type: 2, side: 0 });
    const orders = (await admin(sim, 'GET', 'orders?accountId=1001')).json['orders'];
    expect(orders).toHaveLength(1);
    expect(orders[0]).toMatchObject({ filledPrice: 21010, status: 2 });
    expect((await admin(sim, 'POST', 'credentials', { userName: 'bob', apiKey: 'k2' })).status).toBe(200);
    expect((await post(sim, 'Auth/loginKey', { userName: 'bob', apiKey: 'k2' })).json['success']).toBe(true);
    expect((await admin(sim, 'POST', 'rate-limits', { enabled: false })).json).toEqual({ enabled: false });
    expect((await admin(sim, 'POST', 'faults', { expireTokens: true })).status).toBe(200);
    expect((await c.call('Account/search', {})).status).toBe(401);
    expect((await admin(sim, 'GET', 'nothing')).status).toBe(404);
  });
});

describe('events', () => {
  it('emits order, trade, position and account events in-process', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const seen: string[] = [];
    sim.on('order', (o) => seen.push(`order:${String(o['status'])}`));
    sim.on('trade', (t) => seen.push(`trade:${String(t['price'])}`));
    sim.on('position', (p) => seen.push(`position:${String(p['size'])}`));
    sim.on('account', (a) => seen.push(`account:${String(a['balance'])}`));
    const c = await client(sim);
    await c.place({ type: 2, side: 0 });
    expect(seen).toEqual(['order:1', 'trade:21000.25', 'position:1', 'account:49999.63', 'order:2']);
  });
});
