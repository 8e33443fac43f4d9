// mergeOpenBar, the rule an open-bar fill follows (pure): which history bars of the finer unit go into the open bar
// of a longer timeframe, and how they merge with the trades seen live; and the one request fillOpenBars makes.
import { describe, expect, it } from 'vitest';
import { BarAggregator, copyBar, parseTimeframe, type Bar } from '@gateway/bars';
import type { RetrieveBarsRequest } from '@gateway/topstepx';
import { bucketOf, fillOpenBars, mergeOpenBar } from '../src/backfill';

const HOUR = parseTimeframe('1h');
const P = 1_000_000_000; // one dollar in price units
// A Wednesday 14:00 UTC: inside the CME session, the hour bucket [T0, T0 + 1 h).
const T0 = Date.UTC(2026, 10, 25, 14, 0, 0);

function second(t: number, o: number, h: number, l: number, c: number, v: number): Bar {
  return { startMs: t, endMs: t + 1_000, open: o * P, high: h * P, low: l * P, close: c * P, volume: v, trades: 0, tradingDay: 0, session: true, openTs: t, closeTs: t };
}

function hourly(): BarAggregator {
  return new BarAggregator({ timeframes: ['1h'], cacheSize: 10 });
}

describe('mergeOpenBar', () => {
  it('takes only the history bars wholly inside the window, none at either edge', () => {
    const agg = hourly();
    const s = agg.series[0]!;
    agg.onTrade(100 * P, 2, T0 + 10_000);
    agg.onTrade(101 * P, 1, T0 + 20_400); // the newest print before the loss
    const before = copyBar(s.current!);
    const history = [
      second(T0 + 20_000, 101, 101, 101, 101, 1), // holds the last live print: before the window
      second(T0 + 21_000, 101, 130, 101, 110, 5),
      second(T0 + 29_000, 110, 110, 70, 90, 4),
      second(T0 + 30_000, 90, 95, 90, 95, 3), // ends after the window's end (the first print after the return)
    ];
    expect(mergeOpenBar(s, history, [{ fromMs: T0 + 20_401, toMs: T0 + 30_500 }], T0 + 31_000)).toBe(true);
    expect(s.current).toMatchObject({ open: before.open, high: 130 * P, low: 70 * P, volume: before.volume + 9, trades: before.trades });
    // The close is the history's until a live trade comes after the spell, which then takes it.
    expect(s.current!.close).toBe(90 * P);
    agg.onTrade(96 * P, 1, T0 + 30_600);
    expect(s.current).toMatchObject({ close: 96 * P, volume: before.volume + 10, high: 130 * P, low: 70 * P });
  });

  it('takes the spells of one request, not the stretch seen live between them', () => {
    const agg = hourly();
    const s = agg.series[0]!;
    agg.onTrade(100 * P, 1, T0 + 1_000);
    agg.onTrade(100 * P, 1, T0 + 12_500); // seen live between two losses
    const history = [
      second(T0 + 5_000, 100, 101, 100, 101, 2),
      second(T0 + 12_000, 100, 140, 100, 100, 1), // holds the live print: in neither spell
      second(T0 + 20_000, 101, 102, 60, 102, 3),
    ];
    const spells = [
      { fromMs: T0 + 1_001, toMs: T0 + 12_500 },
      { fromMs: T0 + 12_501, toMs: T0 + 30_000 },
    ];
    expect(mergeOpenBar(s, history, spells, T0 + 31_000)).toBe(true);
    expect(s.current).toMatchObject({ open: 100 * P, high: 102 * P, low: 60 * P, close: 102 * P, volume: 7 });
  });

  it('gives a bucket that began in the spell the history open; a live close after the spell stays', () => {
    const agg = hourly();
    const s = agg.series[0]!;
    // The first trade seen after the return opened the bucket; the spell had trades from its start.
    agg.onTrade(105 * P, 1, T0 + 40_000);
    const history = [second(T0, 100, 102, 99, 101, 3), second(T0 + 1_000, 101, 104, 101, 104, 2)];
    expect(mergeOpenBar(s, history, [{ fromMs: T0 - 30_000, toMs: T0 + 39_000 }], T0 + 41_000)).toBe(true);
    expect(s.current).toMatchObject({ startMs: T0, open: 100 * P, high: 105 * P, low: 99 * P, close: 105 * P, volume: 6 });
  });

  it('opens the bar from history when no live trade came yet, and later trades fold into it', () => {
    const agg = hourly();
    const s = agg.series[0]!;
    const history = [second(T0 + 5_000, 100, 103, 100, 102, 4), second(T0 + 7_000, 102, 102, 98, 99, 2)];
    expect(mergeOpenBar(s, history, [{ fromMs: T0, toMs: T0 + 10_000 }], T0 + 11_000)).toBe(true);
    const seg = bucketOf(HOUR, T0);
    expect(s.current).toMatchObject({ startMs: seg.startMs, endMs: seg.endMs, open: 100 * P, high: 103 * P, low: 98 * P, close: 99 * P, volume: 6, trades: 0 });
    expect(agg.onTrade(101 * P, 1, T0 + 12_000)).toBe(0);
    expect(s.current).toMatchObject({ close: 101 * P, volume: 7, trades: 1 });
    expect(agg.closeUpTo(seg.endMs)).toBe(1);
    expect(s.cache.newest()).toMatchObject({ startMs: seg.startMs, high: 103 * P, low: 98 * P, volume: 7 });
  });

  it('leaves a bucket alone once it has closed, and bars outside the open bucket', () => {
    const agg = hourly();
    const s = agg.series[0]!;
    agg.onTrade(100 * P, 1, T0 + 1_000);
    agg.closeUpTo(T0 + 3_600_000);
    // Closed (by the timer, or early by a clock ahead of the caller's): the closed-bucket repair's business.
    expect(mergeOpenBar(s, [second(T0 + 2_000, 100, 120, 100, 100, 1)], [{ fromMs: T0 + 1_001, toMs: T0 + 3_000 }], T0 + 3_000)).toBe(false);
    expect(s.current).toBeNull();
    expect(s.cache.newest()!.high).toBe(100 * P);
    // An open bar takes nothing from a neighbouring bucket.
    agg.onTrade(100 * P, 1, T0 + 3_600_500);
    expect(mergeOpenBar(s, [second(T0 + 3_599_000, 100, 120, 100, 100, 1)], [{ fromMs: T0, toMs: T0 + 3_600_400 }], T0 + 3_601_000)).toBe(false);
    expect(s.current!.high).toBe(100 * P);
  });
});

