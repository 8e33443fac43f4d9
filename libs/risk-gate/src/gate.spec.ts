import { describe, expect, it } from 'vitest';
import { AccountState, Side } from '@gateway/shared-state';
import { STATE_REASONS } from '@gateway/risk';
import { RiskGate, type GateResult } from './index';
import { fixture, IN_SESSION_MS } from '../test/support';

const reasonOf = (r: GateResult): string => (r.allowed ? 'ALLOWED' : r.reason);
const haltedBy = (reason: (typeof STATE_REASONS)[number]): { state: number; reason: number } => ({ state: AccountState.HALTED, reason: STATE_REASONS.indexOf(reason) });

describe('RiskGate', () => {
  it('fails closed with RISK_NOT_READY until the risk-manager sets the ready flag, and for unknown accounts', () => {
    const f = fixture();
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('RISK_NOT_READY');
    f.publish({ state: AccountState.NOT_READY });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('RISK_NOT_READY');
    f.publish({ state: AccountState.ACTIVE });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('ALLOWED');
    expect(reasonOf(gate.check({ accountSlot: 1, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('RISK_NOT_READY');
    f.state.accounts.setReady(f.acct, false);
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('RISK_NOT_READY');
    expect([gate.denialCount('RISK_NOT_READY'), gate.denialCount('MAX_POSITION')]).toEqual([4, 0]);
  });

  it('reserves weighted size and an open order, and release gives both back', () => {
    const f = fixture();
    f.publish();
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const r = gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2 });
    expect(r).toEqual({ allowed: true, reservation: { accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2, weight: 10, reducing: false } });
    const res = f.state.reservations;
    expect([res.pendingUnits(f.acct), res.pendingOpenOrders(f.acct), res.pending(f.acct, f.es, Side.BUY)]).toEqual([20, 1, 2]);
    if (r.allowed) gate.release(r.reservation);
    expect([res.pendingUnits(f.acct), res.pendingOpenOrders(f.acct), res.pending(f.acct, f.es, Side.BUY)]).toEqual([0, 0, 0]);
  });

  it('holds the maximum position across published exposure and in-flight reservations; micros weigh 1/10', () => {
    const f = fixture();
    f.publish({ positionUnits: 20 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const es = (size: number): string => reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size }));
    expect(es(4)).toBe('MAX_POSITION');
    expect(es(3)).toBe('ALLOWED');
    expect(es(1)).toBe('MAX_POSITION');
    f.publish({ positionUnits: 0 });
    const mnq = gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 20 });
    expect(reasonOf(mnq)).toBe('ALLOWED');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 1 }))).toBe('MAX_POSITION');
    // On its own account (in-flight claims are weighed by the gate that made them): every contract weighs 10.
    const g = fixture();
    g.publish({ positionUnits: 0, maxPositionUnits: 100 });
    const full = new RiskGate(g.state, { clock: () => IN_SESSION_MS, microWeighting: false });
    expect(reasonOf(full.check({ accountSlot: g.acct, contractSlot: g.mnq, side: Side.BUY, size: 11 }))).toBe('MAX_POSITION');
    expect(reasonOf(full.check({ accountSlot: g.acct, contractSlot: g.mnq, side: Side.BUY, size: 10 }))).toBe('ALLOWED');
  });

  it('denies entries on a halted account with the halt reason, and lets a reducing order through', () => {
    const f = fixture();
    f.position(f.mnq, { netSize: 2, avgPrice: 21_000_000_000_000 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const cases: Array<[(typeof STATE_REASONS)[number], string]> = [
      ['DAILY_LOSS_LIMIT', 'DAILY_LOSS_LIMIT'],
      ['MAX_LOSS_LIMIT', 'MAX_LOSS_LIMIT'],
      ['KILL_SWITCH', 'HALTED'],
    ];
    for (const [state, code] of cases) {
      f.publish({ ...haltedBy(state), positionUnits: 2 });
      expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.BUY, size: 1 }))).toBe(code);
      expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 3 }))).toBe(code);
      const out = gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 2 });
      expect(out.allowed && out.reservation.reducing).toBe(true);
      if (out.allowed) gate.release(out.reservation);
    }
  });

  it('on a HALTED account counts working and in-flight exits, so the exits never take the position through zero', () => {
    const f = fixture();
    f.position(f.mnq, { netSize: 2, workingSell: 1 });
    f.publish({ ...haltedBy('DAILY_LOSS_LIMIT'), positionUnits: 2 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    // Working 1 + 1 ≤ long 2: a strict exit.
    const first = gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 1 });
    expect(first.allowed).toBe(true);
    // Working 1 + in flight 1 + 1 > long 2: with everything filled the halted account would hold short 1.
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 1 }))).toBe('DAILY_LOSS_LIMIT');
    expect(f.state.reservations.pending(f.acct, f.mnq, Side.SELL)).toBe(1);
    if (first.allowed) gate.release(first.reservation);
    expect(f.state.reservations.pending(f.acct, f.mnq, Side.SELL)).toBe(0);
  });

  it('on a REDUCING account takes working orders as cover: two exits in flight within the long, a third is an entry', () => {
    const f = fixture();
    f.position(f.mnq, { netSize: 2, workingSell: 1 });
    f.publish({ state: AccountState.REDUCING, reason: STATE_REASONS.indexOf('DAILY_LOSS_LIMIT'), positionUnits: 2 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const first = gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 1 });
    // In flight 1 + 1 ≤ long 2, and with the working sell (a stop, say) all filled the position is short 1 at worst,
    // inside the long 2 already counted (so a trader near a limit can get out with a stop working).
    const second = gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 1 });
    expect([first.allowed, second.allowed]).toEqual([true, true]);
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 1 }))).toBe('REDUCE_ONLY');
    if (first.allowed) gate.release(first.reservation);
    if (second.allowed) gate.release(second.reservation);
    expect(f.state.reservations.pending(f.acct, f.mnq, Side.SELL)).toBe(0);
  });

  it('denies REDUCE_ONLY while reducing, and for a reduce-only order that would not reduce', () => {
    const f = fixture();
    f.position(f.mnq, { netSize: -1 });
    f.publish({ state: AccountState.REDUCING, reason: STATE_REASONS.indexOf('DAILY_LOSS_LIMIT'), positionUnits: 1 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.SELL, size: 1 }))).toBe('REDUCE_ONLY');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.BUY, size: 1 }))).toBe('ALLOWED');
    f.publish({ state: AccountState.ACTIVE, reason: 0 });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1, reduceOnly: true }))).toBe('REDUCE_ONLY');
  });

  it('denies TRADING_HOURS after 15:10 CT and STALE_MARKET_DATA on a stale contract, but not for reducing orders', () => {
    const f = fixture();
    f.position(f.es, { netSize: 1 });
    let now = Date.UTC(2026, 10, 25, 21, 15); // 15:15 CT
    f.publish({ positionUnits: 10, updatedMs: now });
    const gate = new RiskGate(f.state, { clock: () => now });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('TRADING_HOURS');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 1 }))).toBe('ALLOWED');
    now = IN_SESSION_MS;
    f.publish({ updatedMs: now });
    f.state.marks.setStale(f.mnq, true);
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.BUY, size: 1 }))).toBe('STALE_MARKET_DATA');
  });

  it('holds maximum open orders and the order rate, undoing the size claim of a denied order', () => {
    const f = fixture();
    f.publish({ maxOpenOrders: 3, openOrders: 2, maxOrdersPerMinute: 100 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.BUY, size: 1 }))).toBe('ALLOWED');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.BUY, size: 1 }))).toBe('MAX_OPEN_ORDERS');
    expect(f.state.reservations.pendingUnits(f.acct)).toBe(1);

    const g = fixture();
    g.publish({ maxOrdersPerMinute: 2 });
    const gate2 = new RiskGate(g.state, { clock: () => IN_SESSION_MS });
    const results = [1, 2, 3].map(() => reasonOf(gate2.check({ accountSlot: g.acct, contractSlot: g.mnq, side: Side.BUY, size: 1 })));
    expect(results).toEqual(['ALLOWED', 'ALLOWED', 'ORDER_RATE']);
    expect([g.state.reservations.pendingUnits(g.acct), g.state.reservations.pendingOpenOrders(g.acct)]).toEqual([2, 2]);
  });

  it('counts working same-side orders the risk-manager published through positionUnits', () => {
    const f = fixture();
    // net +2 ES with 2 working buys: worst case 4 lots = 40 units, as the risk-manager publishes it.
    f.position(f.es, { netSize: 2, workingBuy: 2 });
    f.publish({ positionUnits: 40 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2 }))).toBe('MAX_POSITION');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('ALLOWED');
  });

  // The clock is read between the snapshot and the claims: the hook plays a thread preempted there while an earlier
  // order is handed over (the risk-manager publishes it as working, then the main thread releases its reservation).
  it('counts an order handed over between the snapshot and the size claim', () => {
    const f = fixture();
    f.publish({ maxPositionUnits: 10, maxOrdersPerMinute: 0 });
    const main = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const x = main.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 });
    if (!x.allowed) throw new Error('first order denied');
    let handedOver = false;
    const other = new RiskGate(f.state, {
      clock: () => {
        if (!handedOver) {
          handedOver = true;
          f.position(f.es, { workingBuy: 1 });
          f.publish({ positionUnits: 10 });
          main.release(x.reservation);
        }
        return IN_SESSION_MS;
      },
    });
    expect(reasonOf(other.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('MAX_POSITION');
    expect([f.state.reservations.pendingUnits(f.acct), f.state.reservations.pendingOpenOrders(f.acct)]).toEqual([0, 0]);
  });

  it('judges an exit on the position record read after its claim (the first exit handed over and filled meanwhile)', () => {
    const f = fixture();
    f.position(f.es, { netSize: 2 });
    f.publish({ ...haltedBy('DAILY_LOSS_LIMIT'), positionUnits: 20 });
    const main = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    let handedOver = false;
    const other = new RiskGate(f.state, {
      clock: () => {
        if (!handedOver) {
          handedOver = true;
          const x = main.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 2 });
          if (!x.allowed) throw new Error('first reducing order denied');
          f.position(f.es, { netSize: 2, workingSell: 2 });
          main.release(x.reservation);
          f.position(f.es, { netSize: 0 });
        }
        return IN_SESSION_MS;
      },
    });
    // On the snapshot (long 2, nothing working) the second sell of 2 was an exit; flat, it would open a short: an
    // entry, and halted.
    expect(reasonOf(other.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 2 }))).toBe('DAILY_LOSS_LIMIT');
    expect(f.state.reservations.pending(f.acct, f.es, Side.SELL)).toBe(0);
  });

  it('rejects a malformed order naming the field', () => {
    const f = fixture();
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(() => gate.check({ accountSlot: f.acct, contractSlot: f.es, side: 2 as 0, size: 1 })).toThrow(/^side: /);
    expect(() => gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 0 })).toThrow(/^size: /);
    expect(() => new RiskGate(f.state, {} as never)).toThrow(/^clock: /);
  });
});
