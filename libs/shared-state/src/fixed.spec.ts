import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FixedPointError,
  MONEY_SCALE,
  PRICE_SCALE,
  assertSafeInt,
  moneyToUnits,
  parseDecimalToUnits,
  priceToUnits,
  unitsToMoney,
  unitsToPrice,
} from './fixed';

const SEED = 20251125;

describe('fixed-point scales', () => {
  it('pins the scales', () => {
    expect(PRICE_SCALE).toBe(1_000_000_000);
    expect(MONEY_SCALE).toBe(10_000);
  });

  it('converts known values exactly', () => {
    expect(priceToUnits(6335.25)).toBe(6_335_250_000_000);
    expect(priceToUnits(0.1 + 0.2)).toBe(300_000_000);
    expect(moneyToUnits(-12.5)).toBe(-125_000);
    expect(moneyToUnits(-0.00001)).toBe(0);
    expect(Object.is(moneyToUnits(-0.00001), -0)).toBe(false);
    expect(unitsToPrice(6_335_250_000_000)).toBe(6335.25);
    expect(unitsToMoney(-125_000)).toBe(-12.5);
  });

  it('price units → price → units is the identity for every price up to 1e6', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (u) => priceToUnits(unitsToPrice(u)) === u),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('money units → USD → units is the identity for every amount up to 1e11 USD', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (u) => moneyToUnits(unitsToMoney(u)) === u),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('price → units lands within half a unit of the exact value', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (x) => {
        const u = priceToUnits(x);
        return Number.isSafeInteger(u) && Math.abs(u / PRICE_SCALE - x) <= 0.5 / PRICE_SCALE + Math.abs(x) * 1e-15;
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('parseDecimalToUnits is exact and agrees with the integer it spells', () => {
    fc.assert(
      fc.property(fc.integer({ min: -9e15, max: 9e15 }), fc.integer({ min: 0, max: 6 }), (u, zeros) => {
        const neg = u < 0;
        const abs = String(Math.abs(u)).padStart(10, '0');
        const s = `${neg ? '-' : ''}${abs.slice(0, -9)}.${abs.slice(-9)}${'0'.repeat(zeros)}`;
        return parseDecimalToUnits(s, PRICE_SCALE, 'price') === u;
      }),
      { seed: SEED, numRuns: 2000 },
    );
    expect(parseDecimalToUnits('6335.250000000', PRICE_SCALE, 'price')).toBe(6_335_250_000_000);
    expect(parseDecimalToUnits('  -0.5 ', MONEY_SCALE, 'amount')).toBe(-5000);
    expect(parseDecimalToUnits('12', MONEY_SCALE, 'amount')).toBe(120_000);
    expect(parseDecimalToUnits('.25', MONEY_SCALE, 'amount')).toBe(2500);
    expect(parseDecimalToUnits('-0', MONEY_SCALE, 'amount')).toBe(0);
  });

  it('errors name the field and carry a stable code', () => {
    const cases: [() => unknown, string][] = [
      [() => priceToUnits(Number.NaN, 'limitPrice'), 'limitPrice'],
      [() => priceToUnits(Number.POSITIVE_INFINITY, 'stopPrice'), 'stopPrice'],
      [() => priceToUnits(1e7), 'price'],
      [() => moneyToUnits(1e12, 'balance'), 'balance'],
      [() => assertSafeInt(1.5, 'netSize'), 'netSize'],
      [() => assertSafeInt(2 ** 53, 'fees'), 'fees'],
      [() => parseDecimalToUnits('1.0000000001', PRICE_SCALE, 'bid'), 'bid'],
      [() => parseDecimalToUnits('1e5', PRICE_SCALE, 'ask'), 'ask'],
      [() => parseDecimalToUnits('', PRICE_SCALE, 'last'), 'last'],
      [() => parseDecimalToUnits('99999999999.0', PRICE_SCALE, 'last'), 'last'],
      [() => parseDecimalToUnits('1', 3, 'weird'), 'weird'],
    ];
    for (const [fn, field] of cases) {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RangeError);
      expect(err).toBeInstanceOf(FixedPointError);
      expect((err as FixedPointError).code).toBe('FIXED_POINT_RANGE');
      expect((err as FixedPointError).field).toBe(field);
      expect((err as Error).message.startsWith(`${field}: `)).toBe(true);
    }
  });

  it('any non-finite or oversized input throws, never clamps', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(Number.NaN), fc.constant(Number.NEGATIVE_INFINITY), fc.double({ min: 9.1e6, max: 1e300 })),
        fc.boolean(),
        (x, neg) => {
          expect(() => priceToUnits(neg ? -x : x, 'px')).toThrow(/^px: /);
          return true;
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });
});
