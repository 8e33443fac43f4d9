// The engine configuration keys of this service, the daily-from-hourly warm-up and the merge of a repair.
import { describe, expect, it } from 'vitest';
import { BarAggregator, historyToBars, segmentOf } from '@gateway/bars';
import { ConfigError, loadConfig } from '@gateway/runtime';
import { dailyFromHourly, mergeRepair } from '../src/backfill';

describe('MARKET_DATA_TIMEFRAMES and BAR_CACHE_SIZE', () => {
  it('default to the issue set and 1000', () => {
    const c = loadConfig({});
    expect(c.marketDataTimeframes).toEqual(['1s', '1m', '5m', '15m', '1h', '1d']);
    expect(c.barCacheSize).toBe(1000);
    expect(loadConfig({ MARKET_DATA_TIMEFRAMES: ' 1s, 90m ,4h', BAR_CACHE_SIZE: '50' })).toMatchObject({ marketDataTimeframes: ['1s', '90m', '4h'], barCacheSize: 50 });
  });

  it.each([
    ['MARKET_DATA_TIMEFRAMES', '1m,7x'],
    ['MARKET_DATA_TIMEFRAMES', '2d'],
    ['MARKET_DATA_TIMEFRAMES', '25h'],
    ['MARKET_DATA_TIMEFRAMES', '1m,1m'],
    ['MARKET_DATA_TIMEFRAMES', ','],
    ['BAR_CACHE_SIZE', '0'],
    ['BAR_CACHE_SIZE', 'many'],
  ])('%s=%s is refused naming the key', (key, value) => {
    let err: unknown;
    try {
      loadConfig({ [key]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe(key);
  });
});

describe('dailyFromHourly', () => {
  it('groups closed hourly bars into 17:00–16:00 CT trading days and leaves the current day out', () => {
    // Tue 2026-11-24 17:00 CT = 23:00 UTC: the session of Wed 2026-11-25 opens.
    const open = Date.UTC(2026, 10, 24, 23);
    const H = 3_600_000;
    const rows = [];
    for (let i = 0; i < 23; i++) rows.push({ t: open + i * H, o: 100 + i, h: 110 + i, l: 90 + i, c: 105 + i, v: 10 });
    rows.push({ t: open + 24 * H, o: 500, h: 510, l: 490, c: 505, v: 7 }); // the next session's first hour
    const now = open + 25 * H;
    const daily = dailyFromHourly(historyToBars('1h', rows, now), now);
    expect(daily).toHaveLength(1);
    const d = daily[0]!;
    const seg = segmentOf(open);
    expect(d).toMatchObject({ startMs: seg.startMs, endMs: seg.endMs, open: 100, high: 132, low: 90, close: 127, volume: 230, tradingDay: 20261125, session: true });
  });
});

describe('mergeRepair', () => {
  const P = 1_000_000_000;
  // Wed 2026-11-25 15:00 UTC, inside the session: 1 m buckets on the minute.
  const t0 = Date.UTC(2026, 10, 25, 15);
  const M = 60_000;

  it('takes the broker bars that differ or are missing, keeps the rest, leaves the open bar live and recomputes the indicators', () => {
    const agg = new BarAggregator({ timeframes: ['1m'], cacheSize: 10, atrPeriod: 2, smaPeriods: [2], emaPeriods: [2] });
    const s = agg.series[0]!;
    agg.onTrade(100 * P, 1, t0 + 1_000); // minute 0: complete
    agg.onTrade(101 * P, 1, t0 + M + 1_000); // minute 1: partial (the gap ate a trade)
    agg.onTrade(103 * P, 2, t0 + 3 * M + 1_000); // minute 2 missing; minute 3 open
    const now = t0 + 3 * M + 2_000;
    const rows = [
      { t: t0, o: 100 * P, h: 100 * P, l: 100 * P, c: 100 * P, v: 1 },
      { t: t0 + M, o: 101 * P, h: 104 * P, l: 101 * P, c: 104 * P, v: 3 },
      { t: t0 + 2 * M, o: 102 * P, h: 102 * P, l: 99 * P, c: 99 * P, v: 5 },
      { t: t0 + 2 * M + 30_000, o: 1 * P, h: 1 * P, l: 1 * P, c: 1 * P, v: 1 }, // off our grid
    ];
    // The open minute's broker bar (includePartialBar) must not replace the live one.
    const history = historyToBars('1m', rows, now);
    history.push({ ...history[0]!, startMs: t0 + 3 * M, endMs: t0 + 4 * M, close: 1 * P, low: 1 * P, open: 1 * P, high: 1 * P });
    const taken = mergeRepair(s, history);
    expect(taken.map((b) => b.startMs)).toEqual([t0 + M, t0 + 2 * M]);
    const cached = s.cache.snapshot();
    expect(cached.map((b) => [b.startMs, b.close, b.volume])).toEqual([
      [t0, 100 * P, 1],
      [t0 + M, 104 * P, 3],
      [t0 + 2 * M, 99 * P, 5],
    ]);
    expect(s.current).toMatchObject({ startMs: t0 + 3 * M, close: 103 * P, volume: 2 });
    expect(s.sma[0]!.value).toBe((104 * P + 99 * P) / 2);
    expect(s.atr.value).toBe(((104 - 100) * P + (104 - 99) * P) / 2);
    expect(mergeRepair(s, history)).toEqual([]);
  });
});
