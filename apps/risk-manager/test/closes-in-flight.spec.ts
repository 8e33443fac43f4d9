// The loss-limit enforcement against closes that the broker fills after its answer (found in review of 6c81891).
// A working untagged market order is the enforcement's own close in flight only when it matches one it sent
// (ClosesInFlight): another tool's market order is cancelled, not taken for a close (before, it blocked the flatten
// on every retry and filled into more exposure). And the wait for flat reads the book, not REST: its REST poll spent
// the risk-manager's own 30-per-61-s budget on every pass, so a close that then ended unfilled could not be replaced
// for most of a minute (rate limited) while the halted account stayed exposed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountState } from '@gateway/shared-state';
import { ACCOUNT_ID, startHarness, waitFor, type Harness } from './harness';

describe('loss-limit enforcement and closes in flight', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
    h.move(20_000);
    await h.market(0, 2);
    await waitFor('long 2 published', () => h.position().netSize === 2, 20_000);
  }, 120_000);
  afterEach(async () => {
    await h?.close();
  });

  /** Waits (generously) for the condition; false instead of a throw, so the assertion can say what was seen. */
  const eventually = (what: string, cond: () => boolean): Promise<boolean> =>
    waitFor(what, cond, 20_000).then(
      () => true,
      () => false,
    );

  it("HALTED on the DLL with another tool's market order working: flattened, nothing left working", async () => {
    // Another tool's market BUY 1 that the exchange has not filled yet (no TradingBot tag).
    h.sim.faults.set({ fillDelayMs: 600_000 });
    await h.market(0, 1);
    h.sim.faults.reset();
    expect(h.workingAtBroker()).toBe(1);

    h.move(19_400); // −$2,400 on 2 MNQ against the $1,000 DLL
    await waitFor('HALTED', () => h.account().state === AccountState.HALTED, 20_000);
    const seen = (): string => `net ${h.brokerNet()}, working ${h.workingAtBroker()}`;
    const flat = await eventually('flat at the broker, nothing working', () => h.brokerNet() === 0 && h.workingAtBroker() === 0);
    expect(flat, `20 s after HALTED: ${seen()}`).toBe(true);
  }, 90_000);

  it('a close that ends unfilled at the broker is replaced promptly', async () => {
    h.sim.faults.set({ fillDelayMs: 600_000 }); // the enforcement's close works without filling
    h.move(19_400);
    await waitFor('HALTED', () => h.account().state === AccountState.HALTED, 20_000);
    const close = await waitFor('the enforcement close working', () => h.sim.orders(ACCOUNT_ID).find((o) => o['customTag'] === null && o['status'] === 1), 20_000);
    // Three enforcement passes while it works (each waits up to 2 s for flat).
    await waitFor('3 enforcement retries', () => h.events.filter((e) => e.type === 'ENFORCEMENT_RETRY').length >= 3, 30_000);
    h.sim.faults.reset();
    // The close ends unfilled at the broker (cancelled in the TopstepX UI / by the exchange).
    await h.runtime.rest.cancelOrder({ accountId: ACCOUNT_ID, orderId: Number(close['id']) });
    const flat = await eventually('flat at the broker', () => h.brokerNet() === 0);
    expect(flat, `20 s after the close ended unfilled: net ${h.brokerNet()}`).toBe(true);
  }, 120_000);
});
