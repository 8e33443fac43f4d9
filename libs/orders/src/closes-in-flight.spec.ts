import { allocateSharedState, attachSharedState } from '@gateway/shared-state';
import { describe, expect, it } from 'vitest';
import { CLOSE_IN_FLIGHT_TTL_MS, ClosesInFlight, type CloseDecision, type CloseScope, type WorkingOrderView } from './closes-in-flight';
import { CUSTOM_TAG_PREFIX } from './custom-tag';

const MNQ = 'CON.F.US.MNQ.Z26';
const ours = (tag: string): boolean => tag.startsWith(CUSTOM_TAG_PREFIX);
const order = (o: Partial<WorkingOrderView> = {}): WorkingOrderView => ({ accountId: 1, contractId: MNQ, type: 2, side: 1, size: 2, customTag: null, ...o });

/** The two senders of the engine over one shared buffer, on one test clock. */
function senders(closeLeases = 8) {
  const clock = { now: 1_764_000_000_000 };
  const b = allocateSharedState({ contracts: 1, accounts: 1, closeLeases });
  const frontDoor = new ClosesInFlight(attachSharedState(b).closes, ours, () => clock.now, 'front-door');
  const risk = new ClosesInFlight(attachSharedState(b).closes, ours, () => clock.now, 'risk-manager');
  return { clock, frontDoor, risk };
}

/** A REST read that must not happen. */
const noRead = (): Promise<boolean> => Promise.reject(new Error('no read expected'));
/** A REST read answering with these working orders. */
const reads =
  (...rows: WorkingOrderView[]) =>
  (matches: (o: WorkingOrderView) => boolean): Promise<boolean> =>
    Promise.resolve(rows.some(matches));

async function sent(c: ClosesInFlight, side: 0 | 1, size: number, scope: CloseScope = 'WHOLE'): Promise<CloseDecision> {
  const d = await c.acquire(1, MNQ, side, size, noRead, scope);
  expect(d).toMatchObject({ send: true });
  c.markSent(d);
  return d;
}

