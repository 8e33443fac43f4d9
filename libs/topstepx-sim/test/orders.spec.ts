import { OrderStatus } from '@gateway/topstepx';
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index';
import { ES, MNQ, client, quietSim } from './helpers';

let sim: Simulator | null = null;
afterEach(async () => {
  await sim?.close();
  sim = null;
});

/** Start quiet with MNQ at bid 21000.00 / ask 21000.25, last 21000.00. */
async function start(options: Parameters<typeof quietSim>[0] = {}) {
  const s = await quietSim(options);
  sim = s;
  s.setPrice(MNQ, 21000);
  return { s, c: await client(s) };
}

describe('Order/place validation', () => {
  it('rejects a reused customTag with code 2, rejected orders included, and still returns an orderId', async () => {
    const { s, c } = await start();
    const bad = await c.place({ type: 1, side: 0, limitPrice: 20000.1, customTag: 'sig-1' });
    expect(bad.json).toMatchObject({ success: false, errorCode: 2, errorMessage: 'Invalid limit price. Price is not aligned to tick size.' });
    expect(typeof bad.json['orderId']).toBe('number');
    expect((await c.order(bad.json['orderId'])).status).toBe(OrderStatus.Rejected);
    const reuse = await c.place({ type: 1, side: 0, limitPrice: 20000, customTag: 'sig-1' });
    expect(reuse.json).toMatchObject({ success: false, errorCode: 2, errorMessage: 'custom tag already in use' });
    const fresh = await c.place({ type: 1, side: 0, limitPrice: 20000, customTag: 'sig-2' });
    expect(fresh.json['success']).toBe(true);
    // Unique per account: another account may reuse the tag.
    expect((await c.place({ accountId: 1002, type: 1, side: 0, limitPrice: 20000, customTag: 'sig-2' })).json['success']).toBe(true);
    expect(s.orders(1001).filter((o) => o['customTag'] === 'sig-2')).toHaveLength(1);
  });

  it('consumes the customTag of an order rejected for an invalid symbol too (code 2 like every validation failure)', async () => {
    const { c } = await start();
    expect((await c.place({ contractId: 'garbage', type: 2, side: 0, customTag: 'sig-9' })).json).toMatchObject({ errorCode: 2, errorMessage: 'Invalid symbol' });
    expect((await c.place({ type: 2, side: 0, customTag: 'sig-9' })).json).toMatchObject({ success: false, errorCode: 2, errorMessage: 'custom tag already in use' });
  });

  it('validates trailing stops: tick alignment, distance, the 1000-tick maximum', async () => {
    const { c } = await start();
    expect((await c.place({ type: 5, side: 1 })).json['errorMessage']).toBe('Trail Distance not set.');
    expect((await c.place({ type: 5, side: 1, trailPrice: 20990.1 })).json['errorMessage']).toBe('Invalid trail price. Price is not aligned to tick size.');
    expect((await c.place({ type: 5, side: 1, trailPrice: 21000 - 1001 * 0.25 })).json['errorMessage']).toBe('Trail Distance exceeds maximum (1000)');
    const ok = await c.place({ type: 5, side: 1, trailPrice: 20990 });
    expect(ok.json['success']).toBe(true);
    const o = await c.order(ok.json['orderId']);
    // Read-back trailPrice is the distance (40 ticks = 10 points), not the level.
    expect(o).toMatchObject({ trailDistance: 40, trailPrice: 10, stopPrice: 20990, status: 1 });
  });

  it('rejects invalid size, side and type with code 2', async () => {
    const { c } = await start();
    expect((await c.place({ type: 2, side: 0, size: 0 })).json).toMatchObject({ errorCode: 2, errorMessage: 'Invalid order size' });
    expect((await c.place({ type: 2, side: 3 })).json).toMatchObject({ errorCode: 2, errorMessage: 'Invalid order side' });
    expect((await c.place({ type: 9, side: 0 })).json).toMatchObject({ errorCode: 2, errorMessage: 'Invalid order type' });
    expect((await c.place({ contractId: 'garbage', type: 2, side: 0 })).json).toMatchObject({ errorCode: 2, errorMessage: 'Invalid symbol' });
  });
});

