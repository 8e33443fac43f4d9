// Replays the committed trade file (fixtures/generate-trades.ts) and compares with a reference computed
// separately here: a plain group-by on Chicago wall-clock keys taken straight from Intl, with the trading day
// rule written out by hand. It shares no code with the lib's bucketing.
import { ATR, EMA, SMA } from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import { BarAggregator, DEFAULT_TIMEFRAMES, type Bar } from '../src';
import { loadReplay, wall, type Trade, type Wall } from './helpers';

const DAY_MS = 86_400_000;

function tradingDate(w: Wall): number {
  // From 17:00 CT a trade belongs to the next date; Saturday and Sunday roll to Monday.
  let d = new Date(Date.UTC(w.y, w.mo - 1, w.d) + (w.h >= 17 ? DAY_MS : 0));
  while (d.getUTCDay() === 6 || d.getUTCDay() === 0) d = new Date(d.getTime() + DAY_MS);
  return d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

function key(name: string, w: Wall): string {
  const day = `${w.y}-${w.mo}-${w.d}`;
  switch (name) {
    case '1s':
      return `${day} ${w.h}:${w.mi}:${w.s}`;
    case '1m':
      return `${day} ${w.h}:${w.mi}`;
    case '5m':
      return `${day} ${w.h}:${Math.floor(w.mi / 5) * 5}`;
    case '15m':
      return `${day} ${w.h}:${Math.floor(w.mi / 15) * 15}`;
    case '1h':
      return `${day} ${w.h}`;
    case '1d':
      return `D${tradingDate(w)}`;
    default:
      throw new Error(`no reference for ${name}`);
  }
}

interface RefBar {
  key: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
}

function reference(trades: Trade[], name: string): RefBar[] {
  const groups = new Map<string, RefBar>();
  for (const t of trades) {
    const k = key(name, wall(t.ts));
    const g = groups.get(k);
    if (!g) groups.set(k, { key: k, o: t.price, h: t.price, l: t.price, c: t.price, v: t.volume, n: 1 });
    else {
      g.h = Math.max(g.h, t.price);
      g.l = Math.min(g.l, t.price);
      g.c = t.price;
      g.v += t.volume;
      g.n += 1;
    }
  }
  return [...groups.values()];
}

function asRef(name: string, b: Bar): RefBar {
  return {
    key: name === '1d' ? `D${b.tradingDay}` : key(name, wall(b.startMs)),
    o: b.open,
    h: b.high,
    l: b.low,
    c: b.close,
    v: b.volume,
    n: b.trades,
  };
}

describe('replay of fixtures/trades-2026-03-dst.csv', () => {
  const trades = loadReplay();
  const agg = new BarAggregator({ cacheSize: 10_000 });
  for (const t of trades) agg.onTrade(t.price, t.volume, t.ts);
  agg.closeUpTo(Number.POSITIVE_INFINITY);

  it('is a few thousand trades crossing the spring-forward and a daily break', () => {
    expect(trades.length).toBeGreaterThan(2000);
    expect(trades[0]!.ts).toBeLessThan(Date.parse('2026-03-08T08:00:00Z'));
    expect(trades.at(-1)!.ts).toBeGreaterThan(Date.parse('2026-03-09T22:00:00Z'));
  });

  for (const tf of DEFAULT_TIMEFRAMES) {
    it(`${tf.name} bars equal the Intl group-by reference`, () => {
      const ours = agg.get(tf.name)!.cache.snapshot();
      expect(ours.map((b) => asRef(tf.name, b))).toEqual(reference(trades, tf.name));
      for (const b of ours) {
        const w = wall(b.startMs);
        // Starts are on the wall clock (whole units), never inside the break.
        if (tf.ms > 0) expect((w.h * 3600 + w.mi * 60 + w.s) % (tf.ms / 1000)).toBe(0);
        expect(w.h).not.toBe(16);
        expect(b.session).toBe(true);
      }
    });
  }

  it('builds three trading days whose 1d bars run 17:00 → 16:00 CT', () => {
    const days = agg.get('1d')!.cache.snapshot();
    expect(days.map((b) => b.tradingDay)).toEqual([20260306, 20260309, 20260310]);
    for (const b of days) {
      expect(wall(b.startMs)).toMatchObject({ h: 17, mi: 0, s: 0 });
      expect(wall(b.endMs)).toMatchObject({ h: 16, mi: 0, s: 0 });
    }
    expect(days[1]!.endMs - days[1]!.startMs).toBe(23 * 3_600_000);
  });

  for (const name of ['1s', '1m', '5m']) {
    it(`${name} indicators on replayed bars match technicalindicators within 1 unit`, () => {
      const s = agg.get(name)!;
      const bars = s.cache.snapshot();
      const a = new BarAggregator({ timeframes: [name], cacheSize: 10_000 });
      const series = a.get(name)!;
      const oSma = new SMA({ period: 20, values: [] });
      const oEma = new EMA({ period: 20, values: [] });
      const oAtr = new ATR({ period: 14, high: [], low: [], close: [] });
      let compared = 0;
      for (const b of bars) {
        series.commit(b);
        const exp = [
          oSma.nextValue(b.close),
          oEma.nextValue(b.close),
          oAtr.nextValue({ high: b.high, low: b.low, close: b.close }),
        ];
        const got = [series.sma[0]!.value, series.ema[0]!.value, series.atr.value];
        for (let i = 0; i < 3; i++) {
          if (exp[i] === undefined) expect(got[i]).toBeUndefined();
          else {
            expect(Math.abs(got[i]! - exp[i]!)).toBeLessThanOrEqual(1);
            compared++;
          }
        }
      }
      // The live aggregator computed the same values while replaying.
      expect([s.sma[0]!.value, s.ema[0]!.value, s.atr.value]).toEqual([series.sma[0]!.value, series.ema[0]!.value, series.atr.value]);
      expect(compared).toBeGreaterThan(30);
    });
  }
});
