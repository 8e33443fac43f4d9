import { describe, expect, it } from 'vitest';
import { COMBINE_50K, TestClock } from '@gateway/risk';
import { AccountState, allocateSharedState, attachSharedState, newAccountRecord, newPositionRecord } from '@gateway/shared-state';
import { ConfigError, limitsFromConfig, loadConfig } from '@gateway/runtime';
import { AccountRisk, type ContractEntry } from './account-risk';

const NOW = Date.UTC(2026, 11, 2, 16, 0); // Wed 10:00 CT
const MNQ = 'CON.F.US.MNQ.Z26';
const ES = 'CON.F.US.EP.Z26';
const ts = (ms: number): string => new Date(ms).toISOString();

function setup() {
  const state = attachSharedState(allocateSharedState({ contracts: 4, accounts: 1 }));
  const mnq = state.directory.register({ contractId: MNQ, tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const es = state.directory.register({ contractId: ES, tickSize: 250_000_000, tickValue: 125_000, weight: 10 });
  const slot = state.accounts.registerAccount(1001);
  const contracts = new Map<string, ContractEntry>([
    [MNQ, { slot: mnq, spec: { contractId: MNQ, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 5_000, isMicro: true } }],
    [ES, { slot: es, spec: { contractId: ES, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 125_000, isMicro: false } }],
  ]);
  const clock = new TestClock(NOW);
  const ar = new AccountRisk(1001, slot, COMBINE_50K, clock, (id) => contracts.get(id));
  ar.setBalance(50_000);
  return { state, mnq, es, slot, clock, ar };
}

describe('AccountRisk', () => {
  it('rebuilds a carried position under today\'s fills and forces the broker\'s size', () => {
    const { ar } = setup();
    // Long 1 carried from yesterday @ 20000, bought 1 more today @ 20010: the broker shows long 2.
    ar.rebuild(
      20261202,
      [{ id: 7, contractId: MNQ, creationTimestamp: ts(NOW - 60_000), price: 20_010, fees: 0.37, side: 0, size: 1, voided: false }],
      [{ contractId: MNQ, type: 1, size: 2, averagePrice: 20_005 }],
      [],
    );
    expect(ar.book.netSize(MNQ)).toBe(2);
    expect(ar.book.position(MNQ)!.avgPriceUnits).toBe(20_005 * 1e9);
    expect(ar.book.totals(() => undefined).dayFeesUnits).toBe(3_700);
    // A replayed hub trade with the same id changes nothing.
    expect(ar.applyTrade({ id: 7, contractId: MNQ, creationTimestamp: ts(NOW - 60_000), price: 20_010, fees: 0.37, side: 0, size: 1, voided: false })).toBe(false);
  });

  it('tells the contracts whose net size differs from the broker\'s open positions (short = −size)', () => {
    const { ar } = setup();
    ar.applyTrade({ id: 1, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0.37, side: 1, size: 2, voided: false });
    ar.applyTrade({ id: 2, contractId: ES, creationTimestamp: ts(NOW), price: 6_000, fees: 1.4, side: 0, size: 1, voided: false });
    // Same sizes, another average: no drift.
    const same = [
      { contractId: MNQ, type: 2, size: 2, averagePrice: 20_001 },
      { contractId: ES, type: 1, size: 1, averagePrice: 6_000 },
    ];
    expect(ar.positionDrift(same)).toEqual([]);
    // The broker's MNQ short is 3 (a lost sell fill), its ES position closed (a lost closing fill).
    expect(ar.positionDrift([{ contractId: MNQ, type: 2, size: 3, averagePrice: 20_000 }])).toEqual([
      { contractId: MNQ, brokerNet: -3, bookNet: -2, changedDuringRead: false },
      { contractId: ES, brokerNet: 0, bookNet: 1, changedDuringRead: false },
    ]);
    // A broker position on a contract the book never saw.
    const other = 'CON.F.US.GCE.Z26';
    expect(ar.positionDrift([...same, { contractId: other, type: 1, size: 1, averagePrice: 2_400 }])).toEqual([
      { contractId: other, brokerNet: 1, bookNet: 0, changedDuringRead: false },
    ]);
  });

  it('marks what changed while the broker was read: a fill on a contract, the balance, a rebuild', () => {
    const { ar } = setup();
    ar.applyTrade({ id: 1, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0.37, side: 0, size: 1, voided: false });
    ar.applyTrade({ id: 2, contractId: ES, creationTimestamp: ts(NOW), price: 6_000, fees: 1.4, side: 0, size: 1, voided: false });
    // The broker's answer was read when both were long 1; the read lost nothing.
    const read = [
      { contractId: MNQ, type: 1, size: 1, averagePrice: 20_000 },
      { contractId: ES, type: 1, size: 1, averagePrice: 6_000 },
    ];
    const since = ar.changes;
    // Meanwhile: an order event, a second MNQ fill. Only MNQ moved; the balance did not.
    expect(ar.applyOrderEvent({ id: 5, contractId: MNQ, status: 2, type: 2, side: 0, size: 1, fillVolume: 1, creationTimestamp: ts(NOW) })).toBe(true);
    expect(ar.changes).toBeGreaterThan(since);
    expect(ar.applyTrade({ id: 3, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_001, fees: 0.37, side: 0, size: 1, voided: false })).toBe(true);
    expect(ar.positionDrift(read, since)).toEqual([{ contractId: MNQ, brokerNet: 1, bookNet: 2, changedDuringRead: true }]);
    // A lost ES fill is a drift the read proves: ES did not change while it was read.
    expect(ar.positionDrift([read[0]!, { ...read[1]!, size: 2 }], since)).toEqual([
      { contractId: MNQ, brokerNet: 1, bookNet: 2, changedDuringRead: true },
      { contractId: ES, brokerNet: 2, bookNet: 1, changedDuringRead: false },
    ]);
    // A replayed trade changes nothing, so it moves nothing.
    const after = ar.changes;
    expect(ar.applyTrade({ id: 2, contractId: ES, creationTimestamp: ts(NOW), price: 6_000, fees: 1.4, side: 0, size: 1, voided: false })).toBe(false);
    expect(ar.changes).toBe(after);
    expect(ar.balanceChangedSince(since)).toBe(false);
    ar.setBalance(49_990);
    expect(ar.balanceChangedSince(since)).toBe(true);
    // A rebuild changes every contract.
    const beforeRebuild = ar.changes;
    ar.rebuild(20261202, [], [{ contractId: MNQ, type: 1, size: 2, averagePrice: 20_000.5 }, read[1]!], []);
    expect(ar.positionDrift([read[0]!, { ...read[1]!, size: 2 }], beforeRebuild)).toEqual([
      { contractId: MNQ, brokerNet: 1, bookNet: 2, changedDuringRead: true },
      { contractId: ES, brokerNet: 2, bookNet: 1, changedDuringRead: true },
    ]);
  });

  it('publishes working sizes, worst-case weighted exposure, open orders and P&L to shared memory', () => {
    const { state, ar, slot, mnq, es } = setup();
    ar.applyTrade({ id: 1, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0.37, side: 0, size: 2, voided: false });
    ar.applyOrder({ id: 10, contractId: MNQ, status: 1, type: 4, side: 1, size: 2, fillVolume: 0, stopPrice: 19_990 });
    ar.applyOrder({ id: 11, contractId: ES, status: 1, type: 1, side: 0, size: 2, fillVolume: 0 });
    ar.applyOrder({ id: 12, contractId: ES, status: 3, type: 1, side: 0, size: 9, fillVolume: 0 });
    state.marks.writeTrade(mnq, 20_010 * 1e9, NOW, NOW);
    ar.evaluate(state);
    ar.publish(state);
    const p = state.accounts.readPosition(slot, mnq, newPositionRecord());
    expect(p).toMatchObject({ netSize: 2, avgPrice: 20_000 * 1e9, workingBuy: 0, workingSell: 2, unrealized: 40 * 10_000, fees: 3_700 });
    // Stop 20 points under the mark on 2 lots: $80 more if it fills.
    expect(p.workingStopLoss).toBe(80 * 10_000);
    expect(state.accounts.readPosition(slot, es, newPositionRecord())).toMatchObject({ netSize: 0, workingBuy: 2, workingSell: 0 });
    const a = state.accounts.readAccount(slot, newAccountRecord());
    // MNQ: 1 × max(|2|, |2 − 2|) = 2; ES: 10 × max(|0 + 2|, 0) = 20.
    expect(a).toMatchObject({ state: AccountState.ACTIVE, positionUnits: 22, openOrders: 2, unrealized: 40 * 10_000, dayNetPnl: 40 * 10_000 - 3_700, maxPositionUnits: 50 });
    expect(a.headroom).toBe(1_000 * 10_000 + 40 * 10_000 - 3_700 - 80 * 10_000);
    // The ES order goes away: its position record is published as zero once.
    ar.applyOrder({ id: 11, contractId: ES, status: 3, type: 1, side: 0, size: 2, fillVolume: 0 });
    ar.evaluate(state);
    ar.publish(state);
    expect(state.accounts.readPosition(slot, es, newPositionRecord()).workingBuy).toBe(0);
    expect(state.accounts.readAccount(slot, newAccountRecord()).positionUnits).toBe(2);
  });

  it('keeps a filled order counted until its trade arrives, in either order', () => {
    const { state, ar, slot } = setup();
    const filled = { id: 20, contractId: MNQ, status: 2 as const, type: 2, side: 0, size: 3, fillVolume: 3 };
    ar.applyOrder({ ...filled, status: 1, fillVolume: 0 });
    ar.applyOrder(filled);
    ar.evaluate(state);
    ar.publish(state);
    expect(state.accounts.readAccount(slot, newAccountRecord()).positionUnits).toBe(3);
    ar.applyTrade({ id: 5, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0, side: 0, size: 3, voided: false, orderId: 20 });
    ar.evaluate(state);
    ar.publish(state);
    expect(state.accounts.readAccount(slot, newAccountRecord())).toMatchObject({ positionUnits: 3, openOrders: 0 });
    // Trade first, then the Filled order: counted once.
    ar.applyTrade({ id: 6, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0, side: 0, size: 1, voided: false, orderId: 21 });
    ar.applyOrder({ ...filled, id: 21, size: 1, fillVolume: 1 });
    ar.evaluate(state);
    ar.publish(state);
    expect(state.accounts.readAccount(slot, newAccountRecord())).toMatchObject({ positionUnits: 4, openOrders: 0 });
  });

  it('reports the write time of each new mark version publish() carried into an open position\'s P&L', () => {
    const { state, ar, mnq, es } = setup();
    ar.applyOrder({ id: 30, contractId: ES, status: 1, type: 1, side: 0, size: 1, fillVolume: 0 });
    const publish = (): number[] => {
      ar.evaluate(state);
      ar.publish(state);
      return [...ar.publishedMarkTimes];
    };
    state.marks.writeTrade(mnq, 20_000 * 1e9, NOW, NOW + 1);
    state.marks.writeTrade(es, 6_000 * 1e9, NOW, NOW + 1);
    expect(publish()).toEqual([]); // ES is published but flat; MNQ is not published at all
    ar.applyTrade({ id: 1, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0, side: 0, size: 1, voided: false });
    expect(publish()).toEqual([]); // MNQ's first read: a baseline, not a change
    state.marks.writeTrade(mnq, 20_001 * 1e9, NOW, NOW + 2);
    state.marks.writeTrade(es, 6_001 * 1e9, NOW, NOW + 2); // flat: its P&L does not come from the mark
    expect(publish()).toEqual([NOW + 2]);
    expect(publish()).toEqual([]); // the same version again
    state.marks.writeQuote(mnq, 20_000 * 1e9, 20_002 * 1e9, NOW + 2); // same millisecond, new values
    expect(publish()).toEqual([NOW + 2]);
  });

  it('halts on the kill switch without actions unless a flatten was asked', () => {
    const { state, ar, mnq } = setup();
    ar.applyTrade({ id: 1, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0, side: 0, size: 1, voided: false });
    state.marks.writeTrade(mnq, 20_000 * 1e9, NOW, NOW);
    ar.killSwitch = true;
    ar.haltFlatten = false;
    const ev = ar.evaluate(state);
    expect([ev.state, ev.reason, ev.actions.length]).toEqual(['HALTED', 'KILL_SWITCH', 0]);
    ar.killSwitch = false;
    expect(ar.evaluate(state).state).toBe('ACTIVE');
    ar.killSwitch = true;
    ar.haltFlatten = true;
    expect(ar.evaluate(state).actions.map((a) => a.type)).toEqual(['CANCEL_ALL_ORDERS', 'FLATTEN', 'SWEEP_CONTRACT_ORDERS']);
  });

  it('counts a closing fill\'s realised loss against the MLL before the broker\'s balance update arrives', () => {
    const { state, ar } = setup();
    ar.setBalance(48_500); // floor 48,000: $500 of MLL room
    expect(ar.evaluate(state).state).toBe('ACTIVE');
    // Long 1 ES closed 12 points lower: -$600 realised. The hub's account event (new balance) may come later or be lost.
    ar.applyTrade({ id: 1, contractId: ES, creationTimestamp: ts(NOW), price: 6_000, fees: 0, side: 0, size: 1, voided: false });
    ar.applyTrade({ id: 2, contractId: ES, creationTimestamp: ts(NOW), price: 5_988, fees: 0, side: 1, size: 1, voided: false });
    const ev = ar.evaluate(state);
    expect([ev.state, ev.reason]).toEqual(['HALTED', 'MAX_LOSS_LIMIT']);
    expect(ev.headroom.mllRemainingUnits).toBe(-100 * 10_000);
    // The balance event brings the same loss: it is not counted twice.
    ar.setBalance(47_900);
    expect(ar.evaluate(state).headroom.mllRemainingUnits).toBe(-100 * 10_000);
  });

  it('enforces at once when a loss limit halts an account the kill switch already halted without flatten', () => {
    const { state, ar, es, clock } = setup();
    ar.applyTrade({ id: 1, contractId: ES, creationTimestamp: ts(NOW), price: 6_000, fees: 0, side: 0, size: 1, voided: false });
    state.marks.writeTrade(es, 6_000 * 1e9, NOW, NOW);
    ar.killSwitch = true;
    ar.haltFlatten = false;
    expect(ar.evaluate(state).actions).toHaveLength(0);
    clock.advance(500);
    state.marks.writeTrade(es, 5_960 * 1e9, NOW + 500, NOW + 500); // -$2,000: equity at the floor
    const ev = ar.evaluate(state);
    expect([ev.state, ev.reason]).toEqual(['HALTED', 'MAX_LOSS_LIMIT']);
    expect(ev.actions.map((a) => a.type)).toEqual(['CANCEL_ALL_ORDERS', 'FLATTEN', 'SWEEP_CONTRACT_ORDERS']);
  });

  it('still auto-flattens at 15:08 CT while the kill switch is on without flatten', () => {
    const { state, ar, mnq, clock } = setup();
    ar.applyTrade({ id: 1, contractId: MNQ, creationTimestamp: ts(NOW), price: 20_000, fees: 0, side: 0, size: 1, voided: false });
    state.marks.writeTrade(mnq, 20_000 * 1e9, NOW, NOW);
    ar.killSwitch = true;
    ar.haltFlatten = false;
    expect(ar.evaluate(state).actions).toHaveLength(0);
    clock.set(Date.UTC(2026, 11, 2, 21, 8)); // 15:08 CT
    expect(ar.evaluate(state).actions.map((a) => a.type)).toEqual(['CANCEL_ALL_ORDERS', 'FLATTEN', 'SWEEP_CONTRACT_ORDERS']);
  });
});

describe('limitsFromConfig', () => {
  it('defaults to the 50K Combine and applies RISK_* overrides in engine units', () => {
    expect(limitsFromConfig(loadConfig({}).risk)).toEqual(COMBINE_50K);
    const l = limitsFromConfig(loadConfig({ RISK_DLL: '0', RISK_MAX_POSITION: '3', RISK_MICROS_AS_TENTHS: 'false', RISK_REDUCE_AT: '0.5', RISK_FLATTEN_MINUTES_BEFORE_CLOSE: '5' }).risk);
    expect(l).toMatchObject({ dailyLossLimitUnits: 0, maxPositionUnits: 30, microWeighting: false, reduceAt: 0.5, flattenMinutesBeforeClose: 5 });
    expect(limitsFromConfig(loadConfig({ RISK_PRESET: '100K' }).risk).maxLossDrawdownUnits).toBe(3_000 * 10_000);
  });

  it('reads RISK_RECONCILE_INTERVAL_MS: 30 s by default, 0 turns the drift check off', () => {
    expect(loadConfig({}).risk.reconcileIntervalMs).toBe(30_000);
    expect(loadConfig({ RISK_RECONCILE_INTERVAL_MS: '0' }).risk.reconcileIntervalMs).toBe(0);
    expect(loadConfig({ RISK_RECONCILE_INTERVAL_MS: '100' }).risk.reconcileIntervalMs).toBe(100);
  });

  it('names the RISK_* key of a bad value', () => {
    expect(() => loadConfig({ RISK_PRESET: '75K' })).toThrow(/^RISK_PRESET: /);
    expect(() => loadConfig({ RISK_REDUCE_AT: '1.5' })).toThrow(/^RISK_REDUCE_AT: /);
    expect(() => loadConfig({ RISK_MAX_POSITION: '-1' })).toThrow(/^RISK_MAX_POSITION: /);
    for (const bad of ['50', '-1', '1.5', 'soon', '3600001']) {
      expect(() => loadConfig({ RISK_RECONCILE_INTERVAL_MS: bad })).toThrow(/^RISK_RECONCILE_INTERVAL_MS: /);
    }
    let err: unknown;
    try {
      limitsFromConfig(loadConfig({ RISK_MLL: '60000' }).risk);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe('RISK_MLL');
  });
});
