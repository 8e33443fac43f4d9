// The engine configuration keys of this service and the daily-from-hourly warm-up.
import { describe, expect, it } from 'vitest';
import { historyToBars, segmentOf } from '@gateway/bars';
import { ConfigError, loadConfig } from '@gateway/runtime';
import { dailyFromHourly } from '../src/backfill';

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
