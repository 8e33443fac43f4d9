// The ordering faults: answers held back after processing (hub events first), fills after the answer, a fill's
// events in another order, and user-hub events spread over separate messages.
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index';
import { MNQ, RawHub, client, quietSim, until } from './helpers';

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

/** A user-hub connection subscribed to everything of account 1001. */
async function userHub(s: Simulator, token: string): Promise<RawHub> {
  const h = await RawHub.connect(s.userHubUrl, token);
  hubs.push(h);
  for (const m of ['SubscribeOrders', 'SubscribePositions', 'SubscribeTrades']) await h.invoke(m, 1001);
  await h.invoke('SubscribeAccounts');
  return h;
}

const userEvents = (h: RawHub) => h.records.filter((r) => r.type === 1 && String(r.target).startsWith('GatewayUser'));
const short = (r: any): string => {
  const a = r.arguments[0];
  return r.target === 'GatewayUserOrder' ? `order:${a.status}` : r.target === 'GatewayUserTrade' ? 'trade' : r.target === 'GatewayUserPosition' ? `position:${a.size}` : 'account';
};

describe('answerDelayMs / answerDelayByEndpoint', () => {
  it('processes Order/place at once (hub events out, order filled) and answers only after the delay', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const h = await userHub(sim, c.token);
    sim.faults.set({ answerDelayByEndpoint: { 'Order/place': 1500 } });
    let answered = false;
    const answer = c.place({ type: 2, side: 0, customTag: 'early-1' }).then((r) => {
      answered = true;
      return r;
    });
    const filled = await h.waitFor((r) => r.target === 'GatewayUserOrder' && r.arguments[0].customTag === 'early-1' && r.arguments[0].status === 2);
    // Every event of the order, the fill included, came while its answer was held back.
    expect(answered).toBe(false);
    expect(userEvents(h).map(short)).toEqual(['order:1', 'trade', 'position:1', 'account', 'order:2']);
    const r = await answer;
    expect(r.json).toMatchObject({ success: true, orderId: filled.arguments[0].id });
    expect(sim.orders(1001)).toHaveLength(1);
    // Other endpoints are not held.
    expect((await c.call('Order/searchOpen', { accountId: 1001 })).json['success']).toBe(true);
  });

  it('holds every answer with answerDelayMs; set over /admin/faults, validated, cleared by reset', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    expect((await admin(sim, 'POST', 'faults', { answerDelayMs: 1000 })).json).toMatchObject({ answerDelayMs: 1000 });
    let answered = false;
    const answer = c.place({ type: 1, side: 0, limitPrice: 20000 }).then((r) => {
      answered = true;
      return r;
    });
    await until(() => sim!.orders(1001).length === 1);
    expect(answered).toBe(false);
    expect((await answer).json).toMatchObject({ success: true, orderId: sim.orders(1001)[0]!['id'] });
    expect((await admin(sim, 'POST', 'faults', { answerDelayMs: -1 })).json['error']).toContain('answerDelayMs');
    expect((await admin(sim, 'POST', 'faults', { answerDelayByEndpoint: { 'Order/place': 'x' } })).status).toBe(400);
    expect((await admin(sim, 'POST', 'faults', { reset: true })).json).toMatchObject({ answerDelayMs: 0, answerDelayByEndpoint: {} });
  });
});

