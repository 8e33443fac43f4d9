// Acceptance, a position in a contract outside CONTRACTS, with the real worker against the simulator: only MNQ
// is configured (it alone has a directory slot and shared marks) and a long MES is opened by REST, as from the
// TopstepX UI. The risk-manager opens its own market-hub connection for it: while it has no price (feed frozen)
// the account is REDUCING, UNPRICED_POSITION, and entries are denied; once priced, a move against it changes the
// published P&L, and a loss on it large enough reaches the daily loss limit (HALTED, flattened, unsubscribed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountState, Side } from '@gateway/shared-state';
import { STATE_REASONS } from '@gateway/risk';
import type { RiskStateView } from '../src/account-risk';
import { ACCOUNT_ID, startHarness, waitFor, type Harness } from './harness';

const UNPRICED = STATE_REASONS.indexOf('UNPRICED_POSITION');
const METRIC = 'risk_unpriced_positions';
/** MES: a tick of 0.25 is worth $1.25, in money units (1e-4 USD). */
const TICK_UNITS = 250_000_000;
const TICK_VALUE = 12_500;
const SIZE = 2;

describe('risk-manager: a position outside CONTRACTS (simulator)', () => {
  let h: Harness;
  let mes: string;
  const invocations: Array<{ target: string; contractId: unknown }> = [];
  const invoked = (target: string): boolean => invocations.some((i) => i.target === target.toLowerCase() && i.contractId === mes);
  const entry = (): string => h.entry();

  /** The gauge in the worker's registry (labels app="risk-manager"). */
  const unpricedGauge = async (): Promise<number> => {
    const [json] = await h.supervisor.collectMetrics(10_000);
    const metric = json?.find((m) => m.name === METRIC);
    if (metric === undefined) throw new Error(`${METRIC} is not in the risk-manager's registry`);
    return metric.values[0]?.value ?? Number.NaN;
  };
  const view = async (): Promise<RiskStateView> => (await h.supervisor.request('risk-manager', 'getRiskState', {})) as RiskStateView;

  beforeAll(async () => {
    // A stale threshold well above any pause of a slow run: staleness itself is unit-tested (outside-prices.spec.ts).
    h = await startHarness({ STALE_AFTER_MS: '60000' });
    // Same listing months as MNQ: the simulator's front MES contract.
    mes = h.contractId.replace('.MNQ.', '.MES.');
    h.sim.on('hubInvocation', (e) => {
      if (e.hub === 'market') invocations.push({ target: e.target.toLowerCase(), contractId: e.args[0] });
    });
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
    h.move(20_000);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('denies entries (UNPRICED_POSITION) while the position has no price, however long its feed stays frozen', async () => {
    expect(mes).not.toBe(h.contractId);
    expect(h.runtime.state.directory.slotOf(mes)).toBe(-1);
    expect(entry()).toBe('ALLOWED');
    // Lazy: no market-hub connection of the risk-manager before a position needs one.
    expect(h.sim.hubConnections('market')).toBe(0);

    h.sim.faults.set({ feedFrozen: true });
    await h.runtime.rest.placeOrder({ accountId: ACCOUNT_ID, contractId: mes, type: 2, side: 0, size: SIZE });
    await waitFor('REDUCING, UNPRICED_POSITION', () => h.account().state === AccountState.REDUCING && h.account().reason === UNPRICED);
    const denied = h.gate.check({ accountSlot: h.accountSlot, contractSlot: h.contractSlot, side: Side.BUY, size: 1 });
    expect(denied).toMatchObject({ allowed: false, reason: 'REDUCE_ONLY', detail: expect.stringMatching(/UNPRICED_POSITION/) });

    // Its own connection, subscribed to trades and quotes of exactly that contract.
    await waitFor('MES subscribed on the market hub', () => invoked('SubscribeContractTrades') && invoked('SubscribeContractQuotes'));
    expect(h.sim.hubConnections('market')).toBe(1);
    expect(invocations.every((i) => i.contractId === mes)).toBe(true);

    // The market moves, the frozen feed delivers nothing: still unpriced many evaluations later.
    h.sim.setPrice(mes, 6_001);
    const since = h.account().updatedMs;
    await waitFor('ten more evaluations', () => h.account().updatedMs >= since + 500);
    expect([h.account().state, h.account().reason]).toEqual([AccountState.REDUCING, UNPRICED]);
    expect(entry()).toBe('REDUCE_ONLY');
    expect((await view()).positions).toEqual([expect.objectContaining({ contractId: mes, netSize: SIZE, markUnits: null, unrealizedUnits: null })]);
    expect(await unpricedGauge()).toBe(1);

    // The feed comes back: the next trade prices the position and the account takes risk again.
    h.sim.faults.set({ feedFrozen: false });
    h.sim.setPrice(mes, 6_002);
    await waitFor('ACTIVE once priced', () => h.account().state === AccountState.ACTIVE);
    expect(h.account().reason).toBe(STATE_REASONS.indexOf('NONE'));
    expect(entry()).toBe('ALLOWED');
    expect(await unpricedGauge()).toBe(0);
  }, 60_000);

  it('publishes the P&L of the position from its own feed: a move against it lowers unrealized and day net P&L', async () => {
    const pos = (await view()).positions.find((p) => p.contractId === mes)!;
    const pnlAt = (price: number): number => ((price * 1e9 - pos.avgPriceUnits) / TICK_UNITS) * TICK_VALUE * SIZE;
    h.sim.setPrice(mes, 5_990);
    await waitFor('marked at 5990', () => h.account().unrealized === pnlAt(5_990));
    const a = h.account();
    expect(a.unrealized).toBeLessThan(0);
    expect(a.dayNetPnl).toBe(a.realizedGross - a.fees + pnlAt(5_990));
    h.sim.setPrice(mes, 5_980);
    await waitFor('marked at 5980', () => h.account().unrealized === pnlAt(5_980));
    expect(h.account().dayNetPnl).toBe(a.dayNetPnl - 10 * 4 * TICK_VALUE * SIZE);
  }, 30_000);

  it('reaches the daily loss limit on a loss in that contract: REDUCING, HALTED, flattened, unsubscribed', async () => {
    const avg = (await view()).positions.find((p) => p.contractId === mes)!.avgPriceUnits / 1e9;
    // 2 lots at $10 a point: 85 points is −$850 (85 % of the $1,000 DLL), 105 points −$1,050.
    h.sim.setPrice(mes, Math.round(avg) - 85);
    await waitFor('REDUCING by the DLL', () => h.account().state === AccountState.REDUCING && h.account().reason === STATE_REASONS.indexOf('DAILY_LOSS_LIMIT'));
    expect(entry()).toBe('REDUCE_ONLY');
    h.sim.setPrice(mes, Math.round(avg) - 105);
    await waitFor('HALTED by the DLL', () => h.account().state === AccountState.HALTED);
    expect(h.account().reason).toBe(STATE_REASONS.indexOf('DAILY_LOSS_LIMIT'));
    await waitFor('flat at the broker', () => h.brokerNet() === 0 && h.workingAtBroker() === 0);
    await waitFor('flat published', () => h.account().positionUnits === 0 && h.account().unrealized === 0);
    expect(h.account().dayNetPnl).toBeLessThanOrEqual(-1_000 * 10_000);
    expect(entry()).toBe('DAILY_LOSS_LIMIT');
    // No account holds it any more: the feed is dropped.
    await waitFor('MES unsubscribed', () => invoked('UnsubscribeContractTrades') && invoked('UnsubscribeContractQuotes'));
    expect(await unpricedGauge()).toBe(0);
  }, 60_000);
});
