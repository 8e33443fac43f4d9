// Trades → OHLCV bars for every configured timeframe of one contract, plus the indicators and the recent-bar
// cache of each (contract, timeframe). Single-threaded: one BarAggregator per contract, owned and called only by
// the market-data thread that receives that contract's trades and runs its close timer.
//
// Hot path (onTrade): per timeframe one or two compares against the cached bucket [curStart, curEnd) and four
// in-place field updates; no allocation and no Intl. A bucket change costs one integer division, one Bar
// allocation and, once per session segment, a segmentOf() call (Intl via @gateway/session, cached per hour there).
import type { Bar } from './bar';
import { BarCache, DEFAULT_CACHE_SIZE } from './cache';
import { BarsError } from './errors';
import { Atr, Ema, Sma } from './indicators';
import { segmentOf, type Segment } from './session-grid';
import { DEFAULT_TIMEFRAMES, toTimeframe, type Timeframe } from './timeframe';

export const DEFAULT_ATR_PERIOD = 14;
export const DEFAULT_SMA_PERIODS: readonly number[] = Object.freeze([20]);
export const DEFAULT_EMA_PERIODS: readonly number[] = Object.freeze([20]);
/** How many recent trades the optional duplicate filter remembers, whatever the window. */
const DEDUPE_RING = 256;

export interface BarAggregatorOptions {
  /** Default DEFAULT_TIMEFRAMES (1s, 1m, 5m, 15m, 1h, 1d); at most 31 (closes are reported as a bitmask). */
  timeframes?: readonly (Timeframe | string)[];
  /** Closed bars kept per timeframe. Default 1000. */
  cacheSize?: number;
  /** Wilder ATR period. Default 14. */
  atrPeriod?: number;
  /** One SMA per period, on closes. Default [20]. */
  smaPeriods?: readonly number[];
  /** One EMA per period, on closes. Default [20]. */
  emaPeriods?: readonly number[];
  /**
   * Drop a trade identical in (ts, price, volume) to one seen whose ts is within this many ms of the newest ts
   * seen. Default 0 = off: the feed carries no trade ids and identical prints in the same millisecond are normal
   * (several 1-lot fills), so blind dedupe would drop real volume. Enable only for a feed known to repeat prints
   * (e.g. a re-subscription that replays the last trade).
   */
  dedupeWindowMs?: number;
  /**
   * Maintain ATR/SMA/EMA on close. Default true; false keeps bars and caches only (a recorder, or the benchmark's
   * oracle run that feeds another indicator library from onClose).
   */
  indicators?: boolean;
  /** Called once per closed bar, after the cache and indicators were updated. */
  onClose?: (series: BarSeries, bar: Bar) => void;
}

/** One timeframe of one contract: the in-progress bar, the cache of closed bars and the indicators. */
export class BarSeries {
  /** The bar being built, or null when none (no trade yet in this bucket, or closed by the timer). */
  current: Bar | null = null;
  /** Bucket of the latest opened (or, before any live trade, warmed) bar, [curStart, curEnd); kept after a timer close so later trades in it are late. */
  curStart = Number.NEGATIVE_INFINITY;
  curEnd = Number.NEGATIVE_INFINITY;
  /** Trades older than this timeframe's current bucket: counted, not applied (see README, late trades). */
  late = 0;
  /** Bars closed so far (live). */
  closedCount = 0;
  /** Start of the first bucket that received a live trade: the backfill seam. */
  firstLiveStart = Number.POSITIVE_INFINITY;
  readonly cache: BarCache;
  readonly atr: Atr;
  readonly sma: readonly Sma[];
  readonly ema: readonly Ema[];
  private readonly indicatorsOn: boolean;

  constructor(
    readonly timeframe: Timeframe,
    /** Position in the aggregator's timeframes: bit `index` of the close masks. */
    readonly index: number,
    cacheSize: number,
    atrPeriod: number,
    smaPeriods: readonly number[],
    emaPeriods: readonly number[],
    indicators = true,
  ) {
    this.indicatorsOn = indicators;
    this.cache = new BarCache(cacheSize);
    this.atr = new Atr(atrPeriod);
    this.sma = smaPeriods.map((p) => new Sma(p));
    this.ema = emaPeriods.map((p) => new Ema(p));
  }

  /** Feeds a closed bar to the cache and the indicators. */
  commit(bar: Bar): void {
    this.cache.push(bar);
    if (!this.indicatorsOn) return;
    this.atr.update(bar.high, bar.low, bar.close);
    for (let i = 0; i < this.sma.length; i++) this.sma[i]!.update(bar.close);
    for (let i = 0; i < this.ema.length; i++) this.ema[i]!.update(bar.close);
  }

