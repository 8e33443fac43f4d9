import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BarAggregator,
  BarCache,
  BarsError,
  historyToBars,
  Sma,
  Atr,
  Ema,
  type Bar,
  type BarSeries,
  type HistoryBarUnits,
} from '../src';
import { utc } from './helpers';

const T0 = utc('2026-07-15T14:00:00Z'); // Wed 09:00 CDT, mid-session
const P = 5000_000_000_000;
const TICK = 250_000_000;

function collect(opts: ConstructorParameters<typeof BarAggregator>[0] = {}): { agg: BarAggregator; closes: [string, Bar][] } {
  const closes: [string, Bar][] = [];
  const agg = new BarAggregator({ ...opts, onClose: (s: BarSeries, b: Bar) => closes.push([s.timeframe.name, b]) });
  return { agg, closes };
}

describe('BarAggregator', () => {
  it('builds OHLCV in place and reports closes as a bitmask when a trade lands in a later bucket', () => {
    const { agg, closes } = collect({ timeframes: ['1s', '1m'] });
    expect(agg.onTrade(P, 2, T0 + 100)).toBe(0);
    expect(agg.onTrade(P + 3 * TICK, 1, T0 + 200)).toBe(0);
    expect(agg.onTrade(P - TICK, 4, T0 + 900)).toBe(0);
    const cur = agg.get('1s')!.current!;
    expect([cur.open, cur.high, cur.low, cur.close, cur.volume, cur.trades]).toEqual([P, P + 3 * TICK, P - TICK, P - TICK, 7, 3]);
    expect(agg.onTrade(P, 1, T0 + 1000)).toBe(0b01);
    expect(closes.map(([n, b]) => [n, b.startMs, b.volume])).toEqual([['1s', T0, 7]]);
    expect(agg.get('1m')!.current!.volume).toBe(8);
  });

  it('makes no phantom bars in gaps: the next bar just starts later', () => {
    const { agg, closes } = collect({ timeframes: ['1m'] });
    agg.onTrade(P, 1, T0);
    agg.onTrade(P, 1, T0 + 10 * 60_000 + 5);
    agg.closeUpTo(Number.POSITIVE_INFINITY);
    expect(closes.map(([, b]) => b.startMs)).toEqual([T0, T0 + 10 * 60_000]);
  });

  it('closes a bar by timer exactly once, and a later trade in that bucket is late, not a second close', () => {
    const { agg, closes } = collect({ timeframes: ['1m', '5m'] });
    agg.onTrade(P, 1, T0 + 5_000);
    expect(agg.closeUpTo(T0 + 59_999)).toBe(0);
    expect(agg.closeUpTo(T0 + 60_000)).toBe(0b01);
    expect(agg.closeUpTo(T0 + 61_000)).toBe(0);
    expect(agg.onTrade(P, 1, T0 + 30_000)).toBe(0); // late for 1m, still current for 5m
    expect(agg.get('1m')!.late).toBe(1);
    expect(agg.get('5m')!.current!.volume).toBe(2);
    expect(agg.onTrade(P, 1, T0 + 65_000)).toBe(0); // opens the next 1m bar: nothing to close
    expect(closes.filter(([n]) => n === '1m')).toHaveLength(1);
    expect(agg.onTrade(P, 1, T0 + 120_000)).toBe(0b01);
    expect(closes.filter(([n]) => n === '1m').map(([, b]) => b.startMs)).toEqual([T0, T0 + 60_000]);
  });

  it('counts and drops late trades per timeframe without touching the closed bar', () => {
    const { agg, closes } = collect({ timeframes: ['1s', '1m'] });
    agg.onTrade(P, 1, T0);
    agg.onTrade(P, 1, T0 + 1500); // closes the 1s bar [T0, T0+1s)
    const closed = closes[0]![1];
    agg.onTrade(P + 10 * TICK, 5, T0 + 500); // late for 1s, in the current 1m bucket
    expect(closed.volume).toBe(1);
    expect(closed.high).toBe(P);
    expect(agg.get('1s')!.late).toBe(1);
    const m = agg.get('1m')!.current!;
    expect([m.volume, m.high, m.open, m.close]).toEqual([7, P + 10 * TICK, P, P]);
  });

  it('orders open and close by timestamp for out-of-order trades inside one bucket', () => {
    const agg = new BarAggregator({ timeframes: ['1m'] });
    agg.onTrade(P, 1, T0 + 20_000);
    agg.onTrade(P + TICK, 1, T0 + 10_000); // earlier: becomes the open
    agg.onTrade(P + 2 * TICK, 1, T0 + 15_000); // between: neither open nor close
    const b = agg.get('1m')!.current!;
    expect([b.open, b.close, b.high, b.low]).toEqual([P + TICK, P, P + 2 * TICK, P]);
  });

  it('applies identical prints by default (no trade ids), and drops them when dedupe is enabled', () => {
    const plain = new BarAggregator({ timeframes: ['1m'] });
    plain.onTrade(P, 1, T0);
    plain.onTrade(P, 1, T0);
    expect(plain.get('1m')!.current!.volume).toBe(2);
    expect(plain.duplicatesDropped).toBe(0);

    const dd = new BarAggregator({ timeframes: ['1m'], dedupeWindowMs: 1000 });
    dd.onTrade(P, 1, T0);
    dd.onTrade(P, 2, T0); // differs in volume: kept
    dd.onTrade(P, 1, T0); // duplicate: dropped
    dd.onTrade(P, 1, T0 + 5000); // same price and size later: kept
    dd.onTrade(P, 1, T0); // identical to one now older than the window: treated as late-but-new, applied
    expect(dd.duplicatesDropped).toBe(1);
    expect(dd.trades).toBe(4);
    expect(dd.get('1m')!.current!.volume).toBe(5);
  });

  it('rejects bad trades and config with codes naming the field', () => {
    const agg = new BarAggregator();
    const codeOf = (f: () => unknown): [string, string] => {
      try {
        f();
      } catch (e) {
        return [(e as BarsError).code, (e as BarsError).field];
      }
      return ['none', ''];
    };
    expect(codeOf(() => agg.onTrade(5000.25, 1, T0))).toEqual(['BARS_BAD_TRADE', 'priceUnits']);
    expect(codeOf(() => agg.onTrade(P, 0, T0))).toEqual(['BARS_BAD_TRADE', 'volume']);
    expect(codeOf(() => agg.onTrade(P, 1, Number.NaN))).toEqual(['BARS_BAD_TRADE', 'tsMs']);
    expect(codeOf(() => new BarAggregator({ timeframes: ['1m', '3x'] }))).toEqual(['BARS_BAD_TIMEFRAME', 'timeframes[1]']);
    expect(codeOf(() => new BarAggregator({ timeframes: ['1m', '1m'] }))).toEqual(['BARS_BAD_CONFIG', 'timeframes']);
    expect(codeOf(() => new BarAggregator({ cacheSize: 0 }))).toEqual(['BARS_BAD_CONFIG', 'cacheSize']);
    expect(codeOf(() => new BarAggregator({ dedupeWindowMs: -1 }))).toEqual(['BARS_BAD_CONFIG', 'dedupeWindowMs']);
    expect(agg.trades).toBe(0);
  });

  it('updates indicators on close and peeks the in-progress bar without committing', () => {
    const agg = new BarAggregator({ timeframes: ['1m'], atrPeriod: 2, smaPeriods: [2], emaPeriods: [2] });
    const s = agg.get('1m')!;
    const closes = [P, P + 4 * TICK, P + 2 * TICK, P + 6 * TICK];
    closes.forEach((c, i) => agg.onTrade(c, 1, T0 + i * 60_000));
    // Three closed bars (P, P+4, P+2), one in progress (P+6).
    expect(s.sma[0]!.value).toBe(P + 3 * TICK);
    const cur = s.current!;
    const peekSma = s.sma[0]!.peek(cur.close);
    const peekAtr = s.atr.peek(cur.high, cur.low, cur.close);
    const peekEma = s.ema[0]!.peek(cur.close);
    expect(peekSma).toBe(P + 4 * TICK);
    expect(s.sma[0]!.value).toBe(P + 3 * TICK); // not committed
    agg.closeUpTo(Number.POSITIVE_INFINITY);
    expect([s.sma[0]!.value, s.atr.value, s.ema[0]!.value]).toEqual([peekSma, peekAtr, peekEma]);
  });

  it('keeps the last N bars in a ring that wraps', () => {
    const agg = new BarAggregator({ timeframes: ['1s'], cacheSize: 5 });
    for (let i = 0; i < 13; i++) agg.onTrade(P + i, 1, T0 + i * 1000);
    agg.closeUpTo(Number.POSITIVE_INFINITY);
    const c = agg.get('1s')!.cache;
    expect(c.size).toBe(5);
    expect(c.snapshot().map((b) => b.close - P)).toEqual([8, 9, 10, 11, 12]);
    expect(c.snapshot(2).map((b) => b.close - P)).toEqual([11, 12]);
    expect(c.snapshot(99)).toHaveLength(5);
    expect(c.newest()!.close - P).toBe(12);
    expect(c.at(5)).toBeUndefined();
    expect(agg.get('1s')!.closedCount).toBe(13);
    const empty = new BarCache(3);
    expect(empty.snapshot()).toEqual([]);
  });
});

