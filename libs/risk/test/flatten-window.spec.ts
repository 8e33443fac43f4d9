// The 15:10 CT flat rule and the orders working in the auto-flatten window. At 15:08 CT the machine cancels and
// flattens once, then repeats it every enforceRetryMs while a position OR a working order remains: an entry order that
// reaches the broker in the window (placed in the TopstepX UI, or passed by the gate just before 15:08 and accepted
// later) would otherwise keep working past 15:10 CT and open a position whenever it fills. The gate itself admits no
// entries from 15:08 CT (a position opened then would only be closed again by the retry).
// From a hostile review: with the retry keyed to open positions only, the first test failed (no CANCEL_ALL_ORDERS).
import { describe, expect, it } from 'vitest';
import { AccountRiskMachine, COMBINE_50K, TestClock, tradingHoursStatus } from '../src/index';
import { ct, FLAT_50K_INPUTS } from './fixtures';

describe('orders left working through the 15:08 CT auto-flatten', () => {
  it('cancels an entry order that reached the broker at 15:09 CT, with no position open yet, and again past 15:10 CT', () => {
    const clock = new TestClock(ct(2026, 1, 14, 15, 8));
    const m = new AccountRiskMachine(7, COMBINE_50K, clock);
    expect(m.evaluate(FLAT_50K_INPUTS).events.map((e) => e.type)).toContain('AUTO_FLATTEN');
    // 15:09 CT: the gate admits no entry any more, yet a resting buy limit from the TopstepX UI is working.
    clock.set(ct(2026, 1, 14, 15, 9));
    expect(tradingHoursStatus(clock.now(), COMBINE_50K).entryAllowedByTime).toBe(false);
    const at1509 = m.evaluate({ ...FLAT_50K_INPUTS, workingOrderCount: 1 });
    expect({ events: at1509.events.map((e) => e.type), actions: at1509.actions }).toEqual({
      events: ['ENFORCEMENT_RETRY'],
      actions: [{ type: 'CANCEL_ALL_ORDERS', accountId: 7, reason: 'AUTO_FLATTEN' }],
    });
    // 15:11 CT: still working (the cancel failed, or it came back): cancelled again.
    clock.set(ct(2026, 1, 14, 15, 11));
    const e = m.evaluate({ ...FLAT_50K_INPUTS, workingOrderCount: 1 });
    expect(e.actions.map((a) => a.type)).toEqual(['CANCEL_ALL_ORDERS']);
  });

  it('repeats at most every enforceRetryMs, and not at all once nothing is open or working', () => {
    const clock = new TestClock(ct(2026, 1, 14, 15, 8));
    const m = new AccountRiskMachine(7, COMBINE_50K, clock);
    m.evaluate({ ...FLAT_50K_INPUTS, workingOrderCount: 1 });
    clock.advance(COMBINE_50K.enforceRetryMs - 1);
    expect(m.evaluate({ ...FLAT_50K_INPUTS, workingOrderCount: 1 }).actions).toEqual([]);
    clock.advance(1);
    expect(m.evaluate({ ...FLAT_50K_INPUTS, workingOrderCount: 1 }).actions).toHaveLength(1);
    clock.advance(COMBINE_50K.enforceRetryMs);
    expect(m.evaluate(FLAT_50K_INPUTS)).toMatchObject({ events: [], actions: [] });
  });
});