  /**
   * Warms the cache and the indicators from history bars, oldest first (see historyToBars). Seam rule: live
   * wins. A history bar whose bucket starts at or after the first live bucket is dropped, because the live
   * aggregation already counts that bucket from its first trade on and adding the history's version would double
   * count. Older history bars go before the live closed bars; the indicators are then recomputed over the whole
   * merged sequence (O(bars), once), so they are right whether warm() runs before or after the first live trade.
   * Returns the number of history bars used.
   */
  warm(history: readonly Bar[]): number {
    const cutoff = Math.min(this.firstLiveStart, this.cache.size > 0 ? this.cache.at(0)!.startMs : Number.POSITIVE_INFINITY);
    const merged: Bar[] = [];
    let prevStart = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < history.length; i++) {
      const b = history[i]!;
      checkBar(b, `history[${i}]`);
      if (b.startMs <= prevStart) {
        throw new BarsError('BARS_BAD_BAR', `history[${i}].startMs`, 'history must be oldest first with distinct starts');
      }
      prevStart = b.startMs;
      if (b.startMs < cutoff && b.endMs <= cutoff) merged.push(b);
    }
    const used = merged.length;
    for (const b of this.cache.snapshot()) merged.push(b);
    this.cache.clear();
    this.atr.reset();
    for (const s of this.sma) s.reset();
    for (const e of this.ema) e.reset();
    for (const b of merged) this.commit(b);
    // Warmed before any live trade: a print delivered later for a bucket the cache now holds is late, as after a
    // timer close, instead of opening a second bar for that bucket (or one older than the newest held).
    const newest = this.cache.newest();
    if (this.current === null && newest !== undefined && newest.endMs > this.curEnd) {
      this.curStart = newest.startMs;
      this.curEnd = newest.endMs;
    }
    return used;
  }
}

function checkBar(b: Bar, field: string): void {
  for (const k of ['open', 'high', 'low', 'close', 'volume', 'startMs', 'endMs'] as const) {
    if (!Number.isSafeInteger(b[k])) throw new BarsError('BARS_BAD_BAR', `${field}.${k}`, `expected a safe integer, got ${String(b[k])}`);
  }
  if (b.high < b.low || b.high < b.open || b.high < b.close || b.low > b.open || b.low > b.close) {
    throw new BarsError('BARS_BAD_BAR', field, `inconsistent OHLC ${b.open}/${b.high}/${b.low}/${b.close}`);
  }
  if (b.volume < 0) throw new BarsError('BARS_BAD_BAR', `${field}.volume`, `negative volume ${b.volume}`);
  if (b.endMs <= b.startMs) throw new BarsError('BARS_BAD_BAR', `${field}.endMs`, 'endMs must be after startMs');
}

function checkPeriods(v: readonly number[] | undefined, def: readonly number[], field: string): readonly number[] {
  if (v === undefined) return def;
  if (!Array.isArray(v)) throw new BarsError('BARS_BAD_CONFIG', field, 'expected an array of periods');
  return v;
}

export class BarAggregator {
  readonly series: readonly BarSeries[];
  /** Trades applied (after the optional duplicate filter). */
  trades = 0;
  duplicatesDropped = 0;
  private readonly seg: Segment = { startMs: 0, endMs: 0, tradingDay: 0, session: false };
  private readonly onClose: ((series: BarSeries, bar: Bar) => void) | undefined;
  private readonly dedupeWindowMs: number;
  private readonly dupTs: Float64Array;
  private readonly dupPrice: Float64Array;
  private readonly dupVol: Float64Array;
  private dupNext = 0;
  private dupCount = 0;
  private maxTs = Number.NEGATIVE_INFINITY;

  constructor(opts: BarAggregatorOptions = {}) {
    const tfs = (opts.timeframes ?? DEFAULT_TIMEFRAMES).map((t, i) => toTimeframe(t, `timeframes[${i}]`));
    if (tfs.length === 0 || tfs.length > 31) {
      throw new BarsError('BARS_BAD_CONFIG', 'timeframes', `expected 1 to 31 timeframes, got ${tfs.length}`);
    }
    const names = new Set(tfs.map((t) => t.name));
    if (names.size !== tfs.length) throw new BarsError('BARS_BAD_CONFIG', 'timeframes', 'duplicate timeframe');
    const cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    const atrPeriod = opts.atrPeriod ?? DEFAULT_ATR_PERIOD;
    const sma = checkPeriods(opts.smaPeriods, DEFAULT_SMA_PERIODS, 'smaPeriods');
    const ema = checkPeriods(opts.emaPeriods, DEFAULT_EMA_PERIODS, 'emaPeriods');
    this.series = Object.freeze(tfs.map((tf, i) => new BarSeries(tf, i, cacheSize, atrPeriod, sma, ema, opts.indicators ?? true)));
    const win = opts.dedupeWindowMs ?? 0;
    if (!Number.isSafeInteger(win) || win < 0) {
      throw new BarsError('BARS_BAD_CONFIG', 'dedupeWindowMs', `expected a non-negative integer, got ${String(win)}`);
    }
    this.dedupeWindowMs = win;
    const ring = win > 0 ? DEDUPE_RING : 0;
    this.dupTs = new Float64Array(ring);
    this.dupPrice = new Float64Array(ring);
    this.dupVol = new Float64Array(ring);
    this.onClose = opts.onClose;
  }

