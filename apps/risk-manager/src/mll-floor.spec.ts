// The trailing MLL floor after a first start or a restart across 17:00 CT (from a hostile review: both tests below
// failed with the engine's floor at $48,000 and the account ACTIVE). Topstep trails the floor from
// every end-of-day balance; the balance at the start of a trading day (broker balance − today's realised net) IS the
// previous day's end-of-day balance, so Topstep's floor is at least min(startingBalance, startOfDayBalance − drawdown).
// The engine trailed only from balances it saw itself while running over 17:00 CT (AccountRiskMachine.lastBalance,
// persisted only when a state event happens), so after a first start or a restart across the day boundary its floor was
// below Topstep's and the account could be liquidated (rule broken) while the engine showed it ACTIVE. Now the REST
// rebuild's start-of-day balance trails it too (beginDayFromRebuild → AccountRiskMachine.startOfDay), and RISK_MLL_FLOOR
// can give the dashboard's floor.
// Driven the way app.ts drives AccountRisk: rebuild → beginDayFromRebuild → evaluate → publish, and the
// risk-state-<account>.json written (JSON) only after an evaluation that returned events.
import { describe, expect, it } from 'vitest';
import { parseRiskLimits, TestClock, type RiskLimits } from '@gateway/risk';
import { limitsFromConfig, loadConfig } from '@gateway/runtime';
import { chicagoToEpoch, tradingDayOf } from '@gateway/session';
import { allocateSharedState, attachSharedState, type SharedState } from '@gateway/shared-state';
import { AccountRisk, type ContractEntry, type PersistedRisk, type PositionRow, type TradeRow } from './account-risk';
import { readDayWithBalance } from './account-risk-reads';

const ES = 'CON.F.US.EP.Z26';
const USD = 10_000;
// TopstepX accounts created since 2024-08-25 have no DLL: the MLL is the limit that breaks the account.
const LIMITS = parseRiskLimits({ dailyLossLimitUnits: 0 });
const ct = (d: number, h: number, mi = 0, s = 0): number => chicagoToEpoch(2026, 12, d, h, mi, s);
const iso = (ms: number): string => new Date(ms).toISOString();

function world(limits: RiskLimits = LIMITS) {
  const state = attachSharedState(allocateSharedState({ contracts: 2, accounts: 1 }));
  const es = state.directory.register({ contractId: ES, tickSize: 250_000_000, tickValue: 125_000, weight: 10 });
  const slot = state.accounts.registerAccount(1001);
  const contracts = new Map<string, ContractEntry>([[ES, { slot: es, spec: { contractId: ES, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 125_000, isMicro: false } }]]);
  const clock = new TestClock(ct(1, 10));
  let file: PersistedRisk | undefined;
  const start = (balanceUsd: number): AccountRisk => {
    const ar = new AccountRisk(1001, slot, limits, clock, (id) => contracts.get(id), file === undefined ? undefined : (JSON.parse(JSON.stringify(file)) as PersistedRisk));
    const day = tradingDayOf(clock.now()).id;
    ar.setBalance(balanceUsd);
    ar.rebuild(day, [], [], []);
    ar.beginDayFromRebuild(day);
    run(ar);
    return ar;
  };
  const run = (ar: AccountRisk) => {
    const ev = ar.evaluate(state);
    ar.publish(state);
    if (ev.events.length > 0) file = ar.persisted();
    return ev;
  };
  return { state, es, clock, start, run };
}

function mark(state: SharedState, slot: number, price: number, ms: number): void {
  state.marks.writeTrade(slot, price * 1e9, ms, ms);
}

