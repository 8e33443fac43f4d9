import { describe, expect, it } from 'vitest';
import { BarAggregator, segmentOf, type Bar } from '../src';
import { utc, wall } from './helpers';

const P = 5000_000_000_000;

function closedBars(agg: BarAggregator, name: string): Bar[] {
  return agg.get(name)!.cache.snapshot();
}

function run(trades: [string, number?][], timeframes?: string[]): BarAggregator {
  const agg = new BarAggregator(timeframes ? { timeframes } : {});
  for (const [iso, price] of trades) agg.onTrade(price ?? P, 1, utc(iso));
  agg.closeUpTo(Number.POSITIVE_INFINITY);
  return agg;
}

describe('session alignment', () => {
  it('crosses the 2026-03-08 spring-forward: Friday bars in CST, Sunday evening bars in CDT, both on the wall clock', () => {
    const agg = run([
      ['2026-03-06T21:59:30Z'], // Fri 15:59:30 CST
      ['2026-03-08T22:00:00Z'], // Sun 17:00:00 CDT: first session after the switch
      ['2026-03-08T22:07:10Z'], // Sun 17:07:10 CDT
    ]);
    expect(closedBars(agg, '1h').map((b) => [b.startMs, b.endMs])).toEqual([
      [utc('2026-03-06T21:00:00Z'), utc('2026-03-06T22:00:00Z')], // 15:00–16:00 CST
      [utc('2026-03-08T22:00:00Z'), utc('2026-03-08T23:00:00Z')], // 17:00–18:00 CDT
    ]);
    expect(closedBars(agg, '5m').map((b) => b.startMs)).toEqual([
      utc('2026-03-06T21:55:00Z'),
      utc('2026-03-08T22:00:00Z'),
      utc('2026-03-08T22:05:00Z'),
    ]);
    const days = closedBars(agg, '1d');
    expect(days.map((b) => [b.tradingDay, b.startMs, b.endMs, b.volume])).toEqual([
      [20260306, utc('2026-03-05T23:00:00Z'), utc('2026-03-06T22:00:00Z'), 1], // Thu 17:00 CST → Fri 16:00 CST
      [20260309, utc('2026-03-08T22:00:00Z'), utc('2026-03-09T21:00:00Z'), 2], // Sun 17:00 CDT → Mon 16:00 CDT
    ]);
    for (const b of days) expect([wall(b.startMs).h, wall(b.startMs).mi, wall(b.endMs).h]).toEqual([17, 0, 16]);
  });

  it('crosses the 2026-11-01 fall-back: Friday in CDT, Sunday evening in CST', () => {
    const agg = run([
      ['2026-10-30T20:15:00Z'], // Fri 15:15 CDT
      ['2026-11-01T23:00:00Z'], // Sun 17:00 CST
      ['2026-11-02T05:59:59Z'], // Sun 23:59:59 CST
      ['2026-11-02T06:00:00Z'], // Mon 00:00:00 CST
    ]);
    expect(closedBars(agg, '1h').map((b) => wall(b.startMs).h)).toEqual([15, 17, 23, 0]);
    expect(closedBars(agg, '15m').map((b) => b.startMs)).toEqual([
      utc('2026-10-30T20:15:00Z'),
      utc('2026-11-01T23:00:00Z'),
      utc('2026-11-02T05:45:00Z'),
      utc('2026-11-02T06:00:00Z'),
    ]);
    expect(closedBars(agg, '1d').map((b) => [b.tradingDay, b.startMs])).toEqual([
      [20261030, utc('2026-10-29T22:00:00Z')], // Thu 17:00 CDT
      [20261102, utc('2026-11-01T23:00:00Z')], // Sun 17:00 CST
    ]);
  });

  it('honours the daily break: the last bars end at 16:00 CT, the next trading day starts at 17:00 CT', () => {
    const agg = run([
      ['2026-07-15T20:59:59.999Z'], // Wed 15:59:59.999 CDT
      ['2026-07-15T22:00:00.000Z'], // Wed 17:00:00.000 CDT, trading day Thu 16
    ]);
    for (const name of ['1s', '1m', '5m', '15m', '1h', '1d']) {
      const bars = closedBars(agg, name);
      expect(bars).toHaveLength(2);
      expect(bars[0]!.endMs).toBeLessThanOrEqual(utc('2026-07-15T21:00:00Z'));
      expect(bars[1]!.startMs).toBe(utc('2026-07-15T22:00:00Z'));
      for (const b of bars) {
        const h = wall(b.startMs).h;
        expect(h === 16).toBe(false);
      }
    }
    expect(closedBars(agg, '1d').map((b) => b.tradingDay)).toEqual([20260715, 20260716]);
  });

  it('starts frames that do not divide the hour at the session open and cuts the last one at 16:00 CT', () => {
    const agg = run(
      [
        ['2026-07-14T22:00:00Z'], // Tue 17:00 CDT (day 20260715)
        ['2026-07-14T22:08:00Z'], // 17:08 → 7m bucket 17:07
        ['2026-07-15T20:59:30Z'], // Wed 15:59:30 → 7m bucket 15:59–16:00, 90m bucket 15:30–16:00
      ],
      ['7m', '90m'],
    );
    expect(closedBars(agg, '7m').map((b) => [b.startMs, b.endMs])).toEqual([
      [utc('2026-07-14T22:00:00Z'), utc('2026-07-14T22:07:00Z')],
      [utc('2026-07-14T22:07:00Z'), utc('2026-07-14T22:14:00Z')],
      [utc('2026-07-15T20:59:00Z'), utc('2026-07-15T21:00:00Z')],
    ]);
    expect(closedBars(agg, '90m').map((b) => [b.startMs, b.endMs])).toEqual([
      [utc('2026-07-14T22:00:00Z'), utc('2026-07-14T23:30:00Z')],
      [utc('2026-07-15T20:30:00Z'), utc('2026-07-15T21:00:00Z')],
    ]);
  });

  it('gives out-of-session prints (break, weekend) their own bars flagged session:false', () => {
    const agg = run([
      ['2026-07-15T20:30:00Z'], // Wed 15:30 CDT, in session
      ['2026-07-15T21:30:00Z'], // Wed 16:30 CDT, the break
      ['2026-07-18T17:00:00Z'], // Sat 12:00 CDT, the weekend
    ]);
    const days = closedBars(agg, '1d');
    expect(days.map((b) => [b.session, b.tradingDay, b.startMs, b.endMs])).toEqual([
      [true, 20260715, utc('2026-07-14T22:00:00Z'), utc('2026-07-15T21:00:00Z')],
      [false, 20260715, utc('2026-07-15T21:00:00Z'), utc('2026-07-15T22:00:00Z')],
      [false, 20260720, utc('2026-07-17T22:00:00Z'), utc('2026-07-19T22:00:00Z')],
    ]);
    expect(closedBars(agg, '1h').map((b) => [b.session, wall(b.startMs).h])).toEqual([
      [true, 15],
      [false, 16],
      [false, 12],
    ]);
  });

  it('keeps the weekend grid on the wall clock across the spring-forward', () => {
    const seg = segmentOf(utc('2026-03-07T18:00:00Z')); // Sat 12:00 CST
    expect(seg).toEqual({
      startMs: utc('2026-03-06T23:00:00Z'), // Fri 17:00 CST
      endMs: utc('2026-03-08T22:00:00Z'), // Sun 17:00 CDT (47 h later)
      tradingDay: 20260309,
      session: false,
    });
    const agg = run([['2026-03-08T15:30:00Z']], ['1h']); // Sun 10:30 CDT
    expect(wall(closedBars(agg, '1h')[0]!.startMs)).toMatchObject({ h: 10, mi: 0, s: 0 });
  });
});