describe('fillOpenBars', () => {
  it('makes one request per contract: 1 s bars over a short spell, 1 min bars when the span passes an hour', async () => {
    const calls: RetrieveBarsRequest[] = [];
    const api = {
      retrieveBars: async (req: RetrieveBarsRequest) => {
        calls.push(req);
        return [];
      },
    };
    const agg = new BarAggregator({ timeframes: ['1s', '1m', '1h', '1d'], cacheSize: 10 });
    agg.onTrade(100 * P, 1, T0 + 1_000);
    const now = (): number => T0 + 301_000;
    // A five-minute outage: the span is the spell, whatever the open 1d bucket's start.
    await fillOpenBars(api, 'C', false, agg.series, [{ fromMs: T0 + 1_001, toMs: T0 + 300_000 }], now, () => false);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ unit: 1, unitNumber: 1, startTime: new Date(T0 + 1_001).toISOString(), endTime: new Date(T0 + 300_000).toISOString(), includePartialBar: false });
    // Nothing seen before the loss: the span runs from the open 1d bucket's start (17:00 CT the day before).
    await fillOpenBars(api, 'C', false, agg.series, [{ fromMs: Number.NEGATIVE_INFINITY, toMs: T0 + 300_000 }], now, () => false);
    expect(calls).toHaveLength(2);
    expect(calls[1]).toMatchObject({ unit: 2, unitNumber: 1, startTime: new Date(bucketOf(parseTimeframe('1d'), T0).startMs).toISOString() });
    // Only the timeframes no longer than the unit: nothing to fill, no request.
    const short = new BarAggregator({ timeframes: ['1s'], cacheSize: 10 });
    await fillOpenBars(api, 'C', false, short.series, [{ fromMs: T0, toMs: T0 + 300_000 }], now, () => false);
    expect(calls).toHaveLength(2);
  });
});