describe('backfill warm-up and the seam', () => {
  const MIN = 60_000;
  /** Broker bars, newest first, already converted to units. */
  function history(n: number, firstStart: number): HistoryBarUnits[] {
    const rows: HistoryBarUnits[] = [];
    for (let i = 0; i < n; i++) {
      const o = P + ((i * 7) % 11) * TICK;
      const c = P + ((i * 5) % 13) * TICK;
      rows.push({ t: firstStart + i * MIN, o, h: Math.max(o, c) + TICK, l: Math.min(o, c) - TICK, c, v: 10 + i });
    }
    return rows.reverse();
  }

  it('converts newest-first broker bars to closed bars oldest first, dropping the partial bar', () => {
    const rows = history(5, T0);
    const bars = historyToBars('1m', rows, T0 + 4 * MIN + 30_000); // the 5th bar is still in progress
    expect(bars.map((b) => b.startMs)).toEqual([T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    expect(bars[0]).toMatchObject({ endMs: T0 + MIN, tradingDay: 20260715, session: true, volume: 10, trades: 0 });
  });

  it('warms cache and indicators so they equal a run that saw every bar live', () => {
    const hist = historyToBars('1m', history(40, T0), T0 + 40 * MIN);
    const agg = new BarAggregator({ timeframes: ['1m'] });
    const s = agg.get('1m')!;
    expect(s.warm(hist)).toBe(40);
    const ref = { atr: new Atr(14), sma: new Sma(20), ema: new Ema(20) };
    for (const b of hist) {
      ref.atr.update(b.high, b.low, b.close);
      ref.sma.update(b.close);
      ref.ema.update(b.close);
    }
    expect([s.atr.value, s.sma[0]!.value, s.ema[0]!.value]).toEqual([ref.atr.value, ref.sma.value, ref.ema.value]);
    expect(s.atr.value).toBeDefined();
    expect(s.cache.size).toBe(40);
  });

  it('live wins at the seam: history for the first live bucket or later is dropped, so nothing is counted twice', () => {
    const agg = new BarAggregator({ timeframes: ['1m'] });
    const s = agg.get('1m')!;
    // Live starts mid-bucket 10, then bucket 11 closes bucket 10.
    agg.onTrade(P, 3, T0 + 10 * MIN + 20_000);
    agg.onTrade(P, 1, T0 + 11 * MIN + 1);
    // History arrives afterwards with bars 0..11 (it was fetched including the live period).
    const used = s.warm(historyToBars('1m', history(12, T0), T0 + 12 * MIN));
    expect(used).toBe(10);
    const snap = s.cache.snapshot();
    expect(snap.map((b) => (b.startMs - T0) / MIN)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(snap[10]!.volume).toBe(3); // the live bar, not history's 20
    expect(s.current!.volume).toBe(1);
    // A second, older history batch goes before everything already held.
    const older = historyToBars('1m', history(5, T0 - 5 * MIN), T0);
    expect(s.warm(older)).toBe(5);
    expect(s.cache.snapshot()[0]!.startMs).toBe(T0 - 5 * MIN);
    expect(s.cache.size).toBe(16);
  });

  it('warmed before any live trade: a delayed print for a bucket the history holds is late, not a second bar', () => {
    const agg = new BarAggregator({ timeframes: ['1m'] });
    const s = agg.get('1m')!;
    expect(s.warm(historyToBars('1m', history(10, T0), T0 + 10 * MIN))).toBe(10);
    // Stamped inside the newest history bucket (9) and an older one (3), delivered after the warm-up.
    expect(agg.onTrade(P, 7, T0 + 9 * MIN + 59_000)).toBe(0);
    agg.onTrade(P, 5, T0 + 3 * MIN);
    agg.onTrade(P, 1, T0 + 10 * MIN + 1);
    agg.onTrade(P, 1, T0 + 11 * MIN + 1);
    const starts = s.cache.snapshot().map((b) => (b.startMs - T0) / MIN);
    expect(starts).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(s.cache.at(9)!.volume).toBe(19); // history's bar 9, unchanged
    expect(s.late).toBe(2);
  });

  it('rejects inconsistent history bars', () => {
    const s = new BarAggregator({ timeframes: ['1m'] }).get('1m')!;
    const good = historyToBars('1m', history(2, T0), T0 + 2 * MIN);
    expect(() => s.warm([good[1]!, good[0]!])).toThrow(/oldest first/);
    expect(() => s.warm([{ ...good[0]!, high: good[0]!.low - 1 }])).toThrow(BarsError);
  });
});

describe('properties (fast-check)', () => {
  const trade = fc.record({
    dt: fc.integer({ min: -3_000, max: 90_000 }),
    ticks: fc.integer({ min: -40, max: 40 }),
    volume: fc.integer({ min: 1, max: 50 }),
  });

  it('every bar has high ≥ open, close ≥ low; volumes and trade counts sum to what was applied', () => {
    fc.assert(
      fc.property(fc.array(trade, { minLength: 1, maxLength: 300 }), (trades) => {
        const agg = new BarAggregator({ cacheSize: 400 });
        let t = T0;
        let applied = 0;
        for (const x of trades) {
          t += x.dt;
          agg.onTrade(P + x.ticks * TICK, x.volume, t);
          applied += x.volume;
        }
        agg.closeUpTo(Number.POSITIVE_INFINITY);
        for (const s of agg.series) {
          let vol = 0;
          let n = 0;
          let prevEnd = Number.NEGATIVE_INFINITY;
          for (const b of s.cache.snapshot()) {
            expect(b.high).toBeGreaterThanOrEqual(Math.max(b.open, b.close));
            expect(b.low).toBeLessThanOrEqual(Math.min(b.open, b.close));
            expect(b.startMs).toBeGreaterThanOrEqual(prevEnd);
            expect(b.endMs).toBeGreaterThan(b.startMs);
            prevEnd = b.endMs;
            vol += b.volume;
            n += b.trades;
          }
          expect(n + s.late).toBe(trades.length);
          if (s.late === 0) expect(vol).toBe(applied);
        }
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('in-order trades are never late and every timeframe sees the same total volume', () => {
    fc.assert(
      fc.property(fc.array(trade, { minLength: 1, maxLength: 300 }), (trades) => {
        const agg = new BarAggregator({ cacheSize: 400 });
        let t = T0;
        let total = 0;
        for (const x of trades) {
          t += Math.abs(x.dt);
          agg.onTrade(P + x.ticks * TICK, x.volume, t);
          total += x.volume;
        }
        agg.closeUpTo(Number.POSITIVE_INFINITY);
        for (const s of agg.series) {
          expect(s.late).toBe(0);
          expect(s.cache.snapshot().reduce((a, b) => a + b.volume, 0)).toBe(total);
        }
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('a timer interleaved with in-order trades changes nothing but who closes: each bar closes exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 120_000 }), ticks: fc.integer({ min: -20, max: 20 }), timer: fc.boolean() }), {
          minLength: 1,
          maxLength: 200,
        }),
        (trades) => {
          const plainCloses: Bar[] = [];
          const timedCloses: Bar[] = [];
          const plain = new BarAggregator({ onClose: (_s, b) => plainCloses.push(b) });
          const timed = new BarAggregator({ onClose: (_s, b) => timedCloses.push(b) });
          let t = T0;
          for (const x of trades) {
            t += x.dt;
            // The timer fires at most up to the next trade's time (it never runs ahead of the feed).
            if (x.timer) timed.closeUpTo(t);
            plain.onTrade(P + x.ticks * TICK, 1, t);
            timed.onTrade(P + x.ticks * TICK, 1, t);
          }
          plain.closeUpTo(Number.POSITIVE_INFINITY);
          timed.closeUpTo(Number.POSITIVE_INFINITY);
          timed.closeUpTo(Number.POSITIVE_INFINITY);
          const key = (b: Bar): string => `${b.startMs}/${b.endMs}`;
          expect(new Set(timedCloses).size).toBe(timedCloses.length);
          expect(timedCloses.length).toBe(plainCloses.length);
          for (const s of timed.series) {
            const keys = s.cache.snapshot().map(key);
            expect(new Set(keys).size).toBe(keys.length);
            expect(s.cache.snapshot()).toEqual(plain.series[s.index]!.cache.snapshot());
            expect(s.late).toBe(0);
          }
        },
      ),
      { numRuns: 150, seed: 13 },
    );
  });
});