describe('brackets', () => {
  it('rejects bracket objects in Position Brackets mode with the exact message', async () => {
    const { c } = await start();
    const r = await c.place({ accountId: 1002, type: 2, side: 0, stopLossBracket: { ticks: -10, type: 4 } });
    expect(r.json).toMatchObject({ errorCode: 2, errorMessage: 'Brackets cannot be used with Position Brackets. You must enable Auto OCO Brackets.' });
  });

  it('enforces signed ticks, SL type not Limit and the 4-tick minimum', async () => {
    const { c } = await start();
    const msg = async (body: Record<string, unknown>) => (await c.place({ type: 1, limitPrice: 20900, ...body })).json['errorMessage'];
    expect(await msg({ side: 0, stopLossBracket: { ticks: 40, type: 4 } })).toBe('Invalid stop loss ticks (40). Ticks should be less than zero when longing.');
    expect(await msg({ side: 1, limitPrice: 21100, stopLossBracket: { ticks: -40, type: 4 } })).toBe('Invalid stop loss ticks (-40). Ticks should be greater than zero when shorting.');
    expect(await msg({ side: 0, takeProfitBracket: { ticks: -20, type: 1 } })).toBe('Invalid take profit ticks (-20). Ticks should be greater than zero when longing.');
    expect(await msg({ side: 0, stopLossBracket: { ticks: -10, type: 1 } })).toBe('Invalid stop loss type (Limit)');
    expect(await msg({ side: 0, stopLossBracket: { ticks: -1, type: 4 } })).toBe('Invalid stop loss ticks (-1). Price should be at least 4 ticks away.');
    expect(await msg({ side: 0, stopLossBracket: { ticks: -4, type: 4 }, takeProfitBracket: { ticks: 4, type: 1 } })).toBeNull();
  });

  it('keeps children Suspended until the parent fills, then OCO: the TP fill cancels the SL', async () => {
    const { s, c } = await start();
    const r = await c.place({ type: 1, side: 0, limitPrice: 20990, stopLossBracket: { ticks: -20, type: 4 }, takeProfitBracket: { ticks: 40, type: 1 } });
    expect(r.json['success']).toBe(true);
    const parentId = r.json['orderId'] as number;
    const children = s.orders(1001).filter((o) => o['parentOrderId'] === parentId);
    expect(children).toHaveLength(2);
    expect(children.every((o) => o['status'] === OrderStatus.Suspended)).toBe(true);
    const open = (await c.call('Order/searchOpen', { accountId: 1001 })).json['orders'] as Array<Record<string, any>>;
    expect(open.map((o) => o.id)).toEqual([parentId]);
    const q = await c.call('Order/v2/query', { filter: { accountId: 1001, statuses: [1, 6, 7, 8] } });
    expect((q.json['orders'] as unknown[]).length).toBe(3);

    s.setPrice(MNQ, 20990); // parent limit fills at 20990
    expect((await c.order(parentId)).status).toBe(OrderStatus.Filled);
    const [sl, tp] = [children.find((o) => o['type'] === 4)!, children.find((o) => o['type'] === 1)!];
    expect(await c.order(sl['id'] as number)).toMatchObject({ status: 1, stopPrice: 20985, side: 1, size: 1, linkedOrderId: tp['id'] });
    expect(await c.order(tp['id'] as number)).toMatchObject({ status: 1, limitPrice: 21000, side: 1 });

    s.setPrice(MNQ, 21000); // TP fills, SL is cancelled
    expect((await c.order(tp['id'] as number)).status).toBe(OrderStatus.Filled);
    expect((await c.order(sl['id'] as number)).status).toBe(OrderStatus.Cancelled);
    expect(await c.positions()).toEqual([]);
    const trades = await c.trades();
    expect(trades.map((t) => t.profitAndLoss)).toEqual([null, 20]); // 40 ticks × $0.50
  });

  it('an order completed by modifying its size down to its fill volume works its brackets like a fill does', async () => {
    const { s, c } = await start({ partialFillChunks: 2 });
    const r = await c.place({ type: 2, side: 0, size: 2, stopLossBracket: { ticks: -20, type: 4 }, takeProfitBracket: { ticks: 40, type: 1 } });
    const parentId = r.json['orderId'] as number;
    expect(await c.order(parentId)).toMatchObject({ status: 1, fillVolume: 1, filledPrice: 21000.25 });
    // The rest is not wanted: the parent is complete, so its children go live for the filled size.
    expect((await c.call('Order/modify', { accountId: 1001, orderId: parentId, size: 1 })).json['success']).toBe(true);
    expect((await c.order(parentId)).status).toBe(OrderStatus.Filled);
    const kids = s.orders(1001).filter((o) => o['parentOrderId'] === parentId);
    const [sl, tp] = [kids.find((o) => o['type'] === 4)!, kids.find((o) => o['type'] === 1)!];
    expect(await c.order(sl['id'] as number)).toMatchObject({ status: 1, size: 1, stopPrice: 20995.25 });
    expect(await c.order(tp['id'] as number)).toMatchObject({ status: 1, size: 1, limitPrice: 21010.25 });

    // A child completed the same way cancels its OCO sibling.
    const r2 = await c.place({ type: 1, side: 1, size: 1, limitPrice: 21100, stopLossBracket: { ticks: 20, type: 4 }, takeProfitBracket: { ticks: -40, type: 1 } });
    s.setPrice(MNQ, 21100);
    const kids2 = s.orders(1001).filter((o) => o['parentOrderId'] === r2.json['orderId']);
    const [sl2, tp2] = [kids2.find((o) => o['type'] === 4)!, kids2.find((o) => o['type'] === 1)!];
    expect(await c.order(sl2['id'] as number)).toMatchObject({ status: 1, stopPrice: 21105 });
    expect((await c.call('Order/modify', { accountId: 1001, orderId: tp2['id'], size: 2 })).json['success']).toBe(true);
    s.setPrice(MNQ, 21090);
    expect(await c.order(tp2['id'] as number)).toMatchObject({ status: 1, size: 2, fillVolume: 1 });
    expect((await c.call('Order/modify', { accountId: 1001, orderId: tp2['id'], size: 1 })).json['success']).toBe(true);
    expect((await c.order(tp2['id'] as number)).status).toBe(OrderStatus.Filled);
    expect((await c.order(sl2['id'] as number)).status).toBe(OrderStatus.Cancelled);
  });

  it('cancelling the parent cancels its suspended children', async () => {
    const { s, c } = await start();
    const r = await c.place({ type: 1, side: 0, limitPrice: 20990, stopLossBracket: { ticks: -20, type: 4 } });
    expect((await c.call('Order/cancel', { accountId: 1001, orderId: r.json['orderId'] })).json['success']).toBe(true);
    expect(s.orders(1001).map((o) => o['status'])).toEqual([OrderStatus.Cancelled, OrderStatus.Cancelled]);
  });
});

