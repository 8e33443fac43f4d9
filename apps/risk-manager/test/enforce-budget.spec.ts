// Regression (found in review of 6c81891 + waitFlat): while a close is in flight (the broker fills it after its answer), every enforcement
// pass re-reads positions 20 times in waitFlat (2 s at 100 ms) and lists orders twice: ~23 requests of the
// risk-manager's own 30-per-61-s budget. After two passes the budget is gone, so when that close does NOT fill
// (cancelled at the broker — the trader in the UI, an exchange reject) the next close is refused locally
// (RateLimitedError, "not sent") for most of a minute: the halted account stays exposed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountState } from '@gateway/shared-state';
import { ACCOUNT_ID, startHarness, waitFor, type Harness } from './harness';

describe('enforcement burns its own rate budget while a close is in flight', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('a close that ends unfilled is replaced promptly', async () => {
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
    h.move(20_000);
    await h.market(0, 2);
    await waitFor('long 2 published', () => h.position().netSize === 2, 20_000);
    h.sim.faults.set({ fillDelayMs: 600_000 }); // the enforcement's close works without filling
    h.move(19_400);
    await waitFor('HALTED', () => h.account().state === AccountState.HALTED, 20_000);
    const close = await waitFor('the enforcement close working', () => h.sim.orders(ACCOUNT_ID).find((o) => o['customTag'] === null && o['status'] === 1), 20_000);
    // Three enforcement passes while it works (each waits up to 2 s for flat).
    await waitFor('3 enforcement retries', () => h.events.filter((e) => e.type === 'ENFORCEMENT_RETRY').length >= 3, 30_000);
    h.sim.faults.reset();
    // The close ends unfilled at the broker (cancelled in the TopstepX UI / by the exchange).
    await h.runtime.rest.cancelOrder({ accountId: ACCOUNT_ID, orderId: Number(close['id']) });
    const flat = await waitFor('flat at the broker', () => h.brokerNet() === 0, 20_000).then(
      () => true,
      () => false,
    );
    expect(flat, `20 s after the close ended unfilled: net ${h.brokerNet()}`).toBe(true);
  }, 120_000);
});
