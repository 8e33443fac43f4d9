import { allocateSharedState, attachSharedState } from '@gateway/shared-state';
import { describe, expect, it } from 'vitest';
import { CLOSE_IN_FLIGHT_TTL_MS, ClosesInFlight, type CloseDecision, type WorkingOrderView } from './closes-in-flight';
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

async function sent(c: ClosesInFlight, side: 0 | 1, size: number, contractId = MNQ): Promise<CloseDecision> {
  const d = await c.acquire(1, contractId, side, size, noRead);
  expect(d).toMatchObject({ send: true });
  c.markSent(d);
  return d;
}

describe('ClosesInFlight', () => {
  it("takes a working untagged market order as ours only when it matches a live close of either sender", async () => {
    const { clock, frontDoor, risk } = senders();
    expect(frontDoor.isOurs(order())).toBe(false);
    await sent(risk, ClosesInFlight.closingSide(2), 2);
    // The front door sees the risk-manager's close (they share the leases).
    expect(frontDoor.isOurs(order())).toBe(true);
    expect(frontDoor.isOurs(order({ size: 1 }))).toBe(true);
    // Another tool's entry: the other side, more size, another contract or account, a limit order, our own tag.
    expect(frontDoor.isOurs(order({ side: 0 }))).toBe(false);
    expect(frontDoor.isOurs(order({ size: 3 }))).toBe(false);
    expect(frontDoor.isOurs(order({ contractId: 'CON.F.US.EP.Z26' }))).toBe(false);
    expect(frontDoor.isOurs(order({ accountId: 2 }))).toBe(false);
    expect(frontDoor.isOurs(order({ type: 1 }))).toBe(false);
    expect(frontDoor.isOurs(order({ customTag: `${CUSTOM_TAG_PREFIX}x-MARKET-1-1` }))).toBe(false);
    expect(frontDoor.pending(1, MNQ)).toBe(true);
    expect(frontDoor.pending(2, MNQ)).toBe(false);
    // Past the TTL a close that still works is stuck, not in flight.
    clock.now += CLOSE_IN_FLIGHT_TTL_MS;
    expect(frontDoor.isOurs(order())).toBe(false);
    expect(frontDoor.pending(1, MNQ)).toBe(false);
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
    const d = await frontDoor.acquire(1, MNQ, 1, 1, reads(order({ side: 0 }), order({ contractId: 'CON.F.US.EP.Z26' })));
    expect(d).toMatchObject({ send: true, tookOver: { phase: 'SENT', size: 2 } });
    expect(await risk.acquire(1, MNQ, 1, 2, noRead)).toEqual({ send: false, reason: 'IN_FLIGHT', holder: 'front-door' });
    // The new lease is the front door's: one contract now, not two.
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