describe('ClosesInFlight', () => {
  it("takes a working untagged market order as ours only when it matches a live close of either sender", async () => {
    const { clock, frontDoor, risk } = senders();
    expect(frontDoor.isOurs(order())).toBe(false);
    await sent(frontDoor, ClosesInFlight.closingSide(2), 2, 'PARTIAL');
    // The risk-manager sees the front door's partial close of 2 (they share the leases).
    expect(risk.isOurs(order())).toBe(true);
    expect(risk.isOurs(order({ size: 1 }))).toBe(true);
    // Another tool's entry: the other side, more size than a partial close, another contract or account, a limit
    // order, our own tag.
    expect(risk.isOurs(order({ side: 0 }))).toBe(false);
    expect(risk.isOurs(order({ size: 3 }))).toBe(false);
    expect(risk.isOurs(order({ contractId: 'CON.F.US.EP.Z26' }))).toBe(false);
    expect(risk.isOurs(order({ accountId: 2 }))).toBe(false);
    expect(risk.isOurs(order({ type: 1 }))).toBe(false);
    expect(risk.isOurs(order({ customTag: `${CUSTOM_TAG_PREFIX}x-MARKET-1-1` }))).toBe(false);
    expect(risk.pending(1, MNQ)).toBe(true);
    expect(risk.pending(2, MNQ)).toBe(false);
    // Past the TTL a close that still works is stuck, not in flight.
    clock.now += CLOSE_IN_FLIGHT_TTL_MS;
    expect(risk.isOurs(order())).toBe(false);
    expect(risk.pending(1, MNQ)).toBe(false);
  });

  it('a whole-position close (closeContract) is any untagged market order on its closing side, for the lease only', async () => {
    const { clock, frontDoor, risk } = senders();
    // The risk-manager's book says long 2; the broker holds 3, and closeContract works SELL 3.
    await sent(risk, ClosesInFlight.closingSide(2), 2);
    expect([order({ size: 3 }), order({ size: 50 }), order({ side: 0 }), order({ type: 1 }), order({ contractId: 'X' })].map((o) => frontDoor.isOurs(o))).toEqual([true, true, false, false, false]);
    // The trade-off: another tool's SELL market order is left alone by the sweeps too — while the lease lives, no longer.
    clock.now += CLOSE_IN_FLIGHT_TTL_MS;
    expect(frontDoor.isOurs(order({ size: 50 }))).toBe(false);
  });

  it('a send waiting for its answer holds the position: no second close, no read', async () => {
    const { frontDoor, risk } = senders();
    const first = await risk.acquire(1, MNQ, 1, 2, noRead);
    expect(first).toMatchObject({ send: true });
    // Already ours while the answer is out: the broker may have the order before we hear back.
    expect(frontDoor.isOurs(order())).toBe(true);
    expect(await frontDoor.acquire(1, MNQ, 1, 2, noRead)).toEqual({ send: false, reason: 'IN_FLIGHT', holder: 'risk-manager' });
    expect(await risk.acquire(1, MNQ, 1, 2, noRead)).toEqual({ send: false, reason: 'IN_FLIGHT', holder: 'risk-manager' });
  });

  it('two acquires of one position at once: one sends', async () => {
    const { frontDoor, risk } = senders();
    const all = await Promise.all([frontDoor.acquire(1, MNQ, 1, 2, noRead), risk.acquire(1, MNQ, 1, 2, noRead), frontDoor.acquire(1, MNQ, 1, 2, noRead)]);
    expect(all.filter((d) => d.send)).toHaveLength(1);
  });

  it('an answered close: still working or unreadable, not sent; gone, taken over and sent', async () => {
    const { frontDoor, risk } = senders();
    await sent(risk, 1, 2);
    expect(await frontDoor.acquire(1, MNQ, 1, 2, reads(order()))).toEqual({ send: false, reason: 'IN_FLIGHT', holder: 'risk-manager' });
    expect(await frontDoor.acquire(1, MNQ, 1, 2, () => Promise.reject(new Error('HTTP 500')))).toEqual({ send: false, reason: 'UNKNOWN', holder: 'risk-manager' });
    // Another tool's market order on the other side is not the close: the risk-manager's close has ended.
    const d = await frontDoor.acquire(1, MNQ, 1, 1, reads(order({ side: 0 }), order({ contractId: 'CON.F.US.EP.Z26' })), 'PARTIAL');
    expect(d).toMatchObject({ send: true, tookOver: { phase: 'SENT', size: 0 } });
    expect(await risk.acquire(1, MNQ, 1, 2, noRead)).toEqual({ send: false, reason: 'IN_FLIGHT', holder: 'front-door' });
    // The new lease is the front door's partial close: one contract now, not the whole position.
    frontDoor.markSent(d);
    expect(risk.isOurs(order({ size: 2 }))).toBe(false);
    expect(risk.isOurs(order({ size: 1 }))).toBe(true);
  });

  it('a send that certainly sent nothing is released: the next close goes at once', async () => {
    const { frontDoor, risk } = senders();
    const d = await frontDoor.acquire(1, MNQ, 0, 3, noRead);
    frontDoor.release(d);
    expect(frontDoor.pending(1, MNQ)).toBe(false);
    expect(await risk.acquire(1, MNQ, 0, 3, noRead)).toMatchObject({ send: true });
  });

  it('a table full of sends in progress does not stop a close: sent untracked unless one visibly works', async () => {
    const { frontDoor, risk } = senders(1);
    await risk.acquire(1, 'CON.F.US.EP.Z26', 1, 1, noRead);
    let asked: ((o: WorkingOrderView) => boolean) | undefined;
    const d = await frontDoor.acquire(1, MNQ, 1, 2, (m) => {
      asked = m;
      return Promise.resolve(false);
    });
    expect(d).toEqual({ send: true, lease: undefined });
    // What counts as a close working: any untagged market order of the position on the closing side.
    expect([order({ size: 5 }), order({ side: 0 }), order({ customTag: `${CUSTOM_TAG_PREFIX}x` }), order({ contractId: 'X' })].map((o) => asked!(o))).toEqual([true, false, false, false]);
    expect(await frontDoor.acquire(1, MNQ, 1, 2, reads(order()))).toEqual({ send: false, reason: 'IN_FLIGHT', holder: undefined });
    expect(await frontDoor.acquire(1, MNQ, 1, 2, () => Promise.reject(new Error('down')))).toEqual({ send: false, reason: 'UNKNOWN', holder: undefined });
    // Nothing to mark or release without a lease.
    frontDoor.markSent(d);
    frontDoor.release(d);
  });

  it('closes a long by selling and a short by buying; names the senders', () => {
    expect(ClosesInFlight.closingSide(3)).toBe(1);
    expect(ClosesInFlight.closingSide(-3)).toBe(0);
    expect((['front-door', 'risk-manager', undefined] as const).map((c) => ClosesInFlight.senderName(c))).toEqual(['the front door', 'the risk-manager', 'this engine']);
  });
});

