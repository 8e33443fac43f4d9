// The per-order state of AccountRisk stays bounded however many orders a day brings (soak memory growth),
// while positions, P&L, fees and working counts stay exactly those of the fills, and replays are still
// recognised after their order is final.
import { describe, expect, it } from 'vitest';
import { COMBINE_50K, PositionBook, TestClock } from '@gateway/risk';
import { allocateSharedState, attachSharedState, newAccountRecord, newPositionRecord } from '@gateway/shared-state';
import { AccountRisk, PENDING_FILL_ORDERS, type ContractEntry, type TradeRow, type VersionedOrderRow } from './account-risk';
import { FINAL_ORDER_VERSIONS } from './order-versions';
import { RecentMap } from './recent-map';

const NOW = Date.UTC(2026, 11, 2, 16, 0); // Wed 10:00 CT
const MNQ = 'CON.F.US.MNQ.Z26';
const SPEC = { contractId: MNQ, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 5_000, isMicro: true };
const ORDERS = 20_000;

function setup() {
  const state = attachSharedState(allocateSharedState({ contracts: 2, accounts: 1 }));
  const mnq = state.directory.register({ contractId: MNQ, tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const slot = state.accounts.registerAccount(1001);
  const contracts = new Map<string, ContractEntry>([[MNQ, { slot: mnq, spec: SPEC }]]);
  const ar = new AccountRisk(1001, slot, COMBINE_50K, new TestClock(NOW), (id) => contracts.get(id));
  ar.setBalance(50_000);
  state.marks.writeTrade(mnq, 20_000 * 1e9, NOW, NOW);
  return { state, ar, slot, mnq };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const order = (id: number, status: 1 | 2 | 3 | 5, fillVolume: number, atMs: number, side = id % 2): VersionedOrderRow => ({
  id,
  contractId: MNQ,
  status,
  type: 2,
  side,
  size: 1,
  fillVolume,
  creationTimestamp: iso(NOW + id),
  updateTimestamp: iso(atMs),
});
const trade = (id: number, orderId: number, side: number): TradeRow => ({
  id,
  contractId: MNQ,
  creationTimestamp: iso(NOW + orderId),
  // Buys at 20,000.00, sells at 20,000.25 (one tick, $0.50 on MNQ), fees $0.37 per fill.
  price: side === 0 ? 20_000 : 20_000.25,
  fees: 0.37,
  side,
  size: 1,
  voided: false,
  orderId,
});

/**
 * Drives ORDERS market orders through the hub path (applyOrderEvent / applyTrade) in the orders the broker
 * may send them: Open → trade → Filled, trade → Filled, Filled → trade; every tenth is cancelled unfilled
 * and every fiftieth rejected. Returns the fills, for a reference book.
 */
function drive(ar: AccountRisk, from = 1): TradeRow[] {
  const fills: TradeRow[] = [];
  for (let id = from; id < from + ORDERS; id++) {
    const t0 = NOW + id * 10;
    if (id % 50 === 0) {
      ar.applyOrderEvent(order(id, 5, 0, t0));
      continue;
    }
    ar.applyOrderEvent(order(id, 1, 0, t0));
    if (id % 10 === 0) {
      ar.applyOrderEvent(order(id, 3, 0, t0 + 1));
      continue;
    }
    const t = trade(1_000_000 + id, id, id % 2);
    fills.push(t);
    if (id % 3 === 0) {
      ar.applyOrderEvent(order(id, 2, 1, t0 + 1));
      expect(ar.applyTrade(t)).toBe(true);
    } else {
      expect(ar.applyTrade(t)).toBe(true);
      ar.applyOrderEvent(order(id, 2, 1, t0 + 1));
    }
  }
  return fills;
}

function reference(fills: readonly TradeRow[]): PositionBook {
  const book = new PositionBook(1001, () => SPEC);
  for (const t of fills) {
    book.applyFill({ contractId: MNQ, side: t.side === 0 ? 'BUY' : 'SELL', size: t.size, priceUnits: Math.round(t.price * 1e9), feesUnits: Math.round(t.fees * 1e4), tsMs: Date.parse(t.creationTimestamp), tradeId: t.id });
  }
  return book;
}

describe('AccountRisk per-order state', () => {
  it(`stays bounded after ${ORDERS} final orders, with positions, P&L and fees exactly those of the fills`, () => {
    const { state, ar, slot, mnq } = setup();
    const fills = drive(ar);
    ar.evaluate(state);
    ar.publish(state);
    const sizes = ar.retainedSizes();
    expect(sizes.workingOrders).toBe(0);
    expect(sizes.workingVersions).toBe(0);
    // Finished orders keep their fill count in the ring (a resent final event must count nothing), capped.
    expect(sizes.pendingFillOrders).toBe(PENDING_FILL_ORDERS);
    expect(sizes.finalVersions).toBe(FINAL_ORDER_VERSIONS);
    expect(sizes.markVersions).toBe(1);

    const ref = reference(fills).totals(() => 20_000 * 1e9);
    const a = state.accounts.readAccount(slot, newAccountRecord());
    const p = state.accounts.readPosition(slot, mnq, newPositionRecord());
    expect({ realized: a.realizedGross, fees: a.fees, dayNet: a.dayNetPnl, openOrders: a.openOrders }).toEqual({
      realized: ref.dayRealizedGrossUnits,
      fees: ref.dayFeesUnits,
      dayNet: ref.dayNetPnlUnits,
      openOrders: 0,
    });
    expect(ref.dayRealizedGrossUnits).toBeGreaterThan(0);
    expect(p).toMatchObject({ netSize: reference(fills).netSize(MNQ), workingBuy: 0, workingSell: 0 });
  });

  it('does not count a replayed trade or an older order event of a final order again (within the bounds)', () => {
    const { state, ar, slot } = setup();
    drive(ar);
    ar.evaluate(state);
    ar.publish(state);
    const before = state.accounts.readAccount(slot, newAccountRecord());
    // A hub reconnect replays a trade of the first order of the day and of the last one: ids already applied.
    expect(ar.applyTrade(trade(1_000_001, 1, 1))).toBe(false);
    expect(ar.applyTrade(trade(1_000_000 + ORDERS - 1, ORDERS - 1, (ORDERS - 1) % 2))).toBe(false);
    // An older event (Open) of a recent final order, queued behind a rebuild, is not applied; nor is its
    // final event sent again.
    const last = ORDERS - 1;
    expect(ar.applyOrderEvent(order(last, 1, 0, NOW + last * 10))).toBe(false);
    expect(ar.applyOrderEvent(order(last, 2, 1, NOW + last * 10 + 1))).toBe(false);
    // The same for the oldest final order still within FINAL_ORDER_VERSIONS (every order's final event
    // entered it once, ids 1..ORDERS).
    const oldestKept = ORDERS - FINAL_ORDER_VERSIONS + 1;
    expect(ar.applyOrderEvent(order(oldestKept, 1, 0, NOW + oldestKept * 10))).toBe(false);
    expect(ar.applyOrderEvent(order(oldestKept, 2, 1, NOW + oldestKept * 10 + 1))).toBe(false);
    ar.evaluate(state);
    ar.publish(state);
    const after = state.accounts.readAccount(slot, newAccountRecord());
    expect({ ...after, updatedMs: 0 }).toEqual({ ...before, updatedMs: 0 });
    expect(ar.retainedSizes().finalVersions).toBe(FINAL_ORDER_VERSIONS);
    // Beyond the bound (documented): an older event is applied again, an over-count of working orders.
    expect(ar.applyOrderEvent(order(oldestKept - 1, 1, 0, NOW))).toBe(true);
    expect(ar.orders.size).toBe(1);
  });

  it('keeps the fill count of an order a rebuild finds final, so its queued Filled event counts nothing twice', () => {
    const { state, ar, slot } = setup();
    // Order 7 for 2: one contract filled (trade seen), then the hub disconnects.
    ar.applyOrderEvent({ ...order(7, 1, 0, NOW), size: 2 });
    const t1 = { ...trade(70, 7, 1), size: 1 };
    ar.applyTrade(t1);
    ar.applyOrderEvent({ ...order(7, 1, 1, NOW + 1), size: 2 });
    // Rebuild: the second contract filled meanwhile; the order is no longer working at the broker.
    const t2 = { ...trade(71, 7, 1), size: 1 };
    ar.rebuild(20261202, [t1, t2], [{ contractId: 'CON.F.US.MNQ.Z26', type: 2, size: 2, averagePrice: 20_000.25 }], []);
    expect(ar.retainedSizes()).toMatchObject({ workingOrders: 0, workingVersions: 0, finalVersions: 1, pendingFillOrders: 1 });
    // The Filled event queued behind the rebuild: both contracts are in the position already.
    expect(ar.applyOrderEvent({ ...order(7, 2, 2, NOW + 2), size: 2 })).toBe(true);
    ar.evaluate(state);
    ar.publish(state);
    expect(state.accounts.readAccount(slot, newAccountRecord())).toMatchObject({ positionUnits: 2, openOrders: 0 });
    expect(ar.retainedSizes()).toMatchObject({ workingOrders: 0, pendingFillOrders: 1 });
  });

  it('does not count a filled order as working again when its final event is sent again with a newer version', () => {
    const { state, ar, slot } = setup();
    ar.applyOrderEvent(order(9, 1, 0, NOW));
    ar.applyTrade(trade(90, 9, 1));
    ar.applyOrderEvent(order(9, 2, 1, NOW + 2));
    // The same Filled order, a newer updateTimestamp (e.g. an {action, data} update sent after the fill).
    expect(ar.applyOrderEvent(order(9, 2, 1, NOW + 4))).toBe(true);
    ar.evaluate(state);
    ar.publish(state);
    expect(ar.orders.size).toBe(0);
    expect(state.accounts.readAccount(slot, newAccountRecord())).toMatchObject({ openOrders: 0 });
  });

  it(`finds the fills of a working order older than the newest ${PENDING_FILL_ORDERS} trades of a rebuild`, () => {
    const { state, ar, slot } = setup();
    // Order 1 for 2 rests with one contract filled by the day's first trade; 5,000 other orders filled after.
    const first = { ...trade(600_000, 1, 0), size: 1 };
    const others = Array.from({ length: 5_000 }, (_, i) => trade(600_001 + i, 2 + i, i % 2));
    const working = { ...order(1, 1, 1, NOW, 0), size: 2 };
    ar.rebuild(20261202, [first, ...others], [{ contractId: MNQ, type: 1, size: 1, averagePrice: 20_000 }], [working]);
    expect(ar.orders.get(1)?.remaining).toBe(1);
    // Its second contract fills: nothing of it stays counted as working.
    const second = { ...trade(700_000, 1, 0), size: 1 };
    ar.applyTrade(second);
    ar.applyOrderEvent({ ...order(1, 2, 2, NOW + 1, 0), size: 2 });
    ar.evaluate(state);
    ar.publish(state);
    expect(ar.orders.size).toBe(0);
    expect(state.accounts.readAccount(slot, newAccountRecord())).toMatchObject({ openOrders: 0 });
  });

  it(`caps the fill counts of orders without an order event at ${PENDING_FILL_ORDERS} (a rebuild replaying the day)`, () => {
    const { ar } = setup();
    const trades = Array.from({ length: ORDERS }, (_, i) => trade(500_000 + i, i + 1, i % 2));
    ar.rebuild(20261202, trades, [{ contractId: MNQ, type: 2, size: 0, averagePrice: 0 }], []);
    expect(ar.retainedSizes().pendingFillOrders).toBe(PENDING_FILL_ORDERS);
    // The newest orders' counts are the ones kept: a late Filled event of the last order counts nothing.
    ar.applyOrderEvent(order(ORDERS, 2, 1, NOW + 1));
    expect(ar.orders.size).toBe(0);
  });
});

describe('RecentMap', () => {
  it('drops the oldest insertion past the cap, never a key re-inserted since', () => {
    const m = new RecentMap<number, string>(3);
    m.set(1, 'a');
    m.set(2, 'b');
    m.set(3, 'c');
    m.set(2, 'B'); // an update keeps its age
    m.set(4, 'd');
    expect([m.has(1), m.get(2), m.size]).toEqual([false, 'B', 3]);
    m.delete(3);
    m.set(3, 'c2'); // the third insertion after 2's: 2 goes
    expect([m.has(2), m.size]).toEqual([false, 2]);
    m.set(5, 'e'); // the ring slot of 3's first insertion: 3 was inserted again since and stays
    expect([m.get(3), m.get(4), m.get(5), m.size]).toEqual(['c2', 'd', 'e', 3]);
    m.set(6, 'f');
    expect([m.has(4), m.get(3), m.size]).toEqual([false, 'c2', 3]);
    m.set(7, 'g');
    expect([m.has(3), m.size]).toEqual([false, 3]);
    expect(() => new RecentMap(0)).toThrow(RangeError);
  });
});