describe('matching', () => {
  it('fills market orders at the touch: buy at ask, sell at bid', async () => {
    const { c } = await start();
    const buy = await c.place({ type: 2, side: 0 });
    expect(await c.order(buy.json['orderId'])).toMatchObject({ status: 2, fillVolume: 1, filledPrice: 21000.25 });
    const sell = await c.place({ type: 2, side: 1 });
    expect(await c.order(sell.json['orderId'])).toMatchObject({ status: 2, filledPrice: 21000 });
  });

  it('fills limits when a trade prints through, and marketable limits at the touch', async () => {
    const { s, c } = await start();
    const rest = await c.place({ type: 1, side: 0, limitPrice: 20995 });
    s.setPrice(MNQ, 20996);
    expect((await c.order(rest.json['orderId'])).status).toBe(1);
    s.setPrice(MNQ, 20994.5);
    expect(await c.order(rest.json['orderId'])).toMatchObject({ status: 2, filledPrice: 20995 });
    const marketable = await c.place({ type: 1, side: 1, limitPrice: 20990 });
    expect(await c.order(marketable.json['orderId'])).toMatchObject({ status: 2, filledPrice: 20994.5 });
  });

  it('triggers stops on trades at or through the stop and fills at the touch', async () => {
    const { s, c } = await start();
    const stop = await c.place({ type: 4, side: 0, stopPrice: 21005 });
    s.setPrice(MNQ, 21004.75);
    expect((await c.order(stop.json['orderId'])).status).toBe(1);
    s.setPrice(MNQ, 21005.5);
    expect(await c.order(stop.json['orderId'])).toMatchObject({ status: 2, filledPrice: 21005.5 });
  });

  it('trails a sell trailing stop up with the market and fills when it is hit', async () => {
    const { s, c } = await start();
    const t = await c.place({ type: 5, side: 1, trailPrice: 20995 }); // 20 ticks
    s.setPrice(MNQ, 21010);
    expect((await c.order(t.json['orderId'])).stopPrice).toBe(21005);
    s.setPrice(MNQ, 21007);
    expect((await c.order(t.json['orderId'])).stopPrice).toBe(21005);
    s.setPrice(MNQ, 21005);
    expect(await c.order(t.json['orderId'])).toMatchObject({ status: 2, filledPrice: 21005 });
  });

  it('JoinBid / JoinAsk rest at the current best bid / ask', async () => {
    const { c } = await start();
    const jb = await c.place({ type: 6, side: 0 });
    expect(await c.order(jb.json['orderId'])).toMatchObject({ status: 1, limitPrice: 21000 });
    const ja = await c.place({ type: 7, side: 1 });
    expect(await c.order(ja.json['orderId'])).toMatchObject({ status: 1, limitPrice: 21000.25 });
  });

  it('fills in N chunks when partial fills are configured: one trade row per chunk', async () => {
    const { s, c } = await start({ partialFillChunks: 3 });
    const r = await c.place({ type: 2, side: 0, size: 6 });
    const id = r.json['orderId'];
    expect(await c.order(id)).toMatchObject({ status: 1, fillVolume: 2 });
    s.setPrice(MNQ, 21001);
    expect(await c.order(id)).toMatchObject({ status: 1, fillVolume: 4 });
    s.setPrice(MNQ, 21002);
    const done = await c.order(id);
    expect(done).toMatchObject({ status: 2, fillVolume: 6 });
    expect((await c.trades()).map((t) => [t.size, t.price])).toEqual([
      [2, 21000.25],
      [2, 21001],
      [2, 21002],
    ]);
    // Average fill price: (21000.25 + 21001 + 21002) / 3 = 21001.083333333 (truncated to 1e-9).
    expect(done['filledPrice']).toBeCloseTo(21001.083333333, 8);
    expect((await c.positions())[0]).toMatchObject({ size: 6, type: 1 });
  });

  it('modify changes price and size; cancel is refused on a live account with code 6', async () => {
    const { s, c } = await start();
    const r = await c.place({ type: 1, side: 0, limitPrice: 20900 });
    expect((await c.call('Order/modify', { accountId: 1001, orderId: r.json['orderId'], size: 3, limitPrice: 20950 })).json['success']).toBe(true);
    expect(await c.order(r.json['orderId'])).toMatchObject({ size: 3, limitPrice: 20950, status: 1 });
    expect((await c.call('Order/modify', { accountId: 1001, orderId: r.json['orderId'], limitPrice: 20950.1 })).json['errorCode']).toBe(3);
    const live = await c.place({ accountId: 1003, type: 1, side: 0, limitPrice: 20900 });
    const refused = await c.call('Order/cancel', { accountId: 1003, orderId: live.json['orderId'] });
    expect(refused.json).toMatchObject({ success: false, errorCode: 6, errorMessage: 'Live accounts not supported' });
    expect(s.orders(1003)[0]!['status']).toBe(1);
  });
});

