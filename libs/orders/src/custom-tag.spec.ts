import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CustomTagFactory, parseCustomTag } from './index';

const T0 = Date.UTC(2026, 10, 25, 14, 30, 0);

describe('CustomTagFactory', () => {
  it('formats TradingBot-v1.0-strategy-{strategy}-{orderType}-{counter}-{unixSeconds}', () => {
    const factory = new CustomTagFactory(41);
    expect(factory.next('mean_revert.v2', 'LIMIT', T0 + 999)).toEqual({
      tag: `TradingBot-v1.0-strategy-mean_revert.v2-LIMIT-41-${T0 / 1000}`,
      counter: 41,
      unixSeconds: T0 / 1000,
    });
    expect(factory.lastCounter).toBe(41);
  });

  it('never repeats a tag within a run, even when the clock stands still or steps back', () => {
    const factory = new CustomTagFactory(0);
    const tags = new Set<string>();
    let seconds = 0;
    for (let i = 0; i < 500; i++) {
      const t = factory.next('s', 'MARKET', T0 - (i % 7) * 1000);
      tags.add(t.tag);
      expect(t.unixSeconds).toBeGreaterThanOrEqual(seconds);
      seconds = t.unixSeconds;
    }
    expect(tags.size).toBe(500);
  });

  it('continues above the journalled high-water mark after a restart: disjoint counters, no collision', () => {
    const first = new CustomTagFactory(0);
    const before = Array.from({ length: 20 }, () => first.next('s', 'LIMIT', T0).tag);
    const restarted = new CustomTagFactory(first.lastCounter + 1);
    // Same second, clock even stepped back: still unique because the counter ranges are disjoint.
    const after = Array.from({ length: 20 }, () => restarted.next('s', 'LIMIT', T0 - 5_000).tag);
    expect(new Set([...before, ...after]).size).toBe(40);
    expect(parseCustomTag(after[0]!)!.counter).toBe(20);
  });

  it('rejects a strategy name the tag grammar cannot carry and a bad start counter', () => {
    const factory = new CustomTagFactory(0);
    expect(() => factory.next('has space', 'LIMIT', T0)).toThrow(RangeError);
    expect(() => factory.next('a'.repeat(65), 'LIMIT', T0)).toThrow(RangeError);
    expect(() => new CustomTagFactory(-1)).toThrow(RangeError);
    expect(() => new CustomTagFactory(1.5)).toThrow(RangeError);
  });

  it('round-trips through parseCustomTag, hyphenated strategy names included', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/),
        fc.constantFrom('MARKET', 'LIMIT', 'STOP', 'TRAILING_STOP', 'JOIN_BID', 'JOIN_ASK') as fc.Arbitrary<'MARKET'>,
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (strategy, orderType, start, nowMs) => {
          const t = new CustomTagFactory(start).next(strategy, orderType, nowMs);
          expect(parseCustomTag(t.tag)).toEqual({ strategy, orderType, counter: start, unixSeconds: Math.floor(nowMs / 1000) });
        },
      ),
    );
  });

  it('parseCustomTag ignores tags that are not ours', () => {
    expect(parseCustomTag('manual-order')).toBeUndefined();
    expect(parseCustomTag('TradingBot-v1.0-strategy-s-LIMIT-x-1')).toBeUndefined();
    expect(parseCustomTag('TradingBot-v1.0-strategy-s-ICEBERG-1-1')).toBeUndefined();
    expect(parseCustomTag('TradingBot-v1.0-strategy--LIMIT-1-1')).toBeUndefined();
  });
});
