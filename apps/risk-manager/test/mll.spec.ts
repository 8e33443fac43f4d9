// Acceptance, trailing maximum loss limit (DLL off), with the real worker against the simulator: a winning
// day trails the floor at the end of the day and locks it at the starting balance; the next day a loss
// to the floor goes REDUCING then HALTED (MAX_LOSS_LIMIT), flattens, and stays halted on later days.
// Also pins the simulator fact the sweep exists for: Position/closeContract leaves a working stop alive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountState } from '@gateway/shared-state';
import { STATE_REASONS } from '@gateway/risk';
import { DAY_MS, startHarness, T0, waitFor, type Harness } from './harness';

const usd = (d: number): number => d * 10_000;

describe('risk-manager: trailing maximum loss limit (simulator)', () => {
  let h: Harness;
  const entry = (size = 1): string => h.entry(size);

  beforeAll(async () => {
    h = await startHarness({ RISK_DLL: '0' }, T0 - DAY_MS);
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('closeContract at the simulator leaves a working stop alive (why the risk-manager sweeps)', async () => {
    h.move(20_000);
    await h.market(0, 1);
    await h.runtime.rest.placeOrder({ accountId: 1001, contractId: h.contractId, type: 4, side: 1, size: 1, stopPrice: 19_000 });
    await h.runtime.rest.closeContract({ accountId: 1001, contractId: h.contractId });
    expect(h.brokerNet()).toBe(0);
    expect(h.workingAtBroker()).toBe(1);
    const stop = h.sim.orders(1001).find((o) => o['type'] === 4 && o['status'] === 1);
    await h.runtime.rest.cancelOrder({ accountId: 1001, orderId: stop!['id'] as number });
    await waitFor('flat and nothing working published', () => h.position().netSize === 0 && h.account().openOrders === 0);
  });

  it('trails the floor on a winning day and locks it at the starting balance', async () => {
    await h.setNow(T0);
    await waitFor('day rolled', () => h.account().tradingDayId === 20261202);
    expect(h.account().mllFloor).toBe(usd(48_000));
    h.move(20_000);
    await h.market(0, 2);
    await waitFor('long 2', () => h.position().netSize === 2);
    h.move(20_700);
    await h.market(1, 2);
    await waitFor('balance above 52,500', () => h.position().netSize === 0 && h.account().balance > usd(52_500));
    expect(h.account().mllFloor).toBe(usd(48_000));
    await h.setNow(T0 + DAY_MS);
    await waitFor('floor locked at 50,000', () => h.account().mllFloor === usd(50_000));
    expect(h.events.some((e) => e.type === 'MLL_FLOOR_UPDATED' && e.message.includes('locked'))).toBe(true);
    expect(h.account().state).toBe(AccountState.ACTIVE);
  });

  it('goes REDUCING then HALTED at the locked floor and flattens', async () => {
    const balance = h.account().balance / 10_000;
    h.move(20_700);
    await h.market(0, 2);
    await waitFor('long 2', () => h.position().netSize === 2);
    const avg = h.position().avgPrice / 1e9;
    // Equity 50,300: MLL remaining 300 ≤ 20 % of 2,000 → REDUCING (stops none).
    h.move(Math.round((avg - (balance - 50_300) / 4) * 4) / 4);
    await waitFor('REDUCING', () => h.account().state === AccountState.REDUCING);
    expect(h.account().reason).toBe(STATE_REASONS.indexOf('MAX_LOSS_LIMIT'));
    expect(entry()).toBe('REDUCE_ONLY');
    // Equity 49,900: through the floor.
    h.move(Math.round((avg - (balance - 49_900) / 4) * 4) / 4);
    await waitFor('HALTED', () => h.account().state === AccountState.HALTED);
    expect(h.account().reason).toBe(STATE_REASONS.indexOf('MAX_LOSS_LIMIT'));
    await waitFor('flat', () => h.brokerNet() === 0 && h.workingAtBroker() === 0 && h.position().netSize === 0);
    expect(entry()).toBe('MAX_LOSS_LIMIT');
  });

  it('stays HALTED on the next trading day: the account is broken', async () => {
    await h.setNow(T0 + 2 * DAY_MS);
    await waitFor('day rolled', () => h.account().tradingDayId === 20261204);
    expect(h.account().state).toBe(AccountState.HALTED);
    expect(entry()).toBe('MAX_LOSS_LIMIT');
  });
});
