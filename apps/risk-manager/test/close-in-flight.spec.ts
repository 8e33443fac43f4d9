// Regression (found in review of 6c81891): isCloseInFlight treats ANY working untagged market order as "our close in flight". A market
// order from another tool (the TopstepX UI, another bot) that works at the broker — here it buys MORE, emulated
// with the simulator's fillDelayMs fault on that one order only — is then neither cancelled by the loss-limit
// enforcement nor lets the enforcement close the position: the FLATTEN of the contract is skipped on every retry
// for as long as that order works, and when it fills the exposure grows. Before the commit it was cancelled and
// the position closed at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountState } from '@gateway/shared-state';
import { startHarness, waitFor, type Harness } from './harness';

describe('a foreign working market order blocks the loss-limit flatten', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('HALTED on the DLL: the account is flattened and nothing is left working', async () => {
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
    h.move(20_000);
    await h.market(0, 2);
    await waitFor('long 2 published', () => h.position().netSize === 2, 20_000);
    // Another tool's market BUY 1 that the exchange has not filled yet (no TradingBot tag).
    h.sim.faults.set({ fillDelayMs: 600_000 });
    await h.market(0, 1);
    h.sim.faults.reset();
    expect(h.workingAtBroker()).toBe(1);

    h.move(19_400); // −$2,400 on 2 MNQ against the $1,000 DLL
    await waitFor('HALTED', () => h.account().state === AccountState.HALTED, 20_000);
    // Several enforcement retries (2 s apart) have had their chance.
    let last = '';
    const flat = await waitFor(
      'flat at the broker, nothing working',
      () => {
        last = `net ${h.brokerNet()}, working ${h.workingAtBroker()}`;
        return h.brokerNet() === 0 && h.workingAtBroker() === 0;
      },
      20_000,
    ).then(
      () => true,
      () => false,
    );
    expect(flat, `20 s after HALTED: ${last}`).toBe(true);
  }, 90_000);
});