describe('fillDelayMs', () => {
  it('a market order is answered Open and fills after the answer, at the market as it stands then', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const h = await userHub(sim, c.token);
    sim.faults.set({ fillDelayMs: 200 });
    const r = await c.place({ type: 2, side: 0, size: 2 });
    const id = r.json['orderId'] as number;
    expect(r.json['success']).toBe(true);
    // Answered before any fill: the order is working and the account flat.
    expect(await c.order(id)).toMatchObject({ status: 1, fillVolume: 0 });
    expect(await c.positions()).toEqual([]);
    sim.setPrice(MNQ, 21010);
    await h.waitFor((x) => x.target === 'GatewayUserOrder' && x.arguments[0].id === id && x.arguments[0].status === 2);
    expect(await c.order(id)).toMatchObject({ status: 2, fillVolume: 2, filledPrice: 21010 });
    expect(await c.positions()).toMatchObject([{ contractId: MNQ, type: 1, size: 2, averagePrice: 21010 }]);
    expect(userEvents(h).map(short)).toEqual(['order:1', 'trade', 'position:2', 'account', 'order:2']);
  });

  it('a cancel inside the delay wins (no fill); a modify does not fill it early; closeContract fills after its answer', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    sim.faults.set({ fillDelayMs: 60_000 });
    const a = (await c.place({ type: 2, side: 0 })).json['orderId'] as number;
    expect((await c.call('Order/cancel', { accountId: 1001, orderId: a })).json['success']).toBe(true);
    const b = (await c.place({ type: 1, side: 0, limitPrice: 21100 })).json['orderId'] as number;
    expect((await c.call('Order/modify', { accountId: 1001, orderId: b, size: 1, limitPrice: 21200 })).json['success']).toBe(true);
    expect(await c.order(b)).toMatchObject({ status: 1, fillVolume: 0 });
    expect(sim.trades(1001)).toEqual([]);

    sim.faults.set({ fillDelayMs: 100 });
    const entry = (await c.place({ type: 2, side: 1 })).json['orderId'] as number;
    await until(async () => (await c.order(entry))['status'] === 2);
    expect(await c.positions()).toMatchObject([{ type: 2, size: 1 }]);
    expect((await c.call('Position/closeContract', { accountId: 1001, contractId: MNQ })).json['success']).toBe(true);
    // The close is a working market order right after its answer, then it fills.
    const close = sim.orders(1001).at(-1)!;
    expect(close).toMatchObject({ type: 2, side: 0, status: 1, customTag: null });
    await until(async () => (await c.positions()).length === 0);
    expect(sim.orders(1001).find((o) => o['id'] === close['id'])).toMatchObject({ status: 2, fillVolume: 1 });
    expect(await c.order(a)).toMatchObject({ status: 3, fillVolume: 0 });
  });
});

describe('fillEventOrder', () => {
  it("publishes one fill's events in the order asked, on the hub and to in-process listeners", async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const h = await userHub(sim, c.token);
    const seen: string[] = [];
    sim.on('order', (o) => seen.push(`order:${String(o['status'])}`));
    sim.on('trade', () => seen.push('trade'));
    sim.on('position', (p) => seen.push(`position:${String(p['size'])}`));
    sim.on('account', () => seen.push('account'));
    sim.faults.set({ fillEventOrder: ['position', 'trade', 'order', 'account'] });
    const id = (await c.place({ type: 2, side: 0 })).json['orderId'] as number;
    await h.waitFor((r) => r.target === 'GatewayUserAccount');
    expect(userEvents(h).map(short)).toEqual(['order:1', 'position:1', 'trade', 'order:2', 'account']);
    expect(seen).toEqual(['order:1', 'position:1', 'trade', 'order:2', 'account']);
    expect(h.events('GatewayUserTrade')[0].arguments[0].orderId).toBe(id);

    expect(() => sim!.faults.set({ fillEventOrder: ['order', 'trade'] as never })).toThrow('faults.fillEventOrder');
    expect(() => sim!.faults.set({ fillEventOrder: ['order', 'order', 'trade', 'account'] as never })).toThrow('faults.fillEventOrder');
    expect((await admin(sim, 'POST', 'faults', { fillEventOrder: 'order' })).status).toBe(400);
    expect((await admin(sim, 'POST', 'faults', { fillEventOrder: ['order', 'trade', 'position', 'account'] })).json['fillEventOrder']).toEqual(['order', 'trade', 'position', 'account']);
    expect(sim.faults.reset().fillEventOrder).toBeNull();
  });
});

describe('userEventGapMs', () => {
  it('sends user-hub events one per message, in the order they were produced', async () => {
    sim = await quietSim();
    sim.setPrice(MNQ, 21000);
    const c = await client(sim);
    const h = await userHub(sim, c.token);
    const framesBefore = h.frames.length;
    sim.faults.set({ userEventGapMs: 20 });
    await c.place({ type: 2, side: 0 });
    await c.place({ type: 2, side: 1 });
    await until(() => userEvents(h).length === 10);
    const frames = h.frames.slice(framesBefore).filter((f) => f.includes('GatewayUser'));
    expect(frames).toHaveLength(10);
    expect(userEvents(h).map(short)).toEqual(['order:1', 'trade', 'position:1', 'account', 'order:2', 'order:1', 'trade', 'position:0', 'account', 'order:2']);
  });
});
