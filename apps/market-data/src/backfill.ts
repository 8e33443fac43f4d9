// Warm-up of the recent-bar caches from History/retrieveBars, so indicators are right from the first live bar,
// the repair of a window whose trades were lost (a market-hub outage), and the fill of the open bars with those
// trades until their buckets close and are repaired. Market-data thread only. Each request
// draws from the shared `bars` rate bucket through the REST client's rate gate; a range longer than the broker's
// 20 000-bar cap is paged by backfillPlan.
import { backfillPlan, historyToBars, parseTimeframe, segmentOf, type Bar, type BarSeries, type HistoryBarUnits, type Timeframe } from '@gateway/bars';
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
/** Closed history bars of one timeframe over [fromMs, toMs), oldest first (`1d` built from hourly history). */
async function historyBars(
  api: BarsFetcher,
  contractId: string,
  live: boolean,
  tf: Timeframe,
  fromMs: number,
  toMs: number,
  nowMs: number,
  isCancelled: () => boolean,
): Promise<Bar[]> {
  if (tf.ms === 0) {
    const rows = await fetchRange(api, contractId, live, '1h', fromMs, toMs, isCancelled);
    return dailyFromHourly(historyToBars('1h', rows, nowMs), nowMs);
  }
  return historyToBars(tf, await fetchRange(api, contractId, live, tf.name, fromMs, toMs, isCancelled), nowMs);
}

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
  const span = tf.ms === 0 ? Math.min(bars, MAX_DAILY_BACKFILL_DAYS) * DAY_MS : bars * tf.ms;
  const history = await historyBars(api, contractId, live, tf, nowMs - span, nowMs, nowMs, isCancelled);
  if (isCancelled()) return 0;
  // historyToBars keeps one bar per broker row; two rows in one of our buckets (a grid mismatch) would break
  // warm()'s distinct-start rule, so keep the later one.
  const byStart = new Map<number, Bar>();
  for (const b of history) byStart.set(b.startMs, b);
  return series.warm([...byStart.values()].sort((a, b) => a.startMs - b.startMs));
}

/** The bucket of `tf` holding `tsMs` on the session grid, as BarAggregator opens it. */
export function bucketOf(tf: Timeframe, tsMs: number): { startMs: number; endMs: number } {
  const seg = segmentOf(tsMs);
  if (tf.ms === 0) return { startMs: seg.startMs, endMs: seg.endMs };
  const startMs = seg.startMs + Math.floor((tsMs - seg.startMs) / tf.ms) * tf.ms;
  return { startMs, endMs: Math.min(startMs + tf.ms, seg.endMs) };
}

function sameBar(a: Bar, b: Bar): boolean {
  return a.endMs === b.endMs && a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close && a.volume === b.volume;
}

/**
 * Takes history bars as the record of closed buckets: each one on this series' grid that the cache lacks or
 * holds with other values replaces or joins the cached bars; buckets the broker has no bar for keep ours, and the
 * open bar (and anything from its bucket on) stays live. The cache and the indicators are then rebuilt over the
 * merged sequence (as warm() does). Synchronous, so no trade lands in between. Returns the bars taken that the
 * cache still holds, oldest first (empty when nothing differed).
 */
export function mergeRepair(series: BarSeries, history: readonly Bar[]): Bar[] {
  const tf = series.timeframe;
  const liveFrom = series.current === null ? Number.POSITIVE_INFINITY : series.current.startMs;
  const byStart = new Map<number, Bar>();
  for (const b of series.cache.snapshot()) byStart.set(b.startMs, b);
  const taken: Bar[] = [];
  for (const b of history) {
    if (b.endMs > liveFrom) continue;
    const bucket = bucketOf(tf, b.startMs);
    if (bucket.startMs !== b.startMs || bucket.endMs !== b.endMs) continue;
    const held = byStart.get(b.startMs);
    if (held !== undefined && sameBar(held, b)) continue;
    byStart.set(b.startMs, b);
    taken.push(b);
  }
  if (taken.length === 0) return [];
  const merged = [...byStart.values()].sort((a, b) => a.startMs - b.startMs);
  series.cache.clear();
  series.atr.reset();
  for (const s of series.sma) s.reset();
  for (const e of series.ema) e.reset();
  for (const b of merged) series.commit(b);
  // A bucket now held that is newer than the last one opened live: later prints for it are late, as after warm().
  const newest = series.cache.newest();
  if (series.current === null && newest !== undefined && newest.endMs > series.curEnd) {
    series.curStart = newest.startMs;
    series.curEnd = newest.endMs;
  }
  const oldest = series.cache.at(0)!.startMs;
  return taken.filter((b) => b.startMs >= oldest).sort((a, b) => a.startMs - b.startMs);
}

/**
 * Repairs [fromMs, toMs) of one series from History/retrieveBars (mergeRepair). Call once every bucket of the
 * window has closed. Returns the bars taken; throws what the REST client throws.
 */
export async function repairSeries(
  api: BarsFetcher,
  contractId: string,
  live: boolean,
  series: BarSeries,
  fromMs: number,
  toMs: number,
  nowMs: number,
  isCancelled: () => boolean,
): Promise<Bar[]> {
  const history = await historyBars(api, contractId, live, series.timeframe, fromMs, toMs, nowMs, isCancelled);
  if (isCancelled()) return [];
  return mergeRepair(series, history);
}

