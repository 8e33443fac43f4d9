import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { divRoundHalfAwayBig, MONEY_SCALE, PRICE_SCALE, pnlUnits, priceSizeToMoneyUnits } from './money';
import { E6, ES, MNQ, px, usd } from '../test/fixtures';

describe('pnlUnits', () => {
  it('matches the official Trade/search example: ES 6064.25 → 6065.25, 1 lot = +$50', () => {
    expect(pnlUnits(px('6064.25'), px('6065.25'), 1, ES.tickSizeUnits, ES.tickValueMoneyUnits)).toBe(usd('50'));
    expect(pnlUnits(px('6064.25'), px('6065.25'), -1, ES.tickSizeUnits, ES.tickValueMoneyUnits)).toBe(usd('-50'));
  });

  it('values MNQ at $2 per point and 6E at $6.25 per 0.00005', () => {
    expect(pnlUnits(px('20000'), px('19750'), 2, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(usd('-1000'));
    expect(pnlUnits(px('1.08000'), px('1.08015'), 3, E6.tickSizeUnits, E6.tickValueMoneyUnits)).toBe(usd('56.25'));
  });

  it('rounds a mark between ticks half away from zero, symmetrically', () => {
    // 0.125 pt × $2 = $0.25 exactly; 1e-9 pt × $2 = $2e-9 → 0 units; 0.00005 pt on MNQ = $0.0001 = 1 unit.
    expect(pnlUnits(px('100'), px('100.125'), 1, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(usd('0.25'));
    expect(pnlUnits(px('100'), px('100.000000001'), 1, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(0);
    expect(pnlUnits(px('100'), px('100.00005'), 1, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(1);
    // 0.000025 pt × $2 = 0.5 unit → rounds away from zero in both directions.
    expect(pnlUnits(px('100'), px('100.000025'), 1, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(1);
    expect(pnlUnits(px('100'), px('100.000025'), -1, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(-1);
  });

  it('throws a RangeError naming the field on NaN, fractions and overflow, never clamps', () => {
    expect(() => pnlUnits(Number.NaN, 1, 1, 1, 1)).toThrow(/entryPriceUnits/);
    expect(() => pnlUnits(1, 1.5, 1, 1, 1)).toThrow(/exitPriceUnits/);
    expect(() => pnlUnits(1, 2, 1, 0, 1)).toThrow(/tickSizeUnits/);
    expect(() => pnlUnits(0, px('9000000'), 1_000_000, 1, 1)).toThrow(RangeError);
    expect(() => pnlUnits(0, 5, 2 ** 52, 2, 1)).toThrow(/pnl/);
  });

  it('documents the scales', () => {
    expect(PRICE_SCALE).toBe(1e9);
    expect(MONEY_SCALE).toBe(1e4);
  });
});

const price = fc.integer({ min: 1, max: 40_000 * 4 }).map((ticks) => ticks * MNQ.tickSizeUnits);
const anyPrice = fc.integer({ min: 1, max: 40_000 * PRICE_SCALE });
const size = fc.integer({ min: -500, max: 500 });

describe('pnlUnits properties', () => {
  it('equals ticks × tickValue × size for tick-aligned prices', () => {
    fc.assert(
      fc.property(price, price, size, (a, b, s) => {
        const ticks = (b - a) / MNQ.tickSizeUnits;
        expect(pnlUnits(a, b, s, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(ticks * MNQ.tickValueMoneyUnits * s + 0);
      }),
    );
  });

  it('is additive along a path of tick-aligned prices', () => {
    fc.assert(
      fc.property(price, price, price, size, (a, b, c, s) => {
        const f = (x: number, y: number): number => pnlUnits(x, y, s, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits);
        expect(f(a, b) + f(b, c)).toBe(f(a, c));
      }),
    );
  });

  it('is antisymmetric in direction and in the price path, also between ticks', () => {
    fc.assert(
      fc.property(anyPrice, anyPrice, size, (a, b, s) => {
        const f = (x: number, y: number, z: number): number => pnlUnits(x, y, z, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits);
        expect(f(a, b, -s)).toBe(-f(a, b, s) + 0);
        expect(f(b, a, s)).toBe(-f(a, b, s) + 0);
      }),
    );
  });

  it('agrees with a BigInt reference rounded half away from zero', () => {
    fc.assert(
      fc.property(anyPrice, anyPrice, size, (a, b, s) => {
        const num = BigInt(b - a) * BigInt(MNQ.tickValueMoneyUnits) * BigInt(s);
        const den = BigInt(MNQ.tickSizeUnits);
        const abs = num < 0n ? -num : num;
        const q = abs / den;
        const rounded = abs - q * den >= den - (abs - q * den) ? q + 1n : q;
        const expected = Number(num < 0n ? -rounded : rounded);
        expect(pnlUnits(a, b, s, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(expected + 0);
      }),
    );
  });

  it('divRoundHalfAwayBig rounds half away from zero', () => {
    expect(divRoundHalfAwayBig(5n, 2n)).toBe(3n);
    expect(divRoundHalfAwayBig(-5n, 2n)).toBe(-3n);
    expect(divRoundHalfAwayBig(7n, 3n)).toBe(2n);
    expect(divRoundHalfAwayBig(-7n, 3n)).toBe(-2n);
    expect(priceSizeToMoneyUnits(px('0.125'), MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits)).toBe(usd('0.25'));
  });
});