describe('trailing MLL floor vs the broker balance', () => {
  it('restart across 17:00 CT: the floor trails the end-of-day balance of the day the engine did not see close', () => {
    const w = world();
    // Tuesday: first start, flat $50,000; the 17:00 CT roll is a state event, so the file is written then.
    const tue = w.start(50_000);
    w.clock.set(ct(1, 17, 0, 1));
    expect(w.run(tue).events.map((e) => e.type)).toContain('TRADING_DAY_ROLLED');
    // Wednesday: +30 ES points, 1 lot: +$1,500 − $2.80 fees. No state event all day (ACTIVE throughout).
    w.clock.set(ct(2, 9));
    tue.applyTrade({ id: 1, contractId: ES, creationTimestamp: iso(w.clock.now()), price: 6000, fees: 1.4, side: 0, size: 1, voided: false });
    tue.applyTrade({ id: 2, contractId: ES, creationTimestamp: iso(w.clock.now()), price: 6030, fees: 1.4, side: 1, size: 1, voided: false });
    tue.setBalance(51_497.2);
    w.run(tue);
    // The engine stops at 14:00 CT Wednesday and starts again Thursday 08:00 CT. Wednesday closed at $51,497.20, so
    // Topstep's floor is now $49,497.20.
    w.clock.set(ct(3, 8));
    const thu = w.start(51_497.2);
    // Thursday: long 1 ES at 6000, marked 5960: −$2,000 open, equity $49,495.80, under Topstep's floor.
    w.clock.set(ct(3, 9));
    thu.applyTrade({ id: 3, contractId: ES, creationTimestamp: iso(w.clock.now()), price: 6000, fees: 1.4, side: 0, size: 1, voided: false });
    thu.setBalance(51_495.8);
    mark(w.state, w.es, 5960, w.clock.now());
    const ev = w.run(thu);
    expect({ floor: ev.mllFloorUnits, state: ev.state, reason: ev.reason }).toEqual({ floor: 49_497.2 * USD, state: 'HALTED', reason: 'MAX_LOSS_LIMIT' });
  });

  it('first start on an account already above its starting balance: the floor is at least start-of-day balance − drawdown', () => {
    const w = world();
    // The account made $2,000 on earlier days (before the engine was installed, or its DATA_DIR was lost):
    // yesterday closed at $52,000, so Topstep's floor is locked at $50,000.
    w.clock.set(ct(3, 8));
    const ar = w.start(52_000);
    w.clock.set(ct(3, 9));
    ar.applyTrade({ id: 1, contractId: ES, creationTimestamp: iso(w.clock.now()), price: 6000, fees: 1.4, side: 0, size: 1, voided: false });
    ar.setBalance(51_998.6);
    // −42 points: −$2,100 open, equity $49,898.60: Topstep liquidates the account (rule broken).
    mark(w.state, w.es, 5958, w.clock.now());
    const ev = w.run(ar);
    expect({ floor: ev.mllFloorUnits, state: ev.state, reason: ev.reason }).toEqual({ floor: 50_000 * USD, state: 'HALTED', reason: 'MAX_LOSS_LIMIT' });
  });

  it('writes the floor and the end-of-day high of every roll to the risk-state file (the roll is an event)', () => {
    const w = world();
    const ar = w.start(50_000);
    // +16 ES points, 1 lot, no fees: +$800.
    ar.applyTrade({ id: 1, contractId: ES, creationTimestamp: iso(w.clock.now()), price: 6000, fees: 0, side: 0, size: 1, voided: false });
    ar.applyTrade({ id: 2, contractId: ES, creationTimestamp: iso(w.clock.now()), price: 6016, fees: 0, side: 1, size: 1, voided: false });
    ar.setBalance(50_800);
    expect(w.run(ar).events).toEqual([]);
    w.clock.set(ct(1, 17, 0, 1));
    expect(w.run(ar).events.map((e) => e.type)).toEqual(['MLL_FLOOR_UPDATED', 'TRADING_DAY_ROLLED']);
    expect(ar.persisted().machine.mll).toMatchObject({ eodHighUnits: 50_800 * USD, floorUnits: 48_800 * USD });
  });

  it('takes a lower start-of-day balance without lowering the floor', () => {
    const w = world();
    w.clock.set(ct(3, 8));
    expect(w.run(w.start(49_000)).mllFloorUnits).toBe(48_000 * USD);
  });
});

