// The gate with a ledger hold (an executor task's entry, ADR 0003 "Releasing"): every claim is recorded as it is made
// and unrecorded before it is given back, and a main thread that reclaims the entry mid-check (played here by
// reclaiming from inside the thread view's move) never gets a claim the gate also gives back.
import { describe, expect, it } from 'vitest';
import { Held, Side, allocateLedger, attachLedger, type HeldBits, type LedgerHold, type ReservationLedger } from '@gateway/shared-state';
import { HoldRevokedError, RiskGate, type GateResult, type Reservation } from './index';
import { fixture, IN_SESSION_MS, type Fixture } from '../test/support';

const reasonOf = (r: GateResult): string => (r.allowed ? 'ALLOWED' : r.reason);

function setUp(patch = {}): { f: Fixture; main: ReservationLedger; thread: ReservationLedger; gate: RiskGate; main_gate: RiskGate } {
  const f = fixture();
  f.publish(patch);
  const b = allocateLedger(4);
  const main = attachLedger(b);
  const thread = attachLedger(b);
  return {
    f,
    main,
    thread,
    gate: new RiskGate(f.state, { clock: () => IN_SESSION_MS, ledger: thread }),
    main_gate: new RiskGate(f.state, { clock: () => IN_SESSION_MS }),
  };
}

const totals = (f: Fixture): number[] => [f.state.reservations.pendingUnits(f.acct), f.state.reservations.pendingOpenOrders(f.acct), f.state.reservations.pending(f.acct, f.es, Side.BUY)];

/** Makes the main thread reclaim `hold` just before the thread's move number `n` (1-based) — and release what it got. */
function reclaimBeforeMove(thread: ReservationLedger, main: ReservationLedger, mainGate: RiskGate, hold: LedgerHold, n: number): { reclaimed: Reservation | undefined } {
  const seen = { reclaimed: undefined as Reservation | undefined };
  const move = thread.move.bind(thread);
  let calls = 0;
  thread.move = (h: LedgerHold, from: HeldBits, to: HeldBits): boolean => {
    if (++calls === n) {
      seen.reclaimed = main.reclaim(hold);
      if (seen.reclaimed) mainGate.release(seen.reclaimed);
    }
    return move(h, from, to);
  };
  return seen;
}

describe('RiskGate with a ledger hold', () => {
  it('records an allowed order as holding both claims; the reclaimed claim equals the reservation', () => {
    const { f, main, gate } = setUp();
    const hold = main.arm()!;
    const r = gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2 }, hold);
    expect(r.allowed).toBe(true);
    expect(main.heldBits(hold.entry)).toBe(Held.ALL);
    const claim = main.reclaim(hold)!;
    expect(claim).toEqual({ ...(r.allowed ? r.reservation : {}), openOrder: true });
  });

  it('records nothing for a denial, whether before the claims or after giving them back', () => {
    const { f, main, gate } = setUp({ maxPositionUnits: 20, maxOpenOrders: 1, positionUnits: 0 });
    const big = main.arm()!;
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 3 }, big))).toBe('MAX_POSITION');
    expect(main.heldBits(big.entry)).toBe(Held.NONE);
    const first = main.arm()!;
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }, first))).toBe('ALLOWED');
    // The size claim passes, the open order does not: the size is unrecorded, then given back.
    const second = main.arm()!;
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }, second))).toBe('MAX_OPEN_ORDERS');
    expect(main.heldBits(second.entry)).toBe(Held.NONE);
    expect(totals(f)).toEqual([10, 1, 1]);
  });

  it('records a reducing order (flagged reducing), and rewrites it when it is judged again as an entry', () => {
    const { f, main, gate } = setUp();
    f.position(f.es, { netSize: -2 });
    const reducing = main.arm()!;
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2 }, reducing))).toBe('ALLOWED');
    expect(main.reclaim(reducing)).toMatchObject({ size: 2, reducing: true, openOrder: true });
    // The reclaimed claim is still reserved (the caller releases it): a second buy of 2 would flip the position,
    // so it loses the reducing race and passes as an entry.
    const entry = main.arm()!;
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2 }, entry))).toBe('ALLOWED');
    expect(main.reclaim(entry)).toMatchObject({ size: 2, reducing: false, openOrder: true });
  });

  it('a hold without a ledger is a programming error', () => {
    const f = fixture();
    f.publish();
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(() => gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }, { entry: 0, ticket: 4 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('release() of a size-only claim gives back no open-order slot', () => {
    const { f, main_gate } = setUp();
    const r = main_gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 });
    expect(r.allowed).toBe(true);
    // A lost task's size claim (taken over from the ledger) next to this order's two claims.
    f.state.reservations.tryReserve(f.acct, f.es, Side.BUY, 1, 10, 1000, 0);
    main_gate.release({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1, weight: 10, reducing: false, openOrder: false });
    expect(totals(f)).toEqual([10, 1, 1]);
  });

  describe('the main thread reclaims mid-check: each claim is given back exactly once', () => {
    it('before the size claim is recorded: the gate gives the size back itself', () => {
      const { f, main, thread, gate, main_gate } = setUp();
      const hold = main.arm()!;
      const seen = reclaimBeforeMove(thread, main, main_gate, hold, 1);
      expect(() => gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2 }, hold)).toThrow(HoldRevokedError);
      expect(seen.reclaimed).toBeUndefined();
      expect(totals(f)).toEqual([0, 0, 0]);
    });

    it('between the two claims: the main thread releases the size, the gate the open order', () => {
      const { f, main, thread, gate, main_gate } = setUp();
      const hold = main.arm()!;
      const seen = reclaimBeforeMove(thread, main, main_gate, hold, 2);
      expect(() => gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2 }, hold)).toThrow(HoldRevokedError);
      expect(seen.reclaimed).toMatchObject({ size: 2, weight: 10, openOrder: false });
      expect(totals(f)).toEqual([0, 0, 0]);
    });

    it('before a denied order gives its recorded claims back: only the main thread releases them', () => {
      // Re-check after the claims: the fresh record says the limit no longer holds (as in gate.spec's hand-over).
      const { f, main, thread, gate, main_gate } = setUp({ maxPositionUnits: 20 });
      const hold = main.arm()!;
      const seen = reclaimBeforeMove(thread, main, main_gate, hold, 3);
      const readAccount = f.state.accounts.readAccount.bind(f.state.accounts);
      let reads = 0;
      f.state.accounts.readAccount = (slot, out) => {
        const rec = readAccount(slot, out);
        if (++reads === 2) rec.positionUnits = 20;
        return rec;
      };
      expect(() => gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }, hold)).toThrow(HoldRevokedError);
      expect(seen.reclaimed).toMatchObject({ size: 1, openOrder: true });
      expect(totals(f)).toEqual([0, 0, 0]);
    });

    it('a reducing order, between its claims: the same split', () => {
      const { f, main, thread, gate, main_gate } = setUp();
      f.position(f.es, { netSize: -2 });
      const hold = main.arm()!;
      const seen = reclaimBeforeMove(thread, main, main_gate, hold, 2);
      expect(() => gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 2 }, hold)).toThrow(HoldRevokedError);
      expect(seen.reclaimed).toMatchObject({ size: 2, reducing: true, openOrder: false });
      expect(totals(f)).toEqual([0, 0, 0]);
    });
  });
});
