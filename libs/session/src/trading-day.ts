// The CME Globex trading day as TopstepX counts it: the day for date D opens at 17:00 CT on the
// calendar day before D (Sunday 17:00 CT for Monday) and the exchange closes at 16:00 CT on D, with
// the daily break 16:00–17:00 CT. Topstep's own trading day ends at 15:10 CT (positions must be flat).
import { addDays, chicagoToEpoch, toChicago } from './chicago';

/** The session opens at 17:00 CT. */
export const SESSION_OPEN_MINUTE_CT = 17 * 60;
/** The exchange's daily close (start of the daily break), 16:00 CT. */
export const SESSION_CLOSE_MINUTE_CT = 16 * 60;
/** Topstep's end of trading day: no new positions from 15:10 CT. */
export const TOPSTEP_CLOSE_MINUTE_CT = 15 * 60 + 10;

export interface TradingDay {
  /** yyyymmdd of the date the trading day belongs to (the date it closes on). */
  id: number;
  /** 17:00 CT on the previous calendar day. */
  startMs: number;
  /** 16:00 CT on the trading day's date (exchange close). */
  endMs: number;
}

/**
 * The trading day an instant belongs to. From 17:00 CT an instant belongs to the next day's
 * session; Friday evening and Saturday roll to Monday (the market is closed then, so a trade there
 * is out of session; it still gets a well-defined day).
 */
export function tradingDayOf(epochMs: number): TradingDay {
  const ct = toChicago(epochMs);
  let offset = ct.minuteOfDay >= SESSION_OPEN_MINUTE_CT ? 1 : 0;
  const weekday = (ct.weekday + offset) % 7;
  if (weekday === 6) offset += 2;
  else if (weekday === 0) offset += 1;
  const date = addDays(ct.year, ct.month, ct.day, offset);
  return tradingDayFor(date.year, date.month, date.day);
}

/** The trading day for a calendar date (the date it closes on). */
export function tradingDayFor(year: number, month: number, day: number): TradingDay {
  const prev = addDays(year, month, day, -1);
  return {
    id: year * 10_000 + month * 100 + day,
    startMs: chicagoToEpoch(prev.year, prev.month, prev.day, 17, 0),
    endMs: chicagoToEpoch(year, month, day, 16, 0),
  };
}

/** Is the CME Globex session open at this instant (Sunday 17:00 CT – Friday 16:00 CT, less the daily break)? */
export function isSessionOpen(epochMs: number): boolean {
  const ct = toChicago(epochMs);
  if (ct.weekday === 6) return false;
  if (ct.weekday === 5 && ct.minuteOfDay >= SESSION_CLOSE_MINUTE_CT) return false;
  if (ct.weekday === 0 && ct.minuteOfDay < SESSION_OPEN_MINUTE_CT) return false;
  return ct.minuteOfDay < SESSION_CLOSE_MINUTE_CT || ct.minuteOfDay >= SESSION_OPEN_MINUTE_CT;
}

/** The instant of a CT wall-clock minute-of-day on a trading day's date (e.g. 15:10 CT flatten time). */
export function ctMinuteOnTradingDay(day: TradingDay, minuteOfDay: number): number {
  const y = Math.floor(day.id / 10_000);
  const m = Math.floor((day.id % 10_000) / 100);
  const d = day.id % 100;
  return chicagoToEpoch(y, m, d, Math.floor(minuteOfDay / 60), minuteOfDay % 60);
}