describe('RISK_MLL_FLOOR: the floor from the Topstep dashboard', () => {
  it('parses dollars and cents and raises the floor at the start, never lowering one the engine knows', () => {
    expect(loadConfig({ RISK_MLL_FLOOR: '49497.2' }).risk.mllFloorUnits).toBe(49_497.2 * USD);
    const limits = limitsFromConfig(loadConfig({ RISK_DLL: '0', RISK_MLL_FLOOR: '49497.20' }).risk);
    expect(limits.knownMllFloorUnits).toBe(49_497.2 * USD);
    const w = world(limits);
    w.clock.set(ct(3, 8));
    expect(w.run(w.start(50_100)).mllFloorUnits).toBe(49_497.2 * USD);
    // The start-of-day balance says more: it wins (the floor only rises).
    const v = world(limits);
    v.clock.set(ct(3, 8));
    expect(v.run(v.start(51_800)).mllFloorUnits).toBe(49_800 * USD);
  });

  it('refuses a floor outside startingBalance − drawdown … startingBalance, or not a dollar amount, naming the key', () => {
    for (const bad of ['47999.99', '50000.01']) expect(() => limitsFromConfig(loadConfig({ RISK_MLL_FLOOR: bad }).risk)).toThrow(/^RISK_MLL_FLOOR: /);
    for (const bad of ['-49000', '49000.123', '49,000', 'soon']) expect(() => loadConfig({ RISK_MLL_FLOOR: bad })).toThrow(/^RISK_MLL_FLOOR: /);
    expect(loadConfig({}).risk.mllFloorUnits).toBeUndefined();
  });
});

