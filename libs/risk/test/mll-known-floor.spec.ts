// The MLL floor from what is known of the days the machine did not see close: a REST rebuild's start-of-day balance
// (AccountRiskMachine.startOfDay) and the floor read on the Topstep dashboard (limits.knownMllFloorUnits). Topstep
// trails its floor from every end-of-day balance; a machine that trailed only from balances it saw itself across
// 17:00 CT kept a lower floor after a first start or a restart across the roll. The floor only ever rises.
import { describe, expect, it } from 'vitest';
import { AccountRiskMachine, parseRiskLimits, TestClock } from '../src/index';
import { ct, FLAT_50K_INPUTS, usd } from './fixtures';

const NO_DLL = parseRiskLimits({ dailyLossLimitUnits: 0 });
const THU = 20260115;
const at = (balance: string) => ({ ...FLAT_50K_INPUTS, pnlDayId: THU, balanceUnits: usd(balance) });

describe('MLL floor from a start-of-day balance', () => {
  it('first start: yesterday closed at $52,000, so the floor is locked at the $50,000 starting balance', () => {
    const m = new AccountRiskMachine(7, NO_DLL, new TestClock(ct(2026, 1, 15, 8, 0)));
    m.startOfDay(THU, usd('52000'));
    const e = m.evaluate(at('52000'));
    expect({ floor: e.mllFloorUnits, locked: m.mllState.locked, events: e.events.map((x) => x.type) }).toEqual({ floor: usd('50000'), locked: true, events: ['MLL_FLOOR_UPDATED'] });
    // Equity at the floor breaks the account, as at Topstep.
    expect(m.evaluate({ ...at('52000'), unrealizedUnits: usd('-2000') })).toMatchObject({ state: 'HALTED', reason: 'MAX_LOSS_LIMIT' });
  });

  it('restart across 17:00 CT: the start-of-day balance closes the last day instead of the intraday balance last seen', () => {
    const clock = new TestClock(ct(2026, 1, 14, 10, 0));
    const before = new AccountRiskMachine(7, NO_DLL, clock);
    // Wednesday 14:00 CT, +$1,500 realised: the last balance this machine saw before the engine stopped.
    clock.set(ct(2026, 1, 14, 14, 0));
    before.evaluate({ ...FLAT_50K_INPUTS, balanceUnits: usd('51500') });
    const snapshot = before.snapshot();
    // The account gave back $1,200 after the stop: Wednesday closed at $50,300; Topstep's floor is $48,300, not $49,500.
    clock.set(ct(2026, 1, 15, 8, 0));
    const m = new AccountRiskMachine(7, NO_DLL, clock, snapshot);
    m.startOfDay(THU, usd('50300'));
    const e = m.evaluate(at('50300'));
    expect({ floor: e.mllFloorUnits, events: e.events.map((x) => x.type) }).toEqual({ floor: usd('48300'), events: ['MLL_FLOOR_UPDATED', 'TRADING_DAY_ROLLED'] });
  });

  it('never lowers a known floor, and leaves a day the machine rolled into itself alone', () => {
    const clock = new TestClock(ct(2026, 1, 14, 16, 30));
    const m = new AccountRiskMachine(7, NO_DLL, clock);
    m.evaluate({ ...FLAT_50K_INPUTS, balanceUnits: usd('51000') });
    clock.set(ct(2026, 1, 14, 17, 1));
    expect(m.evaluate(at('51000')).mllFloorUnits).toBe(usd('49000'));
    // A rebuild later that day (hub reconnect): the machine saw this day begin; its floor stands.
    m.startOfDay(THU, usd('52000'));
    expect(m.evaluate(at('51000'))).toMatchObject({ mllFloorUnits: usd('49000'), events: [] });
    // A lower start-of-day balance on a later day never lowers it.
    const fresh = new AccountRiskMachine(8, NO_DLL, clock, m.snapshot());
    clock.set(ct(2026, 1, 15, 17, 1));
    fresh.startOfDay(20260116, usd('49000'));
    expect(fresh.evaluate({ ...at('49000'), pnlDayId: 20260116 }).mllFloorUnits).toBe(usd('49000'));
  });
});

describe('MLL floor given from the Topstep dashboard (knownMllFloorUnits)', () => {
  it('raises the floor at construction, over a lower restored floor, with an event', () => {
    const clock = new TestClock(ct(2026, 1, 15, 9, 0));
    const restored = new AccountRiskMachine(7, NO_DLL, clock).snapshot();
    const m = new AccountRiskMachine(7, parseRiskLimits({ dailyLossLimitUnits: 0, knownMllFloorUnits: usd('49497.20') }), clock, restored);
    const e = m.evaluate(at('51000'));
    expect({ floor: e.mllFloorUnits, high: m.mllState.eodHighUnits, events: e.events.map((x) => x.type) }).toEqual({
      floor: usd('49497.20'),
      high: usd('51497.20'),
      events: ['MLL_FLOOR_UPDATED'],
    });
  });

  it('never lowers a higher floor the machine already knows', () => {
    const clock = new TestClock(ct(2026, 1, 15, 9, 0));
    const high = new AccountRiskMachine(7, NO_DLL, clock);
    high.startOfDay(THU, usd('51800'));
    const m = new AccountRiskMachine(7, parseRiskLimits({ dailyLossLimitUnits: 0, knownMllFloorUnits: usd('49000') }), clock, high.snapshot());
    expect(m.evaluate(at('51800'))).toMatchObject({ mllFloorUnits: usd('49800'), events: [] });
  });
});
