// Acceptance, daily loss limit and a risk-manager crash, with the real worker against the simulator:
// a 2-lot MNQ long, killed and restarted mid-session (RISK_NOT_READY in the gap, same positions and P&L
// after), then a price path through the DLL: REDUCING, HALTED, orders cancelled, flat, entries denied
// DAILY_LOSS_LIMIT, a reducing order passes; the next trading day is ACTIVE again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountState, Side } from '@gateway/shared-state';
import { STATE_REASONS } from '@gateway/risk';
import { DAY_MS, startHarness, T0, waitFor, type Harness } from './harness';

const HALTED = AccountState.HALTED;
const REDUCING = AccountState.REDUCING;
const reasonCode = (r: (typeof STATE_REASONS)[number]): number => STATE_REASONS.indexOf(r);

describe('risk-manager: daily loss limit and restart (simulator)', () => {
  let h: Harness;
  const entry = (size = 1): string => h.entry(size);

  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('rebuilds the day before it reports ready and publishes the 50K Combine limits', async () => {
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot));
    const a = h.account();
    expect(a.state).toBe(AccountState.ACTIVE);
    expect([a.dllLimit, a.mllFloor, a.maxPositionUnits, a.maxOpenOrders, a.maxOrdersPerMinute]).toEqual([1_000 * 10_000, 48_000 * 10_000, 50, 20, 60]);
    expect(a.balance).toBe(50_000 * 10_000);
  });

  it('keeps positions and P&L across a killed risk-manager thread, denying RISK_NOT_READY in the gap', async () => {
    h.move(20_000);
    await h.market(0, 3);
    await h.market(1, 1);
    await waitFor('net 2 published', () => h.position().netSize === 2 && h.account().realizedGross !== 0);
    h.move(20_010);
    await waitFor('marked to 20010', () => h.account().unrealized > 0);
    const before = { a: h.account(), p: h.position() };
    expect(entry()).toBe('ALLOWED');

    await h.supervisor.kill('risk-manager');
    expect(h.runtime.state.accounts.isReady(h.accountSlot)).toBe(false);
    expect(entry()).toBe('RISK_NOT_READY');
    await h.supervisor.waitReady('risk-manager', 60_000);
    await waitFor('ready again', () => h.runtime.state.accounts.isReady(h.accountSlot));
    const after = { a: h.account(), p: h.position() };
    const pick = (x: typeof before): unknown => ({
      net: x.p.netSize,
      avg: x.p.avgPrice,
      realized: x.a.realizedGross,
      fees: x.a.fees,
      unrealized: x.a.unrealized,
      dayNet: x.a.dayNetPnl,
      balance: x.a.balance,
      units: x.a.positionUnits,
      state: x.a.state,
    });
    expect(pick(after)).toEqual(pick(before));
    expect(h.supervisor.status()[0]!.restarts).toBe(1);
  }, 90_000);

  it('goes REDUCING then HALTED on the daily loss limit, cancels, flattens, and denies entries DAILY_LOSS_LIMIT', async () => {
    // A working entry (limit far below) and a protective stop that closeContract would leave working.
    await h.runtime.rest.placeOrder({ accountId: 1001, contractId: h.contractId, type: 1, side: 0, size: 1, limitPrice: 18_000 });
    await waitFor('open order counted', () => h.account().openOrders === 1 && h.position().workingBuy === 1);
    h.move(19_790); // about −$840 on 2 lots: 80 % of the $1,000 DLL
    await waitFor('REDUCING', () => h.account().state === REDUCING);
    expect(entry()).toBe('REDUCE_ONLY');
    await h.runtime.rest.placeOrder({ accountId: 1001, contractId: h.contractId, type: 4, side: 1, size: 2, stopPrice: 19_400 });
    await waitFor('stop counted', () => h.position().workingSell === 2 && h.position().workingStopLoss > 0);

    h.move(19_735); // about −$1,060
    await waitFor('HALTED', () => h.account().state === HALTED);
    expect(h.account().reason).toBe(reasonCode('DAILY_LOSS_LIMIT'));
    await waitFor('flat at the broker, nothing working', () => h.brokerNet() === 0 && h.workingAtBroker() === 0);
    await waitFor('flat published', () => h.position().netSize === 0 && h.account().openOrders === 0);
    expect(entry()).toBe('DAILY_LOSS_LIMIT');
    const types = h.events.filter((e) => e.type === 'STATE_CHANGED').map((e) => `${e.to}:${e.reason}`);
    expect(types.indexOf('HALTED:DAILY_LOSS_LIMIT')).toBeGreaterThan(types.findIndex((t) => t.startsWith('REDUCING')));
    expect(h.account().dayNetPnl).toBeLessThanOrEqual(-1_000 * 10_000);
  }, 60_000);

  it('lets a reducing order through while halted, and flattens an outside position again', async () => {
    await h.market(0, 1); // an order placed outside the engine (the TopstepX UI)
    await waitFor('outside position published', () => h.position().netSize === 1, 10_000);
    const sell = h.gate.check({ accountSlot: h.accountSlot, contractSlot: h.contractSlot, side: Side.SELL, size: 1 });
    expect(sell.allowed).toBe(true);
    if (sell.allowed) h.gate.release(sell.reservation);
    expect(entry()).toBe('DAILY_LOSS_LIMIT');
    await waitFor('flattened again', () => h.brokerNet() === 0 && h.position().netSize === 0, 20_000);
    expect(h.events.some((e) => e.type === 'ENFORCEMENT_RETRY')).toBe(true);
  }, 40_000);

  it('is ACTIVE again on the next trading day', async () => {
    await h.setNow(T0 + DAY_MS);
    await waitFor('next day ACTIVE', () => h.account().state === AccountState.ACTIVE);
    expect(h.account().tradingDayId).toBe(20261203);
    expect(h.account().dayNetPnl).toBe(0);
    expect(entry()).toBe('ALLOWED');
    expect(h.events.some((e) => e.type === 'TRADING_DAY_ROLLED')).toBe(true);
  }, 30_000);
});