// Found in review: a second close went out while the first still worked at the broker — both fill, and the
// position ends naked on the other side.
describe('ClosesInFlight: no second close over one still working', () => {
  it("does not send over the risk-manager's whole-position close that works a bigger size than its book saw", async () => {
    const { frontDoor, risk } = senders();
    // The risk-manager's book says long 2 (a +1 fill still on the hub); closeContract closes the broker's long 3:
    // the market SELL 3 it works is the engine's close, not another tool's order.
    const first = await risk.acquire(1, MNQ, 1, 2, reads());
    expect(first).toMatchObject({ send: true });
    risk.markSent(first);
    // The trader's FlattenAll reads the broker's position (long 3) while that SELL 3 still works.
    const second = await frontDoor.acquire(1, MNQ, 1, 3, reads(order({ size: 3 })));
    expect(second).toMatchObject({ send: false, reason: 'IN_FLIGHT' });
  });

  it('does not send over a close still working past the TTL (a market order resting in a locked/halted market)', async () => {
    const { clock, frontDoor, risk } = senders();
    const first = await risk.acquire(1, MNQ, 1, 3, reads());
    risk.markSent(first);
    clock.now += CLOSE_IN_FLIGHT_TTL_MS + 1;
    let read = false;
    const second = await frontDoor.acquire(1, MNQ, 1, 3, (m) => {
      read = true;
      return reads(order({ size: 3 }))(m);
    });
    expect({ read, send: second.send }).toEqual({ read: true, send: false });
  });

  it('a stuck close is cancelled by a sweep, never closed over: the claim goes back, and the next close goes once it is gone', async () => {
    const { clock, frontDoor, risk } = senders();
    await sent(risk, 1, 2);
    clock.now += CLOSE_IN_FLIGHT_TTL_MS + 5_000;
    const stuckOrder = order({ size: 3 });
    const d = await frontDoor.acquire(1, MNQ, 1, 3, reads(stuckOrder));
    expect(d).toMatchObject({ send: false, reason: 'IN_FLIGHT', holder: 'risk-manager', stuck: { phase: 'SENT', size: 0, side: 1 } });
    // No lease holds the position: the sweeps take the stuck close for another order and cancel it.
    expect(frontDoor.pending(1, MNQ)).toBe(false);
    expect(risk.isOurs(stuckOrder)).toBe(false);
    if (d.send || d.stuck === undefined) throw new Error('expected a stuck close');
    expect([stuckOrder, order({ side: 0 }), order({ type: 1 })].map((o) => frontDoor.isCloseOf(d.stuck!, o))).toEqual([true, false, false]);
    // Asked again (the risk-manager's next pass, a retried ClosePosition): still checked, still not sent.
    expect(await risk.acquire(1, MNQ, 1, 3, reads(stuckOrder))).toMatchObject({ send: false, reason: 'IN_FLIGHT', stuck: { owner: 2 } });
    expect(await frontDoor.acquire(1, MNQ, 1, 3, () => Promise.reject(new Error('HTTP 500')))).toMatchObject({ send: false, reason: 'UNKNOWN', stuck: { size: 0 } });
    // Another tool's order on the other side is not the stuck close: once it is gone, the close goes.
    const next = await frontDoor.acquire(1, MNQ, 1, 3, reads(order({ side: 0 })));
    expect(next).toMatchObject({ send: true });
    frontDoor.markSent(next);
    expect(frontDoor.isOurs(stuckOrder)).toBe(true);
  });

  it('the stuck check of a partial close is by its size; a close that ended past the TTL does not hold the next one', async () => {
    const { clock, frontDoor, risk } = senders();
    await sent(frontDoor, 1, 1, 'PARTIAL');
    clock.now += CLOSE_IN_FLIGHT_TTL_MS;
    // A SELL 2 is not the partial close of 1 (another tool's): the close is sent.
    const d = await risk.acquire(1, MNQ, 1, 2, reads(order({ size: 2 })));
    expect(d).toMatchObject({ send: true });
    risk.markSent(d);
    // The latest close is the one checked next: the risk-manager's whole-position close, past its TTL too.
    clock.now += CLOSE_IN_FLIGHT_TTL_MS;
    expect(await frontDoor.acquire(1, MNQ, 1, 2, reads(order({ size: 2 })))).toMatchObject({ send: false, stuck: { owner: 2, size: 0 } });
  });
});