/**
 * History unit of an open-bar fill: 1 s bars while the window is at most this long (3,600 bars, one small request,
 * and a second bar's worth of error at each edge), 1 min bars beyond (an open bucket is at most a day: ≤ 1,440 bars,
 * still one request). Both are History/retrieveBars units whatever timeframes are configured (unit 1 and 2, §5.3).
 */
export const FILL_SECONDS_UP_TO_MS = 3_600_000;
const SECOND = parseTimeframe('1s');
const MINUTE = parseTimeframe('1m');

/** A spell in which the thread saw no print, [fromMs, toMs): what an open-bar fill may take from history. */
export interface FillWindow {
  fromMs: number;
  toMs: number;
}

/**
 * Folds closed history bars of a finer unit into the open bar of one series, after a feed loss: the bars the
 * broker has for the lost spell, before the bucket closes and the closed-bucket repair (mergeRepair) takes the
 * broker's bar as the record. Only history bars wholly inside one of the windows and inside the open bucket are
 * taken: the caller picks each window so that no trade the thread saw live lies in it (fromMs after the newest print
 * seen before the loss, toMs at most the oldest print seen after it) and the windows do not overlap, so nothing is
 * counted twice; the trades of the partial history bars at either edge stay missing until the bucket closes.
 * Merge: high = max, low = min, volume += the bars' volume; open and close are taken by time (a history bar's open
 * at its start, its close at its last millisecond), so a bar open before the loss keeps its open, one whose bucket
 * began in the spell gets the history's, and the close stays the latest live trade's when one came after the spell.
 * `trades` keeps counting live trades only (history does not report them). With no open bar, one is opened from
 * history for the bucket of `nowMs`, unless that bucket was already closed or cached. Synchronous, so no trade lands
 * in between. Returns true when the open bar changed.
 */
export function mergeOpenBar(series: BarSeries, unitBars: readonly Bar[], windows: readonly FillWindow[], nowMs: number): boolean {
  let bar = series.current;
  const bucket = bar ?? bucketOf(series.timeframe, nowMs);
  if (bar === null) {
    // A bucket the timer closed (current null, still the latest opened) or one the cache holds is not open.
    if (series.curEnd > bucket.startMs) return false;
    const newest = series.cache.newest();
    if (newest !== undefined && newest.endMs > bucket.startMs) return false;
  }
  const used = unitBars
    .filter((b) => b.startMs >= bucket.startMs && b.endMs <= bucket.endMs && windows.some((w) => b.startMs >= w.fromMs && b.endMs <= w.toMs))
    .sort((a, b) => a.startMs - b.startMs);
  if (used.length === 0) return false;
  if (bar === null) {
    const first = used[0]!;
    const seg = segmentOf(bucket.startMs);
    bar = {
      startMs: bucket.startMs,
      endMs: bucket.endMs,
      open: first.open,
      high: first.high,
      low: first.low,
      close: first.close,
      volume: 0,
      trades: 0,
      tradingDay: seg.tradingDay,
      session: seg.session,
      openTs: first.startMs,
      closeTs: first.startMs,
    };
    series.current = bar;
    series.curStart = bucket.startMs;
    series.curEnd = bucket.endMs;
    if (series.firstLiveStart === Number.POSITIVE_INFINITY) series.firstLiveStart = bucket.startMs;
  }
  for (const u of used) {
    if (u.high > bar.high) bar.high = u.high;
    if (u.low < bar.low) bar.low = u.low;
    bar.volume += u.volume;
    if (u.startMs < bar.openTs) {
      bar.open = u.open;
      bar.openTs = u.startMs;
    }
    const lastMs = u.endMs - 1;
    if (lastMs > bar.closeTs) {
      bar.close = u.close;
      bar.closeTs = lastMs;
    }
  }
  return true;
}

/**
 * Fills the open bars of the series longer than the fill unit from one history request spanning the lost spells
 * (see mergeOpenBar for the windows' rule), clipped to the oldest open bucket among them. Returns the series whose
 * open bar changed; throws what the REST client throws. `clock` is read again when the history has arrived.
 */
export async function fillOpenBars(
  api: BarsFetcher,
  contractId: string,
  live: boolean,
  series: readonly BarSeries[],
  windows: readonly FillWindow[],
  clock: () => number,
  isCancelled: () => boolean,
): Promise<BarSeries[]> {
  const spells = windows.filter((w) => w.fromMs < w.toMs);
  if (spells.length === 0) return [];
  const fromMs = Math.min(...spells.map((w) => w.fromMs));
  const toMs = Math.max(...spells.map((w) => w.toMs));
  const nowMs = clock();
  const longer = (unit: Timeframe): BarSeries[] => series.filter((s) => s.timeframe.ms === 0 || s.timeframe.ms > unit.ms);
  const oldestOpen = (list: readonly BarSeries[]): number => Math.min(...list.map((s) => (s.current ?? bucketOf(s.timeframe, nowMs)).startMs));
  let unit = SECOND;
  let start = Math.max(fromMs, oldestOpen(longer(SECOND)));
  if (toMs - start > FILL_SECONDS_UP_TO_MS) {
    unit = MINUTE;
    start = Math.max(fromMs, oldestOpen(longer(MINUTE)));
  }
  const targets = longer(unit);
  if (targets.length === 0 || !(start < toMs)) return [];
  const rows = await fetchRange(api, contractId, live, unit.name, start, toMs, isCancelled);
  if (isCancelled()) return [];
  const after = clock();
  const bars = historyToBars(unit, rows, after);
  return targets.filter((s) => mergeOpenBar(s, bars, spells, after));
}
