// An account record the risk-manager stopped refreshing (review finding). The risk-manager republishes every account
// each RISK_EVAL_INTERVAL_MS (100 ms) whether or not anything changed, but that timer is a job in the thread's one
// queue, and jobs in that queue can wait on REST (up to ~30 s); while it is blocked, or the thread is wedged without
// exiting, no mark reaches P&L and no loss limit is evaluated, yet the ready flag stays set. An entry on a record older
// than maxRecordAgeMs fails closed (RISK_NOT_READY); a reducing order still passes, so a trader can always get out.
import { describe, expect, it } from 'vitest';
import { AccountState, Side } from '@gateway/shared-state';
import { DEFAULT_MAX_RECORD_AGE_MS, RiskGate, type GateResult } from './index';
import { fixture, IN_SESSION_MS } from '../test/support';

const reasonOf = (r: GateResult): string => (r.allowed ? 'ALLOWED' : r.reason);

describe('RiskGate on an account record the risk-manager stopped refreshing', () => {
  it('denies an entry RISK_NOT_READY when the account record was last published 10 minutes ago, claiming nothing', () => {
    const f = fixture();
    f.publish({ state: AccountState.ACTIVE, updatedMs: IN_SESSION_MS - 10 * 60_000 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const r = gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 5 });
    expect(reasonOf(r)).toBe('RISK_NOT_READY');
    expect(!r.allowed && r.detail).toMatch(/^risk state is stale: .* 5000 ms/);
    expect(gate.denialCount('RISK_NOT_READY')).toBe(1);
    expect([f.state.reservations.pendingUnits(f.acct), f.state.reservations.pendingOpenOrders(f.acct)]).toEqual([0, 0]);
  });

  it('holds the bound to the millisecond, on either side of the clock, and admits entries again once republished', () => {
    const f = fixture();
    let now = IN_SESSION_MS;
    const gate = new RiskGate(f.state, { clock: () => now, maxRecordAgeMs: 300 });
    const entry = (): string => {
      const r = gate.check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.BUY, size: 1 });
      if (r.allowed) gate.release(r.reservation);
      return reasonOf(r);
    };
    f.publish({ updatedMs: IN_SESSION_MS });
    now = IN_SESSION_MS + 300;
    expect(entry()).toBe('ALLOWED');
    now = IN_SESSION_MS + 301;
    expect(entry()).toBe('RISK_NOT_READY');
    // A record stamped ahead of the gate's clock: the clocks disagree, its age is unknown.
    now = IN_SESSION_MS - 300;
    expect(entry()).toBe('ALLOWED');
    now = IN_SESSION_MS - 301;
    expect(entry()).toBe('RISK_NOT_READY');
    // The risk-manager's next publish.
    f.publish({ updatedMs: now });
    expect(entry()).toBe('ALLOWED');
  });

  it('lets reducing orders through a stale record, and denies one that would flip the position', () => {
    const f = fixture();
    f.position(f.es, { netSize: 2 });
    f.publish({ positionUnits: 20, updatedMs: IN_SESSION_MS - 60_000 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const out = gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 2 });
    expect(out.allowed && out.reservation.reducing).toBe(true);
    // With the first exit in flight, a second sell would take the position short: an entry, on a stale record.
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 1 }))).toBe('RISK_NOT_READY');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 1, reduceOnly: true }))).toBe('REDUCE_ONLY');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('RISK_NOT_READY');
  });

  it('defaults to 5 s and refuses a bound that is not a positive integer', () => {
    expect(DEFAULT_MAX_RECORD_AGE_MS).toBe(5_000);
    const f = fixture();
    f.publish({ updatedMs: IN_SESSION_MS - DEFAULT_MAX_RECORD_AGE_MS });
    expect(reasonOf(new RiskGate(f.state, { clock: () => IN_SESSION_MS }).check({ accountSlot: f.acct, contractSlot: f.mnq, side: Side.BUY, size: 1 }))).toBe('ALLOWED');
    expect(() => new RiskGate(f.state, { clock: () => IN_SESSION_MS, maxRecordAgeMs: 0 })).toThrow(/^maxRecordAgeMs: /);
    expect(() => new RiskGate(f.state, { clock: () => IN_SESSION_MS, maxRecordAgeMs: 1.5 })).toThrow(/^maxRecordAgeMs: /);
  });
});
