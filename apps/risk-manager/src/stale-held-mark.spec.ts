// A held position in a directory contract whose shared mark is missing, or flagged stale by market-data for longer than
// STALE_MARK_GRACE_MS: its loss is unknown or old, so the account takes no new risk anywhere (REDUCING,
// UNPRICED_POSITION: entries REDUCE_ONLY, reducing orders pass) until it is priced again, as for a position outside the
// directory. From a hostile review: the position was valued at its last mark with the account ACTIVE, and entries in
// every other contract passed (the first test failed: ACTIVE / ALLOWED).
import { describe, expect, it } from 'vitest';
import { COMBINE_50K, TestClock } from '@gateway/risk';
import { RiskGate } from '@gateway/risk-gate';
import { allocateSharedState, attachSharedState, Side, type SideCode } from '@gateway/shared-state';
import { AccountRisk, STALE_MARK_GRACE_MS, type ContractEntry, type MarkAging } from './account-risk';

const NOW = Date.UTC(2026, 11, 2, 16, 0); // Wed 10:00 CT
const MNQ = 'CON.F.US.MNQ.Z26';
const ES = 'CON.F.US.EP.Z26';
const STALE_AFTER_MS = 5_000;

function setup(aging: MarkAging = { staleAfterMs: STALE_AFTER_MS }, clock = new TestClock(NOW)) {
  const state = attachSharedState(allocateSharedState({ contracts: 4, accounts: 1 }));
  const mnq = state.directory.register({ contractId: MNQ, tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const es = state.directory.register({ contractId: ES, tickSize: 250_000_000, tickValue: 125_000, weight: 10 });
  const slot = state.accounts.registerAccount(1001);
  const contracts = new Map<string, ContractEntry>([
    [MNQ, { slot: mnq, spec: { contractId: MNQ, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 5_000, isMicro: true } }],
    [ES, { slot: es, spec: { contractId: ES, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 125_000, isMicro: false } }],
  ]);
  const ar = new AccountRisk(1001, slot, COMBINE_50K, clock, (id) => contracts.get(id), undefined, undefined, aging);
  ar.setBalance(50_000);
  ar.rebuild(20261202, [], [], []);
  ar.beginDayFromRebuild(20261202);
  const longEs = (size: number): void => {
    ar.applyTrade({ id: 1, contractId: ES, creationTimestamp: new Date(NOW).toISOString(), price: 6000, fees: 1.4, side: 0, size, voided: false });
  };
  const run = () => {
    const ev = ar.evaluate(state);
    ar.publish(state);
    state.accounts.setReady(slot, true);
    return ev;
  };
  const gate = new RiskGate(state, { clock: () => clock.now() });
  const entry = (contractSlot: number, side: SideCode = Side.BUY, size = 1): string => {
    const r = gate.check({ accountSlot: slot, contractSlot, side, size });
    if (r.allowed) gate.release(r.reservation);
    return r.allowed ? 'ALLOWED' : r.reason;
  };
  return { state, mnq, es, ar, clock, run, entry, longEs };
}

describe('a held directory contract without a usable mark', () => {
  it('stops new risk on the account (as for an unpriced outside position), not only on that contract', () => {
    const { state, mnq, es, clock, run, entry, longEs } = setup();
    // Long 2 ES at 6000; last mark 6000; then the ES feed goes silent and market-data flags it stale.
    longEs(2);
    state.marks.writeTrade(es, 6000 * 1e9, NOW, NOW);
    state.marks.writeTrade(mnq, 21_000 * 1e9, NOW, NOW);
    state.marks.setStale(es, true);
    state.marks.setStale(mnq, false);
    clock.advance(60_000);
    const ev = run();
    // Its loss is unknown: no new risk anywhere until it is priced again; a reducing order still passes.
    expect({ state: ev.state, reason: ev.reason, mnqEntry: entry(mnq, Side.BUY, 20), esReduce: entry(es, Side.SELL, 1) }).toEqual({
      state: 'REDUCING',
      reason: 'UNPRICED_POSITION',
      mnqEntry: 'REDUCE_ONLY',
      esReduce: 'ALLOWED',
    });
  });

  it('gives a stale flag STALE_MARK_GRACE_MS past STALE_AFTER_MS (one quiet moment blocks nothing), then goes REDUCING', () => {
    const { state, es, clock, run, longEs } = setup();
    longEs(1);
    state.marks.writeTrade(es, 6000 * 1e9, NOW, NOW);
    state.marks.setStale(es, true);
    clock.set(NOW + STALE_AFTER_MS + STALE_MARK_GRACE_MS - 1);
    expect(run().state).toBe('ACTIVE');
    clock.advance(1);
    expect([run().state, run().reason]).toEqual(['REDUCING', 'UNPRICED_POSITION']);
  });

  it('is ACTIVE again once the mark is fresh, and a stale mark of a flat contract does not matter', () => {
    const { state, ar, es, clock, run, longEs } = setup();
    longEs(1);
    state.marks.writeTrade(es, 6000 * 1e9, NOW, NOW);
    state.marks.setStale(es, true);
    clock.advance(60_000);
    expect(run().state).toBe('REDUCING');
    state.marks.writeTrade(es, 6001 * 1e9, clock.now(), clock.now());
    state.marks.setStale(es, false);
    const fresh = run();
    expect([fresh.state, fresh.events.map((e) => [e.type, e.to])]).toEqual(['ACTIVE', [['STATE_CHANGED', 'ACTIVE']]]);
    // Closed: the contract's feed may die, the account stays ACTIVE.
    ar.applyTrade({ id: 2, contractId: ES, creationTimestamp: new Date(clock.now()).toISOString(), price: 6001, fees: 1.4, side: 1, size: 1, voided: false });
    state.marks.setStale(es, true);
    clock.advance(60_000);
    expect(run().state).toBe('ACTIVE');
  });

  it('counts a position with no mark at all as unpriced (its open P&L is missing from the limits)', () => {
    const { state, ar, es, run, longEs } = setup();
    longEs(1);
    state.marks.setStale(es, false);
    const ev = run();
    expect([ev.state, ev.reason, [...ar.staleHeld]]).toEqual(['REDUCING', 'UNPRICED_POSITION', [ES]]);
  });

  it("measures the mark's age on the wall clock it was stamped with, not on an offset risk clock", () => {
    const wall = new TestClock(NOW);
    // The risk clock runs a day ahead (RISK_CLOCK_OFFSET_MS); market-data stamps marks with the wall clock.
    const { state, es, clock, run, longEs } = setup({ staleAfterMs: STALE_AFTER_MS, wallClock: wall }, new TestClock(NOW + 86_400_000));
    longEs(1);
    state.marks.writeTrade(es, 6000 * 1e9, NOW, NOW);
    state.marks.setStale(es, true);
    wall.advance(STALE_AFTER_MS);
    clock.advance(STALE_AFTER_MS);
    expect(run().state).toBe('ACTIVE');
    wall.advance(STALE_MARK_GRACE_MS);
    expect(run().state).toBe('REDUCING');
  });
});
