// Warm-up of the recent-bar caches from History/retrieveBars, so indicators are right from the first live bar.
// Market-data thread only. Each request draws from the shared `bars` rate bucket through the REST client's
// rate gate; a range longer than the broker's 20 000-bar cap is paged by backfillPlan.
import { backfillPlan, historyToBars, segmentOf, type Bar, type BarSeries, type HistoryBarUnits } from '@gateway/bars';
import { priceToUnits } from '@gateway/shared-state';
import type { Bar as GatewayBar, RetrieveBarsRequest } from '@gateway/topstepx';

const DAY_MS = 86_400_000;
/** Daily bars are built from hourly history (broker daily bars do not align to the CME session): at most this many days. */
export const MAX_DAILY_BACKFILL_DAYS = 400;

export interface BarsFetcher {
  retrieveBars(req: RetrieveBarsRequest): Promise<GatewayBar[] | undefined>;
}

function toUnits(rows: readonly GatewayBar[] | undefined, out: Map<number, HistoryBarUnits>): void {
  for (const r of rows ?? []) {
    const t = Date.parse(r.t);
    if (!Number.isSafeInteger(t)) continue;
    out.set(t, { t, o: priceToUnits(r.o, 'o'), h: priceToUnits(r.h, 'h'), l: priceToUnits(r.l, 'l'), c: priceToUnits(r.c, 'c'), v: Math.round(r.v) });
  }
}

async function fetchRange(
  api: BarsFetcher,
  contractId: string,
  live: boolean,
  timeframe: string,
  fromMs: number,
  toMs: number,
  isCancelled: () => boolean,
): Promise<HistoryBarUnits[]> {
  const rows = new Map<number, HistoryBarUnits>();
  for (const w of backfillPlan(timeframe, fromMs, toMs)) {
    if (isCancelled()) break;
    const bars = await api.retrieveBars({
      contractId,
      live,
      startTime: new Date(w.startMs).toISOString(),
      endTime: new Date(w.endMs).toISOString(),
      unit: w.unit as RetrieveBarsRequest['unit'],
      unitNumber: w.unitNumber,
      limit: w.limit,
      includePartialBar: false,
    });
    toUnits(bars, rows);
  }
  return [...rows.values()];
}

/**
 * Daily (17:00–16:00 CT) bars from closed hourly bars, oldest first: one per (trading day, session flag);
 * the day still in progress at `nowMs` is left to the live aggregation.
 */
export function dailyFromHourly(hourly: readonly Bar[], nowMs: number): Bar[] {
  const out: Bar[] = [];
  let cur: Bar | undefined;
  for (const h of hourly) {
    if (cur && cur.tradingDay === h.tradingDay && cur.session === h.session) {
      if (h.high > cur.high) cur.high = h.high;
      if (h.low < cur.low) cur.low = h.low;
      cur.close = h.close;
      cur.closeTs = h.closeTs;
      cur.volume += h.volume;
      continue;
    }
    const seg = segmentOf(h.startMs);
    cur = { ...h, startMs: seg.startMs, endMs: seg.endMs, trades: 0 };
    out.push(cur);
  }
  return out.filter((b) => b.endMs <= nowMs);
}

/**
 * Fetches the last `bars` bars of one series (calendar span: fewer bars where the market was closed) and warms
 * it. Returns the number of history bars used. Throws what the REST client throws (the caller logs and goes on).
 */
export async function backfillSeries(
  api: BarsFetcher,
  contractId: string,
  live: boolean,
  series: BarSeries,
  bars: number,
  nowMs: number,
  isCancelled: () => boolean,
): Promise<number> {
  const tf = series.timeframe;
  let history: Bar[];
  if (tf.ms === 0) {
    const days = Math.min(bars, MAX_DAILY_BACKFILL_DAYS);
    const rows = await fetchRange(api, contractId, live, '1h', nowMs - days * DAY_MS, nowMs, isCancelled);
    history = dailyFromHourly(historyToBars('1h', rows, nowMs), nowMs);
  } else {
    const rows = await fetchRange(api, contractId, live, tf.name, nowMs - bars * tf.ms, nowMs, isCancelled);
    history = historyToBars(tf, rows, nowMs);
  }
  if (isCancelled()) return 0;
  // historyToBars keeps one bar per broker row; two rows in one of our buckets (a grid mismatch) would break
  // warm()'s distinct-start rule, so keep the later one.
  const byStart = new Map<number, Bar>();
  for (const b of history) byStart.set(b.startMs, b);
  return series.warm([...byStart.values()].sort((a, b) => a.startMs - b.startMs));
}
