// Contracts outside the directory (no shared mark): OutsidePrices keeps the latest price of the risk-manager's
// own feed, and AccountRisk values such a position by it, keeps the account REDUCING (UNPRICED_POSITION) while
// it has no usable price, and reports each change once.
import { describe, expect, it } from 'vitest';
import { COMBINE_50K, STATE_REASONS, TestClock } from '@gateway/risk';
import { AccountState, allocateSharedState, attachSharedState, newAccountRecord } from '@gateway/shared-state';
import { AccountRisk, type ContractEntry } from './account-risk';
import { OutsidePrices } from './outside-prices';

const NOW = Date.UTC(2026, 11, 2, 16, 0); // Wed 10:00 CT
const MNQ = 'CON.F.US.MNQ.Z26';
const MES = 'CON.F.US.MES.Z26';
const ts = (ms: number): string => new Date(ms).toISOString();
const px = (dollars: number): number => dollars * 1e9;
const STALE_MS = 5_000;

function setup() {
  const wall = { ms: NOW };
  const session = { open: true };
  const prices = new OutsidePrices({ staleAfterMs: STALE_MS, now: () => wall.ms, sessionOpen: () => session.open });
  const state = attachSharedState(allocateSharedState({ contracts: 2, accounts: 1 }));
  const mnq = state.directory.register({ contractId: MNQ, tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const slot = state.accounts.registerAccount(1001);
  const contracts = new Map<string, ContractEntry>([
    [MNQ, { slot: mnq, spec: { contractId: MNQ, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 5_000, isMicro: true } }],
    // MES $1.25 a tick of 0.25, not in the directory.
    [MES, { slot: -1, root: 'MES', spec: { contractId: MES, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 12_500, isMicro: true } }],
  ]);
  const ar = new AccountRisk(1001, slot, COMBINE_50K, new TestClock(NOW), (id) => contracts.get(id), undefined, prices);
  ar.setBalance(50_000);
  const run = () => {
    const ev = ar.evaluate(state);
    ar.publish(state);
    return { ev, account: state.accounts.readAccount(slot, newAccountRecord()) };
  };
  return { wall, session, prices, state, mnq, ar, run };
}

describe('OutsidePrices', () => {
  it('gives the last trade, else the quote mid, and follows the newest print by exchange time', () => {
    const { prices } = setup();
    prices.trade(MES, px(6000), NOW);
    expect(prices.price(MES)).toBeUndefined(); // not watched
    prices.watch(MES);
    expect([prices.price(MES), prices.usable(MES)]).toEqual([undefined, false]);
    prices.quote(MES, px(6000), px(6000.5));
    expect(prices.price(MES)).toBe(6000.25 * 1e9);
    prices.trade(MES, px(6001), NOW - 10);
    expect(prices.price(MES)).toBe(px(6001));
    prices.trade(MES, px(5999), NOW - 20); // older print: ignored
    expect(prices.price(MES)).toBe(px(6001));
    prices.trade(MES, px(5998), Number.NaN); // unparsable timestamp: ignored
    expect(prices.price(MES)).toBe(px(6001));
    prices.forget(MES);
    expect(prices.price(MES)).toBeUndefined();
  });

  it('is usable until STALE_AFTER_MS without an update while the session is open', () => {
    const { prices, wall, session } = setup();
    prices.watch(MES);
    prices.quote(MES, px(6000), px(6000.25));
    wall.ms += STALE_MS;
    expect(prices.usable(MES)).toBe(true);
    wall.ms += 1;
    expect(prices.usable(MES)).toBe(false);
    session.open = false; // nothing is due while the market is closed
    expect(prices.usable(MES)).toBe(true);
    session.open = true;
    prices.trade(MES, px(6001), wall.ms);
    expect(prices.usable(MES)).toBe(true);
  });
});

describe('AccountRisk with a position outside the directory', () => {
  it('is REDUCING (UNPRICED_POSITION) until the position is priced, values it then, and reports each change once', () => {
    const { ar, run, prices, wall, state } = setup();
    ar.applyTrade({ id: 1, contractId: MES, creationTimestamp: ts(NOW), price: 6_000, fees: 0.37, side: 0, size: 2, voided: false });
    let r = run();
    expect([r.ev.state, r.ev.reason]).toEqual(['REDUCING', 'UNPRICED_POSITION']);
    expect(r.account).toMatchObject({ state: AccountState.REDUCING, reason: STATE_REASONS.indexOf('UNPRICED_POSITION'), unrealized: 0 });
    expect([...ar.outsideOpen, ...ar.unpriced]).toEqual([MES, MES]);
    expect(ar.unpricedChanges).toEqual([{ contractId: MES, change: 'unpriced' }]);
    expect(ar.view(state).positions).toEqual([{ contractId: MES, netSize: 2, avgPriceUnits: px(6000), markUnits: null, unrealizedUnits: null }]);
    run();
    expect(ar.unpricedChanges).toEqual([]);

    // The app watches it; the first price arrives: 2 lots × 4 ticks × $1.25 = −$10.
    prices.watch(MES);
    prices.trade(MES, px(5999), wall.ms);
    r = run();
    expect([r.ev.state, r.ev.reason]).toEqual(['ACTIVE', 'NONE']);
    expect(r.account).toMatchObject({ state: AccountState.ACTIVE, unrealized: -10 * 10_000, dayNetPnl: -10 * 10_000 - 3_700 });
    expect(ar.unpricedChanges).toEqual([{ contractId: MES, change: 'priced' }]);

    // Stale: REDUCING again, still valued at the last price known.
    wall.ms += STALE_MS + 1;
    r = run();
    expect([r.ev.state, r.ev.reason, r.account.unrealized]).toEqual(['REDUCING', 'UNPRICED_POSITION', -10 * 10_000]);
    expect(ar.unpricedChanges).toEqual([{ contractId: MES, change: 'unpriced' }]);

    // Closed while unpriced: out of both sets, ACTIVE.
    ar.applyTrade({ id: 2, contractId: MES, creationTimestamp: ts(NOW + 1), price: 5_999, fees: 0.37, side: 1, size: 2, voided: false });
    r = run();
    expect([r.ev.state, ar.outsideOpen.size, ar.unpriced.size]).toEqual(['ACTIVE', 0, 0]);
    expect(ar.unpricedChanges).toEqual([{ contractId: MES, change: 'closed' }]);
  });

  it('lets the daily loss limit halt through an outside position priced by the feed', () => {
    const { ar, run, prices, wall } = setup();
    prices.watch(MES);
    prices.trade(MES, px(6000), wall.ms);
    ar.applyTrade({ id: 1, contractId: MES, creationTimestamp: ts(NOW), price: 6_000, fees: 0, side: 0, size: 4, voided: false });
    expect(run().ev.state).toBe('ACTIVE');
    // 4 lots × 50 points × $5 = −$1,000: the DLL.
    prices.trade(MES, px(5950), wall.ms);
    const r = run();
    expect([r.ev.state, r.ev.reason]).toEqual(['HALTED', 'DAILY_LOSS_LIMIT']);
    expect(r.ev.actions.filter((a) => a.type === 'FLATTEN')).toEqual([{ type: 'FLATTEN', accountId: 1001, contractId: MES, reason: 'DAILY_LOSS_LIMIT' }]);
  });

  it('judges positions in directory contracts by the shared marks (no outside price consulted)', () => {
    const { ar, run, state, mnq } = setup();
    ar.applyTrade({ id: 1, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0, side: 0, size: 1, voided: false });
    // No mark yet: unpriced like an outside position, but from the shared marks (no outside feed watches it).
    const first = run();
    expect([first.ev.state, first.ev.reason, [...ar.staleHeld], ar.outsideOpen.size, ar.unpriced.size]).toEqual(['REDUCING', 'UNPRICED_POSITION', [MNQ], 0, 0]);
    state.marks.writeTrade(mnq, px(20_010), NOW, NOW);
    const r = run();
    expect([r.ev.state, r.account.unrealized, ar.outsideOpen.size]).toEqual(['ACTIVE', 20 * 10_000, 0]);
  });
});
