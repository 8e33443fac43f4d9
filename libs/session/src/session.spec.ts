import { describe, expect, it } from 'vitest';
import { chicagoOffsetMinutes, chicagoToEpoch, toChicago } from './chicago';
import { ctMinuteOnTradingDay, isSessionOpen, tradingDayOf, TOPSTEP_CLOSE_MINUTE_CT } from './trading-day';

describe('Chicago time', () => {
  it('knows CST and CDT, across both 2026 switches', () => {
    expect(chicagoOffsetMinutes(Date.parse('2026-01-15T12:00:00Z'))).toBe(-360);
    expect(chicagoOffsetMinutes(Date.parse('2026-07-15T12:00:00Z'))).toBe(-300);
    // Spring forward: 2026-03-08 02:00 CST -> 03:00 CDT (08:00Z).
    expect(chicagoOffsetMinutes(Date.parse('2026-03-08T07:59:59Z'))).toBe(-360);
    expect(chicagoOffsetMinutes(Date.parse('2026-03-08T08:00:00Z'))).toBe(-300);
    // Fall back: 2026-11-01 02:00 CDT -> 01:00 CST (07:00Z).
    expect(chicagoOffsetMinutes(Date.parse('2026-11-01T06:59:59Z'))).toBe(-300);
    expect(chicagoOffsetMinutes(Date.parse('2026-11-01T07:00:00Z'))).toBe(-360);
  });

  it('round-trips wall-clock times', () => {
    expect(chicagoToEpoch(2026, 1, 15, 17, 0)).toBe(Date.parse('2026-01-15T23:00:00Z'));
    expect(chicagoToEpoch(2026, 7, 15, 17, 0)).toBe(Date.parse('2026-07-15T22:00:00Z'));
    const t = toChicago(Date.parse('2026-07-15T22:30:00Z'));
    expect([t.year, t.month, t.day, t.hour, t.minute, t.weekday]).toEqual([2026, 7, 15, 17, 30, 3]);
  });

  it('rejects a non-finite instant', () => {
    expect(() => chicagoOffsetMinutes(Number.NaN)).toThrow(/epochMs/);
  });
});

describe('trading day', () => {
  it('starts at 17:00 CT the evening before, in winter and in summer', () => {
    const winter = tradingDayOf(Date.parse('2026-01-14T23:00:00Z')); // Wed 17:00 CST
    expect(winter.id).toBe(20260115);
    expect(winter.startMs).toBe(Date.parse('2026-01-14T23:00:00Z'));
    expect(winter.endMs).toBe(Date.parse('2026-01-15T22:00:00Z'));
    const justBefore = tradingDayOf(Date.parse('2026-01-14T22:59:59Z'));
    expect(justBefore.id).toBe(20260114);
    const summer = tradingDayOf(Date.parse('2026-07-14T22:00:00Z')); // Tue 17:00 CDT
    expect(summer.id).toBe(20260715);
  });

  it('rolls Friday evening and the weekend to Monday, opened Sunday 17:00 CT', () => {
    const sunday = tradingDayOf(Date.parse('2026-01-18T23:30:00Z')); // Sun 17:30 CST
    expect(sunday.id).toBe(20260119);
    expect(sunday.startMs).toBe(Date.parse('2026-01-18T23:00:00Z'));
    expect(tradingDayOf(Date.parse('2026-01-16T23:30:00Z')).id).toBe(20260119); // Fri 17:30
  });

  it('holds across the DST changes: the day spanning the switch has 23 or 25 hours', () => {
    const spring = tradingDayOf(Date.parse('2026-03-09T12:00:00Z')); // Monday after spring forward
    expect(spring.startMs).toBe(Date.parse('2026-03-08T22:00:00Z')); // Sun 17:00 CDT
    const fall = tradingDayOf(Date.parse('2026-11-02T12:00:00Z'));
    expect(fall.startMs).toBe(Date.parse('2026-11-01T23:00:00Z')); // Sun 17:00 CST
    const tue = tradingDayOf(Date.parse('2026-03-10T12:00:00Z'));
    expect(tue.startMs - spring.startMs).toBe(24 * 3_600_000);
  });

  it('knows the session hours and the daily break', () => {
    expect(isSessionOpen(Date.parse('2026-01-15T15:00:00Z'))).toBe(true); // Thu 09:00 CT
    expect(isSessionOpen(Date.parse('2026-01-15T22:30:00Z'))).toBe(false); // Thu 16:30 CT break
    expect(isSessionOpen(Date.parse('2026-01-17T15:00:00Z'))).toBe(false); // Saturday
    expect(isSessionOpen(Date.parse('2026-01-18T22:59:00Z'))).toBe(false); // Sun 16:59 CT
    expect(isSessionOpen(Date.parse('2026-01-18T23:00:00Z'))).toBe(true); // Sun 17:00 CT
  });

  it('places 15:10 CT on a trading day', () => {
    const day = tradingDayOf(Date.parse('2026-07-15T15:00:00Z'));
    expect(ctMinuteOnTradingDay(day, TOPSTEP_CLOSE_MINUTE_CT)).toBe(Date.parse('2026-07-15T20:10:00Z'));
  });
});
