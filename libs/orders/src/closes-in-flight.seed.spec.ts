// ClosesInFlight.seed: the lease of a close an earlier run of the engine sent, re-created from its journal at start.
import { allocateSharedState, attachSharedState } from '@gateway/shared-state';
import { describe, expect, it } from 'vitest';
import { CLOSE_IN_FLIGHT_TTL_MS, ClosesInFlight, type WorkingOrderView } from './closes-in-flight';
import { CUSTOM_TAG_PREFIX } from './custom-tag';

const MNQ = 'CON.F.US.MNQ.Z26';
const ours = (tag: string): boolean => tag.startsWith(CUSTOM_TAG_PREFIX);
const close: WorkingOrderView = { accountId: 1, contractId: MNQ, type: 2, side: 1, size: 2, customTag: null };
const stillWorks = (working: boolean) => (matches: (o: WorkingOrderView) => boolean): Promise<boolean> => Promise.resolve(working && matches(close));

function senders() {
  const clock = { now: 1_764_000_000_000 };
  const b = allocateSharedState({ contracts: 1, accounts: 1, closeLeases: 8 });
  const frontDoor = new ClosesInFlight(attachSharedState(b).closes, ours, () => clock.now, 'front-door');
  const risk = new ClosesInFlight(attachSharedState(b).closes, ours, () => clock.now, 'risk-manager');
  return { clock, frontDoor, risk };
}

describe('ClosesInFlight.seed', () => {
  it('holds the position as a close answered then: no second close while it works, until the TTL from then', async () => {
    const { clock, frontDoor, risk } = senders();
    expect(frontDoor.seed(1, MNQ, 1, 2, clock.now - 5_000)).toBe(true);
    expect(frontDoor.isOurs(close)).toBe(true);
    // Either sender, while the close still works at the broker: not sent.
    expect(await risk.acquire(1, MNQ, 1, 2, stillWorks(true))).toMatchObject({ send: false, reason: 'IN_FLIGHT', holder: 'front-door' });
    expect(await frontDoor.acquire(1, MNQ, 1, 2, stillWorks(true))).toMatchObject({ send: false, reason: 'IN_FLIGHT' });
    // A live lease of the position wins over a second seed.
    expect(frontDoor.seed(1, MNQ, 1, 2, clock.now)).toBe(false);
    clock.now += CLOSE_IN_FLIGHT_TTL_MS - 5_000;
    expect(frontDoor.pending(1, MNQ)).toBe(false);
  });

  it('a close that no longer works (filled) is taken over: the position may be closed again', async () => {
    const { clock, frontDoor } = senders();
    expect(frontDoor.seed(1, MNQ, 1, 2, clock.now - 1_000)).toBe(true);
    expect(await frontDoor.acquire(1, MNQ, 1, 2, stillWorks(false))).toMatchObject({ send: true });
  });
});
