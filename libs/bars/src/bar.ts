/**
 * One OHLCV bar. Prices are price units (1e-9, safe integers); volume is contracts; times are epoch ms.
 * The in-progress bar of a series is mutated in place by every trade (no allocation per trade): a consumer that
 * keeps it past the callback must copy it (`copyBar`). A closed bar is never mutated again.
 */
export interface Bar {
  /** Bucket start, inclusive. */
  startMs: number;
  /** Bucket end, exclusive (cut at 16:00 CT for frames that do not divide the session). */
  endMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** Number of trades folded in (0 for bars warmed from history, which does not report it). */
  trades: number;
  /** yyyymmdd of the CME trading day (tradingDayOf). */
  tradingDay: number;
  /** false for bars built from trades printed in the daily break or the weekend (never on CME; a simulator may). */
  session: boolean;
  /** Timestamps of the trades that set open and close, so out-of-order trades inside a bucket land right. */
  openTs: number;
  closeTs: number;
}

export function copyBar(b: Bar): Bar {
  return {
    startMs: b.startMs,
    endMs: b.endMs,
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume: b.volume,
    trades: b.trades,
    tradingDay: b.tradingDay,
    session: b.session,
    openTs: b.openTs,
    closeTs: b.closeTs,
  };
}
