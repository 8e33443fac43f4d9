import fc from 'fast-check';
import { ATR, EMA, SMA } from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import { Atr, BarsError, divRoundHalfEven, Ema, roundHalfEven, Sma } from '../src';
import { mulberry32 } from './fixtures/rng';

const TICK = 250_000_000; // 0.25 in price units

interface Ohlc {
  h: number;
  l: number;
  c: number;
}

function randomBars(seed: number, n: number, start = 5000 * 1e9): Ohlc[] {
  const rnd = mulberry32(seed);
  let c = start;
  const out: Ohlc[] = [];
  for (let i = 0; i < n; i++) {
    const o = c + (Math.floor(rnd() * 9) - 4) * TICK;
    c = o + (Math.floor(rnd() * 21) - 10) * TICK;
    const h = Math.max(o, c) + Math.floor(rnd() * 6) * TICK;
    const l = Math.min(o, c) - Math.floor(rnd() * 6) * TICK;
    out.push({ h, l, c });
  }
  return out;
}

/** The documented tolerance: our value is the oracle's float rounded half-even, ±1 unit (1e-9) of float noise. */
function expectClose(ours: number | undefined, oracle: number | undefined): void {
  if (oracle === undefined) {
    expect(ours).toBeUndefined();
    return;
  }
  expect(ours).toBeDefined();
  expect(Math.abs(ours! - oracle)).toBeLessThanOrEqual(1);
}

describe('indicators vs technicalindicators (oracle)', () => {
  for (const seed of [1, 2, 3]) {
    for (const period of [1, 2, 14, 20, 50]) {
      it(`SMA/EMA/ATR(${period}) agree on seeded random bars (seed ${seed})`, () => {
        const bars = randomBars(seed, 400);
        const sma = new Sma(period);
        const ema = new Ema(period);
        const atr = new Atr(period);
        const oSma = new SMA({ period, values: [] });
        const oEma = new EMA({ period, values: [] });
        const oAtr = new ATR({ period, high: [], low: [], close: [] });
        let compared = 0;
        for (const b of bars) {
          // peek must equal what update + value then gives.
          const pS = sma.peek(b.c);
          const pE = ema.peek(b.c);
          const pA = atr.peek(b.h, b.l, b.c);
          sma.update(b.c);
          ema.update(b.c);
          atr.update(b.h, b.l, b.c);
          expect(pS).toBe(sma.value);
          expect(pE).toBe(ema.value);
          expect(pA).toBe(atr.value);
          expectClose(sma.value, oSma.nextValue(b.c));
          expectClose(ema.value, oEma.nextValue(b.c));
          expectClose(atr.value, oAtr.nextValue({ high: b.h, low: b.l, close: b.c }));
          if (atr.value !== undefined) compared++;
        }
        expect(compared).toBe(bars.length - period);
      });
    }
  }

  it('warm-up lengths match the oracle: SMA/EMA from value `period`, ATR from bar `period + 1`', () => {
    const sma = new Sma(3);
    const ema = new Ema(3);
    const atr = new Atr(3);
    const bars = randomBars(9, 5);
    const ready = bars.map((b) => {
      sma.update(b.c);
      ema.update(b.c);
      atr.update(b.h, b.l, b.c);
      return [sma.ready, ema.ready, atr.ready];
    });
    expect(ready).toEqual([
      [false, false, false],
      [false, false, false],
      [true, true, false],
      [true, true, true],
      [true, true, true],
    ]);
  });

  it('computes exact SMA values with half-even rounding', () => {
    const s = new Sma(2);
    s.update(1);
    s.update(2); // 1.5 → 2
    expect(s.value).toBe(2);
    s.update(4); // 3
    expect(s.value).toBe(3);
    s.update(1); // 2.5 → 2
    expect(s.value).toBe(2);
    expect(s.exact).toBe(2.5);
  });

  it('ATR follows Wilder: first = mean of the first n TRs, then (prev·(n−1)+tr)/n', () => {
    const a = new Atr(2);
    a.update(10, 8, 9); // no TR: no previous close
    a.update(12, 9, 11); // TR = max(3, 3, 0) = 3
    expect(a.value).toBeUndefined();
    a.update(11, 10, 10); // TR = max(1, 0, 1) = 1 → ATR = 2
    expect(a.value).toBe(2);
    a.update(20, 15, 18); // TR = max(5, 10, 5) = 10 → (2·1 + 10)/2 = 6
    expect(a.value).toBe(6);
  });

  it('keeps an exact SMA where period × price exceeds 2^53 (anchored sum)', () => {
    const big = 120_000 * 1e9; // a 120 000.00 price
    const s = new Sma(200);
    for (let i = 0; i < 1000; i++) s.update(big + (i % 7) * TICK);
    expect(Number.isSafeInteger(s.value!)).toBe(true);
    const last = Array.from({ length: 200 }, (_, k) => big + ((800 + k) % 7) * TICK);
    const exact = last.reduce((x, y) => x + BigInt(y), 0n);
    const q = exact / 200n;
    const r = exact % 200n;
    const expected = Number(q) + (2n * r > 200n || (2n * r === 200n && q % 2n === 1n) ? 1 : 0);
    expect(s.value).toBe(expected);
  });

  it('rejects bad periods and non-integer inputs with stable codes', () => {
    expect(() => new Sma(0)).toThrow(BarsError);
    try {
      new Ema(1.5);
    } catch (e) {
      expect((e as BarsError).code).toBe('BARS_BAD_PERIOD');
      expect((e as BarsError).field).toBe('ema.period');
    }
    const s = new Sma(3);
    expect(() => s.update(1.5)).toThrow(/sma.value/);
    expect(() => new Atr(14).update(Number.NaN, 1, 1)).toThrow(/atr.high/);
  });
});

describe('rounding helpers', () => {
  it('roundHalfEven rounds ties to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, -2, 2, 3]);
  });

  it('divRoundHalfEven equals exact BigInt rounding for safe integers', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger().filter((a) => a !== 0), fc.integer({ min: 1, max: 1_000_000 }), (a, b) => {
        const A = BigInt(a);
        const B = BigInt(b);
        let q = A / B;
        let r = A % B;
        if (r < 0n) {
          q -= 1n;
          r += B;
        }
        if (2n * r > B || (2n * r === B && (q & 1n) === 1n)) q += 1n;
        expect(divRoundHalfEven(a, b)).toBe(Number(q));
      }),
      { numRuns: 2000, seed: 42 },
    );
  });
});
