// Trading hours as Topstep counts them (topstepx-api.md §11): the trading day runs 17:00 CT → 15:10 CT;
// no new positions from 15:10 CT; Topstep flattens shortly before (historically 15:08 CT). Our entries end at our own
// auto-flatten time (RISK_FLATTEN_MINUTES_BEFORE_CLOSE before 15:10, 15:08 CT by default): from then on the machine
// cancels and flattens whatever is open or working, so an entry would only be closed again (fees, slippage). The exchange
// session itself (Sunday 17:00 – Friday 16:00 CT less the 16:00–17:00 break) comes from @gateway/session.
// Holiday early closes are not modelled: configure a different noNewPositionsFromMinuteCt that day.
import { ctMinuteOnTradingDay, SESSION_OPEN_MINUTE_CT, tradingDayOf, type TradingDay } from '@gateway/session';
import { flattenMinuteCt, type RiskLimits } from './limits';

export interface TradingHoursStatus {
  /** Trading day (yyyymmdd) of the instant; from 17:00 CT it is the next day's. */
  dayId: number;
  /** The exchange session is open (and the instant is inside its own trading day). */
  withinTradingHours: boolean;
  /**
   * New positions may be opened: in session and before the auto-flatten time (`flattenMinutesBeforeClose` before the
   * no-new-positions time; the same instant with 0).
   */
  entryAllowedByTime: boolean;
  /** At or past the auto-flatten time of the trading day (until the next 17:00 CT open). */
  flattenDue: boolean;
}

/**
 * Trading-hours status with the day's boundaries cached, so the per-call cost inside a trading day is a
 * few integer compares (no time-zone work). Owned by one thread; `status` mutates and returns the same
 * object (allocation-free), so copy it if you keep it.
 */
export class TradingHours {
  private readonly out: TradingHoursStatus = { dayId: 0, withinTradingHours: false, entryAllowedByTime: false, flattenDue: false };
  private day: TradingDay | undefined;
  private flattenMs = 0;
  private nextOpenMs = 0;

  constructor(private readonly limits: RiskLimits) {}

  status(nowMs: number): TradingHoursStatus {
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be finite, got ${nowMs}`);
    let day = this.day;
    // Weekend instants precede their (Monday) day's start: recomputed each call, which is rare.
    if (day === undefined || nowMs < day.startMs || nowMs >= this.nextOpenMs) {
      day = tradingDayOf(nowMs);
      this.day = day;
      this.flattenMs = ctMinuteOnTradingDay(day, flattenMinuteCt(this.limits));
      this.nextOpenMs = ctMinuteOnTradingDay(day, SESSION_OPEN_MINUTE_CT);
    }
    const inSession = nowMs >= day.startMs && nowMs < day.endMs;
    this.out.dayId = day.id;
    this.out.withinTradingHours = inSession;
    this.out.entryAllowedByTime = inSession && nowMs < this.flattenMs;
    this.out.flattenDue = nowMs >= this.flattenMs && nowMs < this.nextOpenMs;
    return this.out;
  }
}

/** One-off trading-hours status (allocates; use a TradingHours instance on a hot path). */
export function tradingHoursStatus(nowMs: number, limits: RiskLimits): TradingHoursStatus {
  return { ...new TradingHours(limits).status(nowMs) };
}