// Review finding: fetchDay read the positions, orders and trades, then the balance. A fill between them is in the
// balance but not in the replay, and the overstated start-of-day balance went straight into the floor, which never
// comes down: a restart mid-day with a bracket's take-profit resting could floor a healthy account too high, then halt
// it MAX_LOSS_LIMIT (sticky) and flatten it. The balance is now read before and after the rows
// (readDayWithBalance), and the floor trails from the rebuild only when the two agree. Driven the way app.ts drives
// AccountRisk: fetchDay's reads, then applyDay (setBalance → rebuild → beginDayFromRebuild), then hub events.
describe('MLL floor from a rebuild whose reads a fill interleaves', () => {
  /** Thursday 09:00 CT, first start; Wednesday closed at $50,000: Topstep's floor is $48,000. */
  function restart() {
    const state = attachSharedState(allocateSharedState({ contracts: 2, accounts: 1 }));
    const es = state.directory.register({ contractId: ES, tickSize: 250_000_000, tickValue: 125_000, weight: 10 });
    const slot = state.accounts.registerAccount(1001);
    const contracts = new Map<string, ContractEntry>([[ES, { slot: es, spec: { contractId: ES, tickSizeUnits: 250_000_000, tickValueMoneyUnits: 125_000, isMicro: false } }]]);
    const clock = new TestClock(ct(3, 9));
    const ar = new AccountRisk(1001, slot, LIMITS, clock, (id) => contracts.get(id));
    const day = tradingDayOf(clock.now()).id;
    const buy: TradeRow = { id: 1, contractId: ES, creationTimestamp: iso(ct(3, 8, 30)), price: 6000, fees: 1.4, side: 0, size: 1, voided: false };
    const takeProfit: TradeRow = { id: 2, contractId: ES, creationTimestamp: iso(ct(3, 9)), price: 6030, fees: 1.4, side: 1, size: 1, voided: false };
    // The broker: long 1 ES since 08:30 (balance 50,000 − 2.80); its take-profit (+30 points, +$1,500) fills when
    // `fillAfterRowReads` row reads are done, before the balance read that follows them.
    const broker = (fillAfterRowReads: number | undefined) => {
      let filled = false;
      let rowReads = 0;
      const calls = { balance: 0, rows: 0 };
      const steps = {
        balance: async () => {
          calls.balance++;
          return filled ? 51_497.2 : 49_997.2;
        },
        rows: async (): Promise<[PositionRow[], TradeRow[]]> => {
          calls.rows++;
          const rows: [PositionRow[], TradeRow[]] = filled ? [[], [buy, takeProfit]] : [[{ contractId: ES, type: 1, size: 1, averagePrice: 6000 }], [buy]];
          if (++rowReads === fillAfterRowReads) filled = true;
          return rows;
        },
      };
      return { steps, calls };
    };
    const applyDay = (read: { rows: [PositionRow[], TradeRow[]]; balance: number | undefined; balanceSettled: boolean }) => {
      if (read.balance !== undefined) ar.setBalance(read.balance);
      ar.rebuild(day, read.rows[1], read.rows[0], []);
      ar.beginDayFromRebuild(day, read.balanceSettled);
    };
    const evaluate = () => {
      // The exit's hub event arrives right after the rebuild (idempotent by id): the book is exact.
      ar.applyTrade(takeProfit);
      const ev = ar.evaluate(state);
      ar.publish(state);
      return ev;
    };
    return { ar, broker, applyDay, evaluate };
  }

  it('reads the day again when the take-profit fills between the trades and the balance, and trails from the consistent pair', async () => {
    const r = restart();
    const b = r.broker(1);
    const read = await readDayWithBalance(b.steps);
    // One more balance read than before the fix (5 REST calls), and the rows again (4 more) only because a fill landed.
    expect({ settled: read.balanceSettled, attempts: read.attempts, calls: b.calls }).toEqual({ settled: true, attempts: 2, calls: { balance: 3, rows: 2 } });
    r.applyDay(read);
    const ev = r.evaluate();
    expect({ floor: ev.mllFloorUnits, startOfDay: r.ar.startOfDayBalanceUnits, state: ev.state }).toEqual({ floor: 48_000 * USD, startOfDay: 50_000 * USD, state: 'ACTIVE' });
  });

  it('does not raise the floor by the profit of a fill when the balance never agrees with the trades', async () => {
    const r = restart();
    const b = r.broker(1);
    // One attempt: the pair differs (49,997.20 before, 51,497.20 after, the trades without the exit). Before the fix
    // the start-of-day balance 51,500 trailed the floor to $49,500.
    const read = await readDayWithBalance(b.steps, 1);
    expect({ settled: read.balanceSettled, balance: read.balance }).toEqual({ settled: false, balance: 51_497.2 });
    r.applyDay(read);
    const ev = r.evaluate();
    expect({ floor: ev.mllFloorUnits, state: ev.state }).toEqual({ floor: 48_000 * USD, state: 'ACTIVE' });
  });

  it('trails from a pair that agrees on the first attempt (no fill during the reads): 5 REST calls', async () => {
    const r = restart();
    const b = r.broker(undefined);
    const read = await readDayWithBalance(b.steps);
    expect({ settled: read.balanceSettled, attempts: read.attempts, calls: b.calls }).toEqual({ settled: true, attempts: 1, calls: { balance: 2, rows: 1 } });
  });

  it('stops after DAY_READ_ATTEMPTS pairs, and never settles on a balance the broker did not list', async () => {
    let balance = 50_000;
    let rows = 0;
    const moving = await readDayWithBalance({ balance: async () => (balance += 1), rows: async () => ++rows });
    expect({ settled: moving.balanceSettled, attempts: moving.attempts, rows }).toEqual({ settled: false, attempts: 2, rows: 2 });
    const unlisted = await readDayWithBalance({ balance: async () => undefined, rows: async () => 0 });
    expect({ settled: unlisted.balanceSettled, attempts: unlisted.attempts }).toEqual({ settled: false, attempts: 2 });
    await expect(readDayWithBalance({ balance: async () => 1, rows: async () => 0 }, 0)).rejects.toThrow(RangeError);
  });
});
