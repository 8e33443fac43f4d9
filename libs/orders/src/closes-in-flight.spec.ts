import { describe, expect, it } from 'vitest';
import { CLOSE_IN_FLIGHT_TTL_MS, ClosesInFlight } from './closes-in-flight';
import { CUSTOM_TAG_PREFIX } from './custom-tag';

const ours = (tag: string): boolean => tag.startsWith(CUSTOM_TAG_PREFIX);
const order = (o: Partial<{ accountId: number; contractId: string; type: number; side: number; size: number; customTag: string | null }> = {}) => ({
  accountId: 1,
  contractId: 'CON.F.US.MNQ.Z26',
  type: 2,
  side: 1,
  size: 2,
  customTag: null,
  ...o,
});

describe('ClosesInFlight', () => {
  it('takes a working untagged market order as ours only when it matches a recorded close', () => {
    let now = 1_000;
    const c = new ClosesInFlight(ours, () => now);
    expect(c.isOurs(order())).toBe(false);
    c.record(1, 'CON.F.US.MNQ.Z26', ClosesInFlight.closingSide(2), 2);
    expect(c.isOurs(order())).toBe(true);
    expect(c.isOurs(order({ size: 1 }))).toBe(true);
    // Another tool's entry: the other side, more size, another contract or account, a limit order, our own tag.
    expect(c.isOurs(order({ side: 0 }))).toBe(false);
    expect(c.isOurs(order({ size: 3 }))).toBe(false);
    expect(c.isOurs(order({ contractId: 'CON.F.US.EP.Z26' }))).toBe(false);
    expect(c.isOurs(order({ accountId: 2 }))).toBe(false);
    expect(c.isOurs(order({ type: 1 }))).toBe(false);
    expect(c.isOurs(order({ customTag: `${CUSTOM_TAG_PREFIX}x-MARKET-1-1` }))).toBe(false);
    expect(c.pending(1, 'CON.F.US.MNQ.Z26')).toBe(true);
    expect(c.anyPending(1)).toBe(true);
    expect(c.anyPending(2)).toBe(false);
    // Past the TTL a close that still works is stuck, not in flight.
    now += CLOSE_IN_FLIGHT_TTL_MS;
    expect(c.isOurs(order())).toBe(false);
    expect(c.pending(1, 'CON.F.US.MNQ.Z26')).toBe(false);
    expect(c.anyPending(1)).toBe(false);
  });

  it('closes a long by selling and a short by buying; a zero size records nothing', () => {
    const c = new ClosesInFlight(ours, () => 0);
    expect(ClosesInFlight.closingSide(3)).toBe(1);
    expect(ClosesInFlight.closingSide(-3)).toBe(0);
    c.record(1, 'X', 0, 0);
    expect(c.pending(1, 'X')).toBe(false);
  });
});
