import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backfillPlan, BarsError, DEFAULT_TIMEFRAMES, offsetDivRoundHalfEven, parseTimeframe, unitOf } from '../src';

describe('timeframes', () => {
  it('parses the defaults and general Ns|Nm|Nh|1d', () => {
    expect(DEFAULT_TIMEFRAMES.map((t) => [t.name, t.unit, t.count, t.ms])).toEqual([
      ['1s', 'second', 1, 1000],
      ['1m', 'minute', 1, 60_000],
      ['5m', 'minute', 5, 300_000],
      ['15m', 'minute', 15, 900_000],
      ['1h', 'hour', 1, 3_600_000],
      ['1d', 'day', 1, 0],
    ]);
    expect(parseTimeframe('90s').ms).toBe(90_000);
    expect(parseTimeframe('4h').ms).toBe(14_400_000);
  });

  it('rejects malformed names with BARS_BAD_TIMEFRAME', () => {
    for (const bad of ['', '0m', '1w', '2d', '25h', 'm5', '1.5m', ' 1m']) {
      expect(() => parseTimeframe(bad, 'tf')).toThrow(BarsError);
      try {
        parseTimeframe(bad, 'tf');
      } catch (e) {
        expect((e as BarsError).code).toBe('BARS_BAD_TIMEFRAME');
        expect((e as BarsError).field).toBe('tf');
      }
    }
  });
});

describe('backfillPlan', () => {
  it('maps timeframes to retrieveBars unit/unitNumber', () => {
    expect(['1s', '30s', '1m', '5m', '15m', '1h', '4h', '1d'].map((n) => unitOf(n))).toEqual([
      { unit: 1, unitNumber: 1 },
      { unit: 1, unitNumber: 30 },
      { unit: 2, unitNumber: 1 },
      { unit: 2, unitNumber: 5 },
      { unit: 2, unitNumber: 15 },
      { unit: 3, unitNumber: 1 },
      { unit: 3, unitNumber: 4 },
      { unit: 4, unitNumber: 1 },
    ]);
  });

  it('pages past the 20 000-bar cap with contiguous windows that each fit the cap', () => {
    const from = Date.parse('2026-07-01T00:00:00Z');
    const to = from + 3 * 86_400_000; // 3 days of 1 s = 259 200 bars
    const plan = backfillPlan('1s', from, to);
    expect(plan).toHaveLength(13);
    expect(plan[0]).toEqual({ startMs: from, endMs: from + 20_000_000, unit: 1, unitNumber: 1, limit: 20_000 });
    expect(plan.at(-1)!.endMs).toBe(to);
    for (let i = 1; i < plan.length; i++) expect(plan[i]!.startMs).toBe(plan[i - 1]!.endMs);
    expect(backfillPlan('1m', from, to)).toHaveLength(1);
    expect(backfillPlan('5m', from, to, 100)).toHaveLength(9);
    expect(backfillPlan('1d', from, to)[0]).toMatchObject({ unit: 4, unitNumber: 1 });
    expect(backfillPlan('1m', from, from)).toEqual([]);
  });

  it('any window holds at most the cap (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('1s', '1m', '5m', '15m', '1h'),
        fc.integer({ min: 0, max: 86_400_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        (tf, span, cap) => {
          const ms = parseTimeframe(tf).ms;
          const plan = backfillPlan(tf, 1_780_000_000_000, 1_780_000_000_000 + span, cap);
          for (const w of plan) expect(Math.ceil((w.endMs - w.startMs) / ms)).toBeLessThanOrEqual(cap);
          expect(plan.reduce((a, w) => a + (w.endMs - w.startMs), 0)).toBe(span);
        },
      ),
      { numRuns: 300, seed: 3 },
    );
  });

  it('rejects bad ranges naming the field', () => {
    expect(() => backfillPlan('1m', 10, 5)).toThrow(/toMs/);
    expect(() => backfillPlan('1m', 0, 5, 20_001)).toThrow(/maxBarsPerRequest/);
    expect(() => backfillPlan('1m', Number.NaN, 5)).toThrow(/fromMs/);
  });
});

describe('offsetDivRoundHalfEven', () => {
  it('rounds the total offset + a/b half to even, exactly (BigInt reference)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e14, max: 1e14 }),
        fc.integer({ min: -1e15, max: 1e15 }),
        fc.integer({ min: 1, max: 1000 }),
        (offset, a, b) => {
          const total = BigInt(offset) * BigInt(b) + BigInt(a);
          const B = BigInt(b);
          let q = total / B;
          let r = total % B;
          if (r < 0n) {
            q -= 1n;
            r += B;
          }
          if (2n * r > B || (2n * r === B && (q & 1n) === 1n)) q += 1n;
          expect(offsetDivRoundHalfEven(offset, a, b)).toBe(Number(q));
        },
      ),
      { numRuns: 3000, seed: 5 },
    );
  });
});
