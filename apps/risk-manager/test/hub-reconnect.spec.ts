// Acceptance, user-hub outage, with the real worker against the simulator: the hub replays nothing that was
// sent while its socket was down (topstepx-api.md §9.1), so from the drop until the REST reconcile has rebuilt
// the day the published risk state is stale and the gate must fail closed (RISK_NOT_READY).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from './harness';

describe('risk-manager: user hub reconnect (simulator)', () => {
  let h: Harness;
  const entry = (size = 1): string => h.entry(size);

  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('denies RISK_NOT_READY from a dropped hub socket until the day is reconciled, then counts what it missed', async () => {
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot));
    h.move(20_000);
    expect(entry()).toBe('ALLOWED');
    // A slow reconcile keeps the stale window open long enough to observe it.
    h.sim.faults.set({ latencyByEndpoint: { 'Trade/search': 1_500 } });
    const reconnects = h.sim.hubConnections('user');
    h.sim.faults.disconnectHubs();
    await h.market(0, 1); // may fill while the hub is down: its events are then lost
    await waitFor('not ready after the drop', () => !h.runtime.state.accounts.isReady(h.accountSlot), 10_000);
    expect(entry()).toBe('RISK_NOT_READY');
    await waitFor('hub back', () => h.sim.hubConnections('user') >= reconnects, 20_000);
    await waitFor('ready after the reconcile', () => h.runtime.state.accounts.isReady(h.accountSlot), 30_000);
    expect(h.position().netSize).toBe(h.brokerNet());
    expect(h.position().netSize).toBe(1);
    expect(entry()).toBe('ALLOWED');
  }, 60_000);
});
