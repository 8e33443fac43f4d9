import { describe, expect, it } from 'vitest';
import { TradingHours, tradingHoursStatus } from './hours';
import { COMBINE_50K, parseRiskLimits } from './limits';
import { ct } from '../test/fixtures';

const at = (t: number) => tradingHoursStatus(t, COMBINE_50K);

describe('trading hours', () => {
  it.each([
    ['winter (CST)', 2026, 1, 14],
    ['summer (CDT)', 2026, 7, 15],
    ['the spring-forward Monday', 2026, 3, 9],
    ['the fall-back Monday', 2026, 11, 2],
  ])('in %s: entries until 15:08 CT, flatten from 15:08, session to 16:00, new day at 17:00', (_name, y, m, d) => {
    expect(at(ct(y, m, d, 15, 7, 59))).toEqual({ dayId: y * 10000 + m * 100 + d, withinTradingHours: true, entryAllowedByTime: true, flattenDue: false });
    // From the auto-flatten on, the machine closes whatever opens: no entries (not only from 15:10 CT).
    expect(at(ct(y, m, d, 15, 8))).toMatchObject({ withinTradingHours: true, entryAllowedByTime: false, flattenDue: true });
    expect(at(ct(y, m, d, 15, 9, 59)).entryAllowedByTime).toBe(false);
    expect(at(ct(y, m, d, 15, 10))).toMatchObject({ withinTradingHours: true, entryAllowedByTime: false, flattenDue: true });
    expect(at(ct(y, m, d, 16, 30))).toMatchObject({ withinTradingHours: false, entryAllowedByTime: false, flattenDue: true });
    const evening = at(ct(y, m, d, 17, 0));
    expect(evening.dayId).not.toBe(y * 10000 + m * 100 + d);
    expect(evening).toMatchObject({ withinTradingHours: true, entryAllowedByTime: true, flattenDue: false });
  });

  it('is closed over the weekend and opens Sunday 17:00 CT', () => {
    expect(at(ct(2026, 1, 16, 17, 30))).toMatchObject({ dayId: 20260119, withinTradingHours: false, entryAllowedByTime: false });
    expect(at(ct(2026, 1, 17, 12, 0))).toMatchObject({ dayId: 20260119, withinTradingHours: false });
    expect(at(ct(2026, 1, 18, 16, 59))).toMatchObject({ withinTradingHours: false });
    expect(at(ct(2026, 1, 18, 17, 0))).toMatchObject({ dayId: 20260119, withinTradingHours: true, entryAllowedByTime: true });
  });

  it('honours a configured close and flatten lead time; the cached instance agrees across days', () => {
    const early = parseRiskLimits({ noNewPositionsFromMinuteCt: 12 * 60, flattenMinutesBeforeClose: 5 });
    const h = new TradingHours(early);
    expect(h.status(ct(2026, 1, 14, 11, 54)).flattenDue).toBe(false);
    expect(h.status(ct(2026, 1, 14, 11, 54, 59)).entryAllowedByTime).toBe(true);
    expect(h.status(ct(2026, 1, 14, 11, 55))).toMatchObject({ flattenDue: true, entryAllowedByTime: false });
    expect(h.status(ct(2026, 1, 14, 12, 0)).entryAllowedByTime).toBe(false);
    expect(h.status(ct(2026, 1, 14, 18, 0))).toMatchObject({ dayId: 20260115, entryAllowedByTime: true, flattenDue: false });
    expect(() => h.status(Number.NaN)).toThrow(/nowMs/);
  });

  it('with no flatten lead time, entries end and the flatten starts at the no-new-positions time', () => {
    const none = parseRiskLimits({ flattenMinutesBeforeClose: 0 });
    expect(tradingHoursStatus(ct(2026, 1, 14, 15, 9, 59), none)).toMatchObject({ entryAllowedByTime: true, flattenDue: false });
    expect(tradingHoursStatus(ct(2026, 1, 14, 15, 10), none)).toMatchObject({ entryAllowedByTime: false, flattenDue: true });
  });
});
