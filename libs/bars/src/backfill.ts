// History/retrieveBars support: turning the broker's bars into ours, and paging a range past the 20 000-bar cap.
import type { Bar } from './bar';
import { BarsError } from './errors';
import { segmentOf, type Segment } from './session-grid';
import { toTimeframe, type Timeframe } from './timeframe';

/** The broker's cap on bars per History/retrieveBars request. */
export const MAX_BARS_PER_REQUEST = 20_000;

/** retrieveBars `unit`: 1 Second, 2 Minute, 3 Hour, 4 Day (5 Week, 6 Month unused here). */
export const BAR_UNIT = Object.freeze({ Second: 1, Minute: 2, Hour: 3, Day: 4 } as const);

/**
 * One retrieveBars bar after the wire layer converted it: `t` to epoch ms, o/h/l/c from 9-decimal prices to price
 * units, `v` to an integer. This lib does not parse the wire.
 */
export interface HistoryBarUnits {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

/** The retrieveBars `unit`/`unitNumber` for a timeframe: 5m → {unit: 2, unitNumber: 5}. */
export function unitOf(tf: Timeframe | string): { unit: number; unitNumber: number } {
  const t = toTimeframe(tf);
  switch (t.unit) {
    case 'second':
      return { unit: BAR_UNIT.Second, unitNumber: t.count };
    case 'minute':
      return { unit: BAR_UNIT.Minute, unitNumber: t.count };
    case 'hour':
      return { unit: BAR_UNIT.Hour, unitNumber: t.count };
    case 'day':
      return { unit: BAR_UNIT.Day, unitNumber: 1 };
  }
}

export interface BackfillWindow {
  startMs: number;
  endMs: number;
  unit: number;
  unitNumber: number;
  /** Bars to ask for (the cap); the window is sized so it cannot hold more. */
  limit: number;
}

const DAY_MS = 86_400_000;

/**
 * Request windows covering [fromMs, toMs), oldest first, each short enough to hold at most `maxBarsPerRequest`
 * bars even if the market never closed (gaps only make fewer bars), so no window hits the cap and gets truncated.
 * Daily windows count calendar days, which is at least the number of trading days.
 */
export function backfillPlan(
  timeframe: Timeframe | string,
  fromMs: number,
  toMs: number,
  maxBarsPerRequest = MAX_BARS_PER_REQUEST,
): BackfillWindow[] {
  const tf = toTimeframe(timeframe);
  if (!Number.isSafeInteger(fromMs)) throw new BarsError('BARS_BAD_RANGE', 'fromMs', `expected epoch ms, got ${String(fromMs)}`);
  if (!Number.isSafeInteger(toMs) || toMs < fromMs) {
    throw new BarsError('BARS_BAD_RANGE', 'toMs', `expected epoch ms ≥ fromMs, got ${String(toMs)}`);
  }
  if (!Number.isSafeInteger(maxBarsPerRequest) || maxBarsPerRequest < 1 || maxBarsPerRequest > MAX_BARS_PER_REQUEST) {
    throw new BarsError('BARS_BAD_RANGE', 'maxBarsPerRequest', `expected 1..${MAX_BARS_PER_REQUEST}, got ${String(maxBarsPerRequest)}`);
  }
  const { unit, unitNumber } = unitOf(tf);
  const span = (tf.ms === 0 ? DAY_MS : tf.ms) * maxBarsPerRequest;
  const out: BackfillWindow[] = [];
  for (let s = fromMs; s < toMs; s += span) {
    out.push({ startMs: s, endMs: Math.min(s + span, toMs), unit, unitNumber, limit: maxBarsPerRequest });
  }
  return out;
}

/**
 * Converts retrieveBars bars (newest first, as the broker sends them; any order is accepted) into closed Bars,
 * oldest first, placed on this lib's session grid: endMs, tradingDay and session come from segmentOf. Bars whose
 * bucket is not yet over at `nowMs` (the partial bar from includePartialBar) are dropped: history feeds the cache
 * up to the last closed bar only, live trades build the rest. Daily broker bars do not align to the CME session
 * (README): build 1d history from 1h bars instead.
 */
export function historyToBars(timeframe: Timeframe | string, rows: readonly HistoryBarUnits[], nowMs: number): Bar[] {
  const tf = toTimeframe(timeframe);
  const sorted = rows.slice().sort((a, b) => a.t - b.t);
  const seg: Segment = { startMs: 0, endMs: 0, tradingDay: 0, session: false };
  const out: Bar[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i]!;
    if (!Number.isSafeInteger(r.t)) throw new BarsError('BARS_BAD_BAR', `rows[${i}].t`, `expected epoch ms, got ${String(r.t)}`);
    if (!(r.t >= seg.startMs && r.t < seg.endMs)) segmentOf(r.t, seg);
    let end: number;
    if (tf.ms === 0) end = seg.endMs;
    else end = Math.min(seg.startMs + (Math.floor((r.t - seg.startMs) / tf.ms) + 1) * tf.ms, seg.endMs);
    if (end > nowMs) continue;
    out.push({
      startMs: r.t,
      endMs: end,
      open: r.o,
      high: r.h,
      low: r.l,
      close: r.c,
      volume: r.v,
      trades: 0,
      tradingDay: seg.tradingDay,
      session: seg.session,
      openTs: r.t,
      closeTs: r.t,
    });
  }
  return out;
}