describe('positions, trades, P&L', () => {
  it('reports size positive with direction in type, half-turn P&L and fees, and moves the balance', async () => {
    const { s, c } = await start();
    await c.place({ contractId: ES, type: 2, side: 1, size: 2 }); // short 2 ES
    sim!.setPrice(ES, s.quote(ES).last); // no-op move keeps the book
    const pos = (await c.positions()).find((p) => p.contractId === ES)!;
    expect(pos).toMatchObject({ type: 2, size: 2 });
    const entry = pos.averagePrice as number;
    s.setPrice(ES, entry - 1); // 4 ticks in favour
    await c.place({ contractId: ES, type: 2, side: 0, size: 2 });
    const trades = (await c.trades()).filter((t) => t.contractId === ES);
    expect(trades[0]).toMatchObject({ profitAndLoss: null, fees: 2.8, size: 2, side: 1 });
    // Exit at the ask (entry − 1 + 0.25): 3 ticks × $12.50 × 2.
    expect(trades[1]).toMatchObject({ profitAndLoss: 75, fees: 2.8, size: 2, side: 0 });
    expect(s.account(1001)!['balance']).toBe(50_000 + 75 - 5.6);
    const acc = (await c.call('Account/search', { onlyActiveAccounts: true })).json['accounts'][0];
    expect(acc.balance).toBe(50_069.4);
  });

  it('closeContract flattens with a market order but leaves working stops alive; the orphan can fill later', async () => {
    const { s, c } = await start();
    await c.place({ type: 2, side: 0, size: 1 });
    const stop = await c.place({ type: 4, side: 1, stopPrice: 20990 });
    const close = await c.call('Position/closeContract', { accountId: 1001, contractId: MNQ });
    expect(close.json).toMatchObject({ success: true, errorCode: 0 });
    expect(await c.positions()).toEqual([]);
    const closer = s.orders(1001).at(-1)!;
    expect(closer).toMatchObject({ type: 2, side: 1, status: 2 });
    expect((await c.order(stop.json['orderId'])).status).toBe(1);
    s.setPrice(MNQ, 20989);
    expect((await c.order(stop.json['orderId'])).status).toBe(2);
    expect((await c.positions())[0]).toMatchObject({ type: 2, size: 1 }); // naked short from the orphan
  });
});

