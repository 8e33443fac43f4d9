// Where bar buckets start and end. Time is cut into segments that never straddle a session edge:
//   session   [17:00 CT day before D, 16:00 CT on D)   the CME Globex trading day D
//   break     [16:00 CT on D, 17:00 CT on D)           the daily maintenance break
//   weekend   [Fri 17:00 CT, Sun 17:00 CT)             (tradingDayOf rolls it to Monday)
// Intraday buckets are laid on a grid of the frame length starting at the segment start and are cut at the segment
// end; the 1d bucket is the segment itself. CME never prints in the break or the weekend, but a simulator may: such
// trades get their own bars flagged `session: false` instead of polluting the session's bars.
import { chicagoToEpoch, toChicago, tradingDayOf } from '@gateway/session';

const HOUR_MS = 3_600_000;

export interface Segment {
  startMs: number;
  endMs: number;
  /** yyyymmdd of the trading day tradingDayOf assigns (the break belongs to the day that just closed). */
  tradingDay: number;
  /** true for the trading session, false for the break and the weekend. */
  session: boolean;
}

/**
 * The segment holding an instant. Uses Intl (through @gateway/session) so call it once per segment change, not per
 * trade. DST switches at 02:00 CT on a Sunday, inside the weekend: a session segment never contains one, so an
 * elapsed-time grid from 17:00 CT is also a wall-clock grid.
 */
export function segmentOf(tsMs: number, out: Segment = { startMs: 0, endMs: 0, tradingDay: 0, session: false }): Segment {
  const day = tradingDayOf(tsMs);
  out.tradingDay = day.id;
  if (tsMs >= day.startMs && tsMs < day.endMs) {
    out.startMs = day.startMs;
    out.endMs = day.endMs;
    out.session = true;
  } else if (tsMs >= day.endMs) {
    // 16:00 → 17:00 CT on the same date: no DST switch happens at that hour, so it is exactly one hour.
    out.startMs = day.endMs;
    out.endMs = day.endMs + HOUR_MS;
    out.session = false;
  } else {
    // Before the session open only on a weekend: back to the Friday 17:00 CT two calendar days earlier.
    const open = toChicago(day.startMs);
    out.startMs = chicagoToEpoch(open.year, open.month, open.day - 2, 17, 0);
    out.endMs = day.startMs;
    out.session = false;
  }
  return out;
}

/** The [start, end) of the intraday bucket of `frameMs` holding `tsMs` inside `seg` (pure integer math). */
export function intradayBucketStart(seg: Segment, frameMs: number, tsMs: number): number {
  return seg.startMs + Math.floor((tsMs - seg.startMs) / frameMs) * frameMs;
}
