import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyOrderEvent,
  BrokerOrderStatus,
  isFinalOrderState,
  mapBrokerStatus,
  newOrderRecord,
  ORDER_STATE_NUMBER,
  ORDER_STATES,
  type OrderEvent,
  type OrderRecord,
  OrderStateMachine,
} from './index';

const T = 1_764_000_000_000;

function run(record: OrderRecord, events: OrderEvent[]): OrderRecord {
  return events.reduce((r, e) => applyOrderEvent(r, e).record, record);
}

const broker = (status: number, fillVolume: number, atMs = T, brokerOrderId = 555): Extract<OrderEvent, { kind: 'broker' }> => ({
  kind: 'broker',
  brokerOrderId,
  status,
  fillVolume,
  filledPriceUnits: fillVolume > 0 ? 21_000_250_000_000 : undefined,
  atMs,
});

describe('order state machine', () => {
  it('walks NEW → SENT → WORKING → PARTIALLY_FILLED → FILLED with fills and versions', () => {
    const sm = new OrderStateMachine(newOrderRecord('o1', 3, T));
    expect(sm.apply({ kind: 'sent', atMs: T + 1 }).record.status).toBe('SENT');
    expect(sm.apply({ kind: 'accepted', brokerOrderId: 555, atMs: T + 2 }).record).toMatchObject({ status: 'WORKING', brokerOrderId: 555 });
    expect(sm.apply(broker(BrokerOrderStatus.Open, 1, T + 3)).record).toMatchObject({ status: 'PARTIALLY_FILLED', filledQuantity: 1 });
    expect(sm.apply(broker(BrokerOrderStatus.Open, 2, T + 4)).record).toMatchObject({ status: 'PARTIALLY_FILLED', filledQuantity: 2 });
    expect(sm.apply(broker(BrokerOrderStatus.Filled, 3, T + 5)).record).toMatchObject({
      status: 'FILLED',
      filledQuantity: 3,
      averageFillPriceUnits: 21_000_250_000_000,
      updatedAtMs: T + 5,
      version: 5,
    });
  });

  it('never moves a FILLED order back to WORKING on a late hub event, and reports it', () => {
    const issues: string[] = [];
    const sm = new OrderStateMachine(newOrderRecord('o1', 1, T), (issue) => issues.push(issue));
    sm.apply({ kind: 'sent', atMs: T });
    sm.apply(broker(BrokerOrderStatus.Filled, 1));
    const before = sm.record;
    const late = sm.apply(broker(BrokerOrderStatus.Open, 0, T + 10));
    expect(late.applied).toBe(false);
    expect(late.record).toBe(before);
    expect(sm.record.status).toBe('FILLED');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/fill volume 0 below the 1 already filled/);
  });

  it('keeps a fill when the REST answer arrives after the hub reported the fill', () => {
    const r = run(newOrderRecord('o1', 1, T), [{ kind: 'sent', atMs: T }, broker(BrokerOrderStatus.Filled, 1), { kind: 'accepted', brokerOrderId: 555, atMs: T + 1 }]);
    expect(r).toMatchObject({ status: 'FILLED', brokerOrderId: 555, filledQuantity: 1 });
  });

  it('a late REST timeout does not make a known order UNKNOWN', () => {
    const result = applyOrderEvent(run(newOrderRecord('o1', 1, T), [{ kind: 'sent', atMs: T }, broker(BrokerOrderStatus.Open, 0)]), {
      kind: 'unknownOutcome',
      message: 'timeout',
      atMs: T + 1,
    });
    expect(result.applied).toBe(false);
    expect(result.record.status).toBe('WORKING');
    expect(result.issue).toMatch(/already WORKING/);
  });

  it('resolves UNKNOWN by reconciliation: found and filled, or not found and rejected', () => {
    const unknown = run(newOrderRecord('o1', 2, T), [{ kind: 'sent', atMs: T }, { kind: 'unknownOutcome', message: 'socket hang up', atMs: T }]);
    expect(unknown.status).toBe('UNKNOWN');
    expect(applyOrderEvent(unknown, broker(BrokerOrderStatus.Filled, 2)).record.status).toBe('FILLED');
    expect(applyOrderEvent(unknown, broker(BrokerOrderStatus.Pending, 0)).record.status).toBe('SENT');
    const notPlaced = applyOrderEvent(unknown, { kind: 'rejected', reasonCode: 'BROKER_REJECTED', message: 'no order with this tag', atMs: T });
    expect(notPlaced.record).toMatchObject({ status: 'REJECTED', reasonCode: 'BROKER_REJECTED' });
  });

  it('rejects before sending (risk denial) and keeps the reason', () => {
    const r = applyOrderEvent(newOrderRecord('o1', 1, T), { kind: 'rejected', reasonCode: 'DAILY_LOSS_LIMIT', message: 'daily loss limit reached', atMs: T });
    expect(r.record).toMatchObject({ status: 'REJECTED', reasonCode: 'DAILY_LOSS_LIMIT', version: 1 });
    expect(applyOrderEvent(r.record, { kind: 'sent', atMs: T }).applied).toBe(false);
  });

  it('ignores events of another broker order and impossible fill volumes', () => {
    const working = run(newOrderRecord('o1', 2, T), [{ kind: 'sent', atMs: T }, { kind: 'accepted', brokerOrderId: 555, atMs: T }]);
    expect(applyOrderEvent(working, broker(BrokerOrderStatus.Filled, 2, T, 777)).issue).toMatch(/777/);
    expect(applyOrderEvent(working, broker(BrokerOrderStatus.Open, 3)).issue).toMatch(/outside 0..2/);
    expect(applyOrderEvent(working, broker(99, 0)).issue).toMatch(/unknown status 99/);
    expect(applyOrderEvent(working, broker(BrokerOrderStatus.None, 0)).applied).toBe(false);
  });

  it('treats an exact duplicate as a no-op without an issue', () => {
    const working = run(newOrderRecord('o1', 2, T), [{ kind: 'sent', atMs: T }, broker(BrokerOrderStatus.Open, 1)]);
    const again = applyOrderEvent(working, broker(BrokerOrderStatus.Open, 1));
    expect(again).toEqual({ record: working, applied: false });
  });

  it('takes a modify the broker accepted: the new size and price level, one version up; a repeat changes nothing', () => {
    const working = run(newOrderRecord('o1', 2, T, 20_000_000_000_000), [{ kind: 'sent', atMs: T }, { kind: 'accepted', brokerOrderId: 555, atMs: T + 1 }]);
    expect(working).toMatchObject({ quantity: 2, priceUnits: 20_000_000_000_000 });
    const modified = applyOrderEvent(working, { kind: 'modified', quantity: 1, priceUnits: 20_001_250_000_000, atMs: T + 2 });
    expect(modified).toMatchObject({ applied: true, record: { status: 'WORKING', quantity: 1, priceUnits: 20_001_250_000_000, version: working.version + 1, updatedAtMs: T + 2 } });
    expect(applyOrderEvent(modified.record, { kind: 'modified', quantity: 1, priceUnits: 20_001_250_000_000, atMs: T + 3 })).toEqual({ record: modified.record, applied: false });
    // Only the price: the size stays.
    expect(applyOrderEvent(modified.record, { kind: 'modified', priceUnits: 19_999_000_000_000, atMs: T + 3 }).record).toMatchObject({ quantity: 1, priceUnits: 19_999_000_000_000 });
    // Back up to the size placed (never above it: the front door refuses that before sending).
    expect(applyOrderEvent(modified.record, { kind: 'modified', quantity: 2, atMs: T + 3 }).record).toMatchObject({ quantity: 2, priceUnits: 20_001_250_000_000 });
  });

  it('ignores a modify of a final order, one below the filled size and an impossible size, and reports each', () => {
    const partly = run(newOrderRecord('o1', 3, T, 1), [{ kind: 'sent', atMs: T }, broker(BrokerOrderStatus.Open, 2)]);
    expect(applyOrderEvent(partly, { kind: 'modified', quantity: 1, atMs: T + 1 })).toMatchObject({ applied: false, record: partly, issue: expect.stringMatching(/below the 2 already filled/) });
    for (const quantity of [0, -1, 1.5, Number.NaN]) {
      expect(applyOrderEvent(partly, { kind: 'modified', quantity, atMs: T + 1 })).toMatchObject({ applied: false, record: partly, issue: expect.stringMatching(/quantity/) });
    }
    expect(applyOrderEvent(partly, { kind: 'modified', priceUnits: 1.5, atMs: T + 1 })).toMatchObject({ applied: false, issue: expect.stringMatching(/price/) });
    const filled = applyOrderEvent(partly, broker(BrokerOrderStatus.Filled, 3)).record;
    expect(applyOrderEvent(filled, { kind: 'modified', priceUnits: 2, atMs: T + 2 })).toMatchObject({ applied: false, record: filled, issue: expect.stringMatching(/already FILLED/) });
    const fresh = newOrderRecord('o2', 1, T);
    expect(applyOrderEvent(fresh, { kind: 'modified', quantity: 1, priceUnits: 2, atMs: T })).toMatchObject({ applied: false, issue: expect.stringMatching(/never sent/) });
  });

  it('takes the size and price level of a broker snapshot (an order event after a modify, in the broker or elsewhere)', () => {
    const working = run(newOrderRecord('o1', 2, T, 20_000_000_000_000), [{ kind: 'sent', atMs: T }, broker(BrokerOrderStatus.Open, 0)]);
    const snap = (status: number, fillVolume: number, size: number, priceUnits?: number): OrderEvent => ({ ...broker(status, fillVolume, T + 5), size, ...(priceUnits === undefined ? {} : { priceUnits }) });
    const modified = applyOrderEvent(working, snap(BrokerOrderStatus.Open, 0, 1, 20_001_250_000_000));
    expect(modified).toMatchObject({ applied: true, record: { status: 'WORKING', quantity: 1, priceUnits: 20_001_250_000_000, version: working.version + 1 } });
    expect(applyOrderEvent(modified.record, snap(BrokerOrderStatus.Open, 0, 1, 20_001_250_000_000))).toEqual({ record: modified.record, applied: false });
    // A snapshot without a price level (a market order) leaves the level as it was.
    expect(applyOrderEvent(modified.record, snap(BrokerOrderStatus.Open, 0, 1)).applied).toBe(false);
    // The fill is bounded by the snapshot's size, not the size placed: 1 of 1 is FILLED.
    expect(applyOrderEvent(modified.record, snap(BrokerOrderStatus.Filled, 1, 1)).record).toMatchObject({ status: 'FILLED', quantity: 1, filledQuantity: 1 });
    // A modify down to the filled size fills the order at the broker.
    const partly = applyOrderEvent(working, snap(BrokerOrderStatus.Open, 1, 2)).record;
    expect(applyOrderEvent(partly, snap(BrokerOrderStatus.Filled, 1, 1)).record).toMatchObject({ status: 'FILLED', quantity: 1, filledQuantity: 1 });
    // A size below its own fill volume, or no size at all, is no snapshot to believe.
    expect(applyOrderEvent(partly, snap(BrokerOrderStatus.Open, 2, 1))).toMatchObject({ applied: false, record: partly, issue: expect.stringMatching(/size 1/) });
    expect(applyOrderEvent(partly, snap(BrokerOrderStatus.Open, 1, 0))).toMatchObject({ applied: false, record: partly, issue: expect.stringMatching(/size 0/) });
    // Without a size the size placed bounds the fill, as before.
    expect(applyOrderEvent(partly, broker(BrokerOrderStatus.Open, 3)).issue).toMatch(/outside 0..2/);
  });

  it('maps every broker status', () => {
    expect(mapBrokerStatus(BrokerOrderStatus.Open, 0)).toBe('WORKING');
    expect(mapBrokerStatus(BrokerOrderStatus.Open, 1)).toBe('PARTIALLY_FILLED');
    expect(mapBrokerStatus(BrokerOrderStatus.Filled, 1)).toBe('FILLED');
    expect(mapBrokerStatus(BrokerOrderStatus.Cancelled, 0)).toBe('CANCELLED');
    expect(mapBrokerStatus(BrokerOrderStatus.Expired, 0)).toBe('EXPIRED');
    expect(mapBrokerStatus(BrokerOrderStatus.Rejected, 0)).toBe('REJECTED');
    expect(mapBrokerStatus(BrokerOrderStatus.Pending, 0)).toBe('SENT');
    expect(mapBrokerStatus(BrokerOrderStatus.PendingCancellation, 0)).toBe('WORKING');
    expect(mapBrokerStatus(BrokerOrderStatus.Suspended, 0)).toBe('WORKING');
    expect(mapBrokerStatus(BrokerOrderStatus.None, 0)).toBeUndefined();
    expect(Object.values(BrokerOrderStatus)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('numbers states 1..9 in declaration order (the proto enum, pinned in libs/proto)', () => {
    expect(ORDER_STATES.map((s) => ORDER_STATE_NUMBER[s])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('property: under any event order, fills never decrease nor exceed the size, final states never change, version counts changes', () => {
    const event = fc.oneof(
      fc.constant<OrderEvent>({ kind: 'sent', atMs: T }),
      fc.constant<OrderEvent>({ kind: 'accepted', brokerOrderId: 555, atMs: T }),
      fc.constant<OrderEvent>({ kind: 'unknownOutcome', message: 't', atMs: T }),
      fc.constant<OrderEvent>({ kind: 'rejected', reasonCode: 'BROKER_REJECTED', message: 'r', atMs: T }),
      fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: -1, max: 5 })).map(([s, f]) => broker(s, f)),
      fc
        .tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: -1, max: 5 }), fc.integer({ min: -1, max: 6 }), fc.integer({ min: 1, max: 3 }))
        .map(([s, f, size, p]) => ({ ...broker(s, f), size, priceUnits: p })),
      fc.tuple(fc.integer({ min: -1, max: 6 }), fc.integer({ min: 1, max: 3 })).map(([quantity, p]) => ({ kind: 'modified' as const, quantity, priceUnits: p, atMs: T })),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        let record = newOrderRecord('o1', 4, T);
        for (const e of events) {
          const { record: next, applied } = applyOrderEvent(record, e);
          expect(next.filledQuantity).toBeGreaterThanOrEqual(record.filledQuantity);
          expect(next.filledQuantity).toBeLessThanOrEqual(next.quantity);
          expect(next.quantity).toBeGreaterThanOrEqual(1);
          if (isFinalOrderState(record.status)) expect(next.status).toBe(record.status);
          expect(next.version).toBe(record.version + (applied ? 1 : 0));
          if (!applied) expect(next).toBe(record);
          record = next;
        }
      }),
    );
  });
});
