import { describe, expect, it } from 'vitest';
import { CLOSE_LEASE_TTL_MS, CloseLeasePhase, type CloseClaim, type CloseLease, type CloseLeaseView } from './closes';
import { SharedStateError } from './errors';
import { Side } from './reservations';
import { allocateSharedState, attachSharedState } from './shared-state';

const MNQ = 'CON.F.US.MNQ.Z26';
const MES = 'CON.F.US.MES.Z26';
const T0 = 1_764_000_000_000;
const MAIN = 1;
const RISK = 2;

function table(closeLeases = 8) {
  const b = allocateSharedState({ contracts: 2, accounts: 2, closeLeases });
  return { main: attachSharedState(b).closes, risk: attachSharedState(b).closes, b };
}

function claimed(c: CloseClaim): CloseLease {
  if (!c.ok) throw new Error(`expected a claim, got ${JSON.stringify(c)}`);
  return c.lease;
}

function held(c: CloseClaim): CloseLeaseView {
  if (c.ok || !('held' in c)) throw new Error(`expected a held lease, got ${JSON.stringify(c)}`);
  return c.held;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as SharedStateError).code;
  }
  return undefined;
}

describe('close leases', () => {
  it('one live lease per (account, contract): a second claim from another thread view sees the first', () => {
    const { main, risk } = table();
    const lease = claimed(main.tryClaim(1001, MNQ, Side.SELL, 2, T0, MAIN));
    const h = held(risk.tryClaim(1001, MNQ, Side.SELL, 2, T0 + 1, RISK));
    expect(h).toMatchObject({ index: lease.index, phase: 'CLAIMED', accountId: 1001, side: Side.SELL, size: 2, owner: MAIN, claimedMs: T0, sentMs: 0 });
    // Other contracts and accounts are other keys.
    claimed(risk.tryClaim(1001, MES, Side.BUY, 1, T0, RISK));
    claimed(risk.tryClaim(1002, MNQ, Side.SELL, 2, T0, RISK));
    expect(main.find(1001, MNQ, T0)).toMatchObject({ phase: 'CLAIMED', owner: MAIN });
    expect(main.find(1003, MNQ, T0)).toBeUndefined();
  });

  it('CLAIMED → SENT (in flight from the answer) → released; a stale handle changes nothing', () => {
    const { main, risk } = table();
    const lease = claimed(main.tryClaim(1001, MNQ, Side.SELL, 2, T0, MAIN));
    expect(main.markSent(lease, T0 + 500)).toBe(true);
    expect(risk.find(1001, MNQ, T0 + 600)).toMatchObject({ phase: 'SENT', claimedMs: T0, sentMs: T0 + 500 });
    expect(held(risk.tryClaim(1001, MNQ, Side.SELL, 2, T0 + 600, RISK)).phase).toBe('SENT');
    expect(main.release(lease)).toBe(true);
    expect(risk.find(1001, MNQ, T0 + 600)).toBeUndefined();
    const again = claimed(risk.tryClaim(1001, MNQ, Side.SELL, 1, T0 + 700, RISK));
    // The first handle is stale now: it neither marks nor releases the new lease.
    expect(main.markSent(lease, T0 + 800)).toBe(false);
    expect(main.release(lease)).toBe(false);
    expect(main.find(1001, MNQ, T0 + 800)).toMatchObject({ phase: 'CLAIMED', owner: RISK, size: 1 });
    expect(risk.release(again)).toBe(true);
  });

  it('a SENT lease lives for the TTL from its answer; a CLAIMED one for the TTL from its claim (a dead owner)', () => {
    const { main, risk } = table();
    const sent = claimed(main.tryClaim(1001, MNQ, Side.SELL, 2, T0, MAIN));
    main.markSent(sent, T0 + 10_000);
    expect(risk.find(1001, MNQ, T0 + 10_000 + CLOSE_LEASE_TTL_MS - 1)?.phase).toBe('SENT');
    expect(risk.find(1001, MNQ, T0 + 10_000 + CLOSE_LEASE_TTL_MS)).toBeUndefined();

    // The owner died between its claim and the answer: nothing ever marks or releases the lease.
    claimed(risk.tryClaim(1001, MES, Side.BUY, 1, T0, RISK));
    expect(held(main.tryClaim(1001, MES, Side.BUY, 1, T0 + CLOSE_LEASE_TTL_MS - 1, MAIN)).owner).toBe(RISK);
    const next = claimed(main.tryClaim(1001, MES, Side.BUY, 1, T0 + CLOSE_LEASE_TTL_MS, MAIN));
    expect(main.find(1001, MES, T0 + CLOSE_LEASE_TTL_MS)).toMatchObject({ index: next.index, owner: MAIN, phase: 'CLAIMED' });
  });

  it('a clock behind the claim (another thread, same wall clock) still sees the lease as live', () => {
    const { main, risk } = table();
    claimed(main.tryClaim(1001, MNQ, Side.SELL, 2, T0, MAIN));
    expect(risk.find(1001, MNQ, T0 - 5)?.phase).toBe('CLAIMED');
  });

  it('takeOver: only a SENT lease, only once, and only the lease that was seen', () => {
    const { main, risk } = table();
    const first = claimed(risk.tryClaim(1001, MNQ, Side.SELL, 2, T0, RISK));
    const seenClaimed = held(main.tryClaim(1001, MNQ, Side.SELL, 2, T0 + 1, MAIN));
    // A send in progress is never taken over (its order may be on the wire).
    expect(held(main.takeOver(seenClaimed, MNQ, Side.SELL, 2, T0 + 2, MAIN)).phase).toBe('CLAIMED');
    risk.markSent(first, T0 + 100);
    const seen = held(main.tryClaim(1001, MNQ, Side.SELL, 2, T0 + 200, MAIN));
    const mine = claimed(main.takeOver(seen, MNQ, Side.SELL, 1, T0 + 300, MAIN));
    expect(main.find(1001, MNQ, T0 + 300)).toMatchObject({ owner: MAIN, phase: 'CLAIMED', size: 1, claimedMs: T0 + 300 });
    // Somebody else acting on the same old view loses: the lease it saw is gone.
    expect(held(risk.takeOver(seen, MNQ, Side.SELL, 2, T0 + 400, RISK))).toMatchObject({ owner: MAIN, phase: 'CLAIMED' });
    expect(risk.markSent(first, T0 + 500)).toBe(false);
    expect(main.markSent(mine, T0 + 500)).toBe(true);
  });

  it('keys contract ids by all their bytes: ids longer than the 48 stored bytes differ by their tail', () => {
    const { main } = table();
    const long = 'CON.F.US.' + 'X'.repeat(60);
    claimed(main.tryClaim(1001, `${long}A`, Side.SELL, 1, T0, MAIN));
    claimed(main.tryClaim(1001, `${long}B`, Side.SELL, 1, T0, MAIN));
    expect(held(main.tryClaim(1001, `${long}A`, Side.SELL, 1, T0, MAIN)).size).toBe(1);
    expect(main.find(1001, `${long}C`, T0)).toBeUndefined();
    expect(main.find(1001, long, T0)).toBeUndefined();
  });

  it('a full table evicts the oldest SENT lease; only sends in progress everywhere leave it full (counted)', () => {
    const { main, risk } = table(3);
    const a = claimed(main.tryClaim(1, 'A', Side.SELL, 1, T0, MAIN));
    const b = claimed(main.tryClaim(1, 'B', Side.SELL, 1, T0, MAIN));
    const c = claimed(risk.tryClaim(1, 'C', Side.SELL, 1, T0, RISK));
    main.markSent(b, T0 + 10);
    main.markSent(a, T0 + 20);
    const d = risk.tryClaim(1, 'D', Side.BUY, 3, T0 + 30, RISK);
    if (!d.ok) throw new Error('expected the claim to evict');
    expect(d.evicted).toMatchObject({ index: b.index, phase: 'SENT', sentMs: T0 + 10 });
    expect(main.find(1, 'B', T0 + 30)).toBeUndefined();
    expect(main.release(b)).toBe(false);
    main.markSent(d.lease, T0 + 40);
    risk.markSent(c, T0 + 50);
    // Every entry SENT: the oldest answer (A at +20) goes.
    const e = claimed(main.tryClaim(1, 'E', Side.SELL, 1, T0 + 60, MAIN));
    expect(main.find(1, 'A', T0 + 60)).toBeUndefined();
    // Three sends in progress (CLAIMED) and nothing to evict: full, and counted.
    main.release(e);
    claimed(main.tryClaim(1, 'F', Side.SELL, 1, T0 + 70, MAIN));
    const stillSent = [main.find(1, 'C', T0 + 70), main.find(1, 'D', T0 + 70)];
    expect(stillSent.map((v) => v?.phase)).toEqual(['SENT', 'SENT']);
    const g = claimed(main.tryClaim(1, 'G', Side.SELL, 1, T0 + 80, MAIN));
    const h = claimed(main.tryClaim(1, 'H', Side.SELL, 1, T0 + 90, MAIN));
    expect([g.index, h.index].sort()).toEqual([c.index, d.lease.index].sort());
    expect(main.fullCount()).toBe(0);
    expect(main.tryClaim(1, 'I', Side.SELL, 1, T0 + 100, MAIN)).toEqual({ ok: false, full: true });
    expect(risk.fullCount()).toBe(1);
    // A lease past its TTL frees its entry for the next claim.
    claimed(main.tryClaim(1, 'I', Side.SELL, 1, T0 + 70 + CLOSE_LEASE_TTL_MS, MAIN));
  });

  it('a claim past a lease reports the key’s latest expired lease (its close may still work) and never takes its entry', () => {
    const { main, risk } = table(4);
    // Size 0: a whole-position close.
    const first = claimed(risk.tryClaim(1001, MNQ, Side.SELL, 0, T0, RISK));
    risk.markSent(first, T0 + 100);
    const T1 = T0 + 100 + CLOSE_LEASE_TTL_MS;
    const c = main.tryClaim(1001, MNQ, Side.SELL, 3, T1, MAIN);
    if (!c.ok) throw new Error('expected a claim');
    expect(c.expired).toMatchObject({ index: first.index, phase: 'SENT', size: 0, owner: RISK, sentMs: T0 + 100 });
    expect(c.lease.index).not.toBe(first.index);
    // Given back (the stuck close still works): the next claim meets the same expired lease again.
    main.release(c.lease);
    const again = main.tryClaim(1001, MNQ, Side.SELL, 3, T1 + 1, MAIN);
    expect(again.ok && again.expired?.index).toBe(first.index);
    if (!again.ok) throw new Error('expected a claim');
    // Sent (the stuck close was gone): the next claim past this one's TTL reports this one, the latest claimed.
    main.markSent(again.lease, T1 + 2);
    const T2 = T1 + 2 + CLOSE_LEASE_TTL_MS;
    const third = main.tryClaim(1001, MNQ, Side.SELL, 3, T2, MAIN);
    expect(third.ok && third.expired).toMatchObject({ index: again.lease.index, owner: MAIN, size: 3 });
    // Other keys see nothing expired of theirs.
    const other = risk.tryClaim(1001, MES, Side.BUY, 1, T2, RISK);
    expect(other.ok && other.expired).toBeUndefined();
  });

  it('a claim takes a free entry before an expired one, and the oldest expired claim first', () => {
    const { main } = table(3);
    const a = claimed(main.tryClaim(1, 'A', Side.SELL, 1, T0, MAIN));
    const b = claimed(main.tryClaim(1, 'B', Side.SELL, 1, T0 + 10, MAIN));
    main.markSent(a, T0 + 1);
    main.markSent(b, T0 + 11);
    const late = T0 + 20 + CLOSE_LEASE_TTL_MS;
    // A and B expired, one entry free: C takes the free one; A and B still answer as expired to their keys.
    const c = claimed(main.tryClaim(1, 'C', Side.SELL, 1, late, MAIN));
    expect([a.index, b.index]).not.toContain(c.index);
    // No entry free: D reuses the oldest expired claim (A's).
    const d = claimed(main.tryClaim(1, 'D', Side.SELL, 1, late, MAIN));
    expect(d.index).toBe(a.index);
    const forB = main.tryClaim(1, 'B', Side.SELL, 1, late, MAIN);
    // B's own expired lease is kept for B's claim to check; nothing else is free or expired: full.
    expect(forB).toEqual({ ok: false, full: true });
    // A's record went to D (table pressure: its stuck close, if any, is no longer known): A's claim takes B's entry.
    const forA = main.tryClaim(1, 'A', Side.SELL, 1, late, MAIN);
    expect(forA.ok && { index: forA.lease.index, expired: forA.expired }).toEqual({ index: b.index, expired: undefined });
  });

  it('refuses bad arguments with INVALID_ARGUMENT, naming the field', () => {
    const { main } = table();
    expect(codeOf(() => main.tryClaim(1.5, MNQ, Side.SELL, 1, T0, MAIN))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => main.tryClaim(1, '', Side.SELL, 1, T0, MAIN))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => main.tryClaim(1, MNQ, 2 as never, 1, T0, MAIN))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => main.tryClaim(1, MNQ, Side.SELL, 1.5, T0, MAIN))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => main.tryClaim(1, MNQ, Side.SELL, 1, Number.NaN, MAIN))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => main.tryClaim(1, MNQ, Side.SELL, 1, T0, 0))).toBe('INVALID_ARGUMENT');
    expect(() => main.tryClaim(1, MNQ, Side.SELL, -1, T0, MAIN)).toThrow(/size/);
  });

  it('pins the phases and the TTL', () => {
    expect(CloseLeasePhase).toEqual({ FREE: 0, WRITING: 1, PENDING: 2, CLAIMED: 3, SENT: 4, ABORTED: 5 });
    expect(CLOSE_LEASE_TTL_MS).toBe(30_000);
  });
});