describe('Order/v2/query', () => {
  it('filters by statuses, pages, counts and answers 400 ProblemDetails on validation errors', async () => {
    const { c } = await start();
    for (let i = 0; i < 5; i++) await c.place({ type: 1, side: 0, limitPrice: 20900 + i });
    await c.place({ type: 2, side: 0 });
    const page = await c.call('Order/v2/query', { filter: { accountId: 1001, statuses: [1] }, pageSize: 2, pageOffset: 2, sortBy: 1, sortDirection: 1, includeTotalCount: true });
    expect(page.json['totalCount']).toBe(5);
    expect((page.json['orders'] as any[]).map((o) => o.limitPrice)).toEqual([20902, 20901]);
    const filled = await c.call('Order/v2/query', { filter: { accountId: 1001, statuses: [2] } });
    expect((filled.json['orders'] as any[]).length).toBe(1);
    const bad = await c.call('Order/v2/query', { pageSize: 5 });
    expect(bad.status).toBe(400);
    expect(bad.json['errors']).toHaveProperty('Filter');
    const bad2 = await c.call('Order/v2/query', { filter: { accountId: 1001, statuses: ['x'] }, pageSize: 0 });
    expect(bad2.status).toBe(400);
    expect(Object.keys(bad2.json['errors'])).toEqual(expect.arrayContaining(['Filter.Statuses', 'PageSize']));
  });
});