  /** The series of a timeframe by name (`'5m'`), or undefined. */
  get(name: string): BarSeries | undefined {
    return this.series.find((s) => s.timeframe.name === name);
  }

  /**
   * Folds one trade into every timeframe. Returns a bitmask of the timeframes whose bar closed because this
   * trade landed in a later bucket (bit i = series[i]); the in-progress bars are `series[i].current`.
   * Returns 0 for a dropped duplicate. Throws BarsError BARS_BAD_TRADE on a non-integer price, a volume < 1 or
   * a non-integer timestamp.
   */
  onTrade(priceUnits: number, volume: number, tsMs: number): number {
    if (!Number.isSafeInteger(priceUnits)) throw badTrade('priceUnits', priceUnits);
    if (!Number.isSafeInteger(volume) || volume < 1) throw badTrade('volume', volume);
    if (!Number.isSafeInteger(tsMs)) throw badTrade('tsMs', tsMs);
    if (this.dedupeWindowMs > 0 && this.isDuplicate(priceUnits, volume, tsMs)) {
      this.duplicatesDropped++;
      return 0;
    }
    this.trades++;
    let mask = 0;
    const series = this.series;
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      if (tsMs >= s.curEnd) {
        if (s.current !== null) {
          this.close(s);
          mask |= 1 << i;
        }
        this.open(s, priceUnits, volume, tsMs);
      } else if (tsMs >= s.curStart && s.current !== null) {
        const b = s.current;
        if (priceUnits > b.high) b.high = priceUnits;
        else if (priceUnits < b.low) b.low = priceUnits;
        if (tsMs >= b.closeTs) {
          b.close = priceUnits;
          b.closeTs = tsMs;
        } else if (tsMs < b.openTs) {
          b.open = priceUnits;
          b.openTs = tsMs;
        }
        b.volume += volume;
        b.trades++;
      } else {
        // Older than the current bucket, or inside a bucket the timer already closed.
        s.late++;
      }
    }
    return mask;
  }

  /**
   * Closes every in-progress bar whose bucket ended at or before `nowMs` (the timer path, so a bar closes on time
   * in a quiet market). A bar closes exactly once: by this or by a later trade, whichever comes first. Pass the
   * exchange-time estimate minus a grace for feed latency, or late prints become late trades. Returns the mask.
   */
  closeUpTo(nowMs: number): number {
    if (typeof nowMs !== 'number' || Number.isNaN(nowMs)) {
      throw new BarsError('BARS_BAD_CONFIG', 'nowMs', `expected a time in epoch ms, got ${String(nowMs)}`);
    }
    let mask = 0;
    for (let i = 0; i < this.series.length; i++) {
      const s = this.series[i]!;
      if (s.current !== null && s.curEnd <= nowMs) {
        this.close(s);
        mask |= 1 << i;
      }
    }
    return mask;
  }

  private close(s: BarSeries): void {
    const bar = s.current!;
    s.current = null;
    s.commit(bar);
    s.closedCount++;
    if (this.onClose !== undefined) this.onClose(s, bar);
  }

  private open(s: BarSeries, price: number, volume: number, ts: number): void {
    const seg = this.seg;
    if (!(ts >= seg.startMs && ts < seg.endMs)) segmentOf(ts, seg);
    let start: number;
    let end: number;
    const len = s.timeframe.ms;
    if (len === 0) {
      start = seg.startMs;
      end = seg.endMs;
    } else {
      start = seg.startMs + Math.floor((ts - seg.startMs) / len) * len;
      end = start + len;
      if (end > seg.endMs) end = seg.endMs;
    }
    s.curStart = start;
    s.curEnd = end;
    if (s.firstLiveStart === Number.POSITIVE_INFINITY) s.firstLiveStart = start;
    s.current = {
      startMs: start,
      endMs: end,
      open: price,
      high: price,
      low: price,
      close: price,
      volume,
      trades: 1,
      tradingDay: seg.tradingDay,
      session: seg.session,
      openTs: ts,
      closeTs: ts,
    };
  }

  private isDuplicate(price: number, vol: number, ts: number): boolean {
    if (ts > this.maxTs) this.maxTs = ts;
    const oldest = this.maxTs - this.dedupeWindowMs;
    const n = this.dupCount;
    for (let i = 0; i < n; i++) {
      if (this.dupTs[i] === ts && this.dupPrice[i] === price && this.dupVol[i] === vol && ts >= oldest) return true;
    }
    const j = this.dupNext;
    this.dupTs[j] = ts;
    this.dupPrice[j] = price;
    this.dupVol[j] = vol;
    this.dupNext = j + 1 === this.dupTs.length ? 0 : j + 1;
    if (this.dupCount < this.dupTs.length) this.dupCount++;
    return false;
  }
}

function badTrade(field: string, v: number): BarsError {
  return new BarsError('BARS_BAD_TRADE', field, `expected a safe integer${field === 'volume' ? ' ≥ 1' : ''}, got ${String(v)}`);
}
