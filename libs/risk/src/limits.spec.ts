import { describe, expect, it } from 'vitest';
import { COMBINE_100K, COMBINE_150K, COMBINE_50K, flattenMinuteCt, parseRiskLimits, RiskConfigError } from './limits';
import { usd } from '../test/fixtures';

describe('risk limits', () => {
  it('pins the documented 50K Combine defaults', () => {
    expect(COMBINE_50K).toEqual({
      startingBalanceUnits: usd('50000'),
      maxLossDrawdownUnits: usd('2000'),
      dailyLossLimitUnits: usd('1000'),
      maxPositionUnits: 50,
      microWeighting: true,
      maxOpenOrders: 20,
      maxOrdersPerMinute: 60,
      noNewPositionsFromMinuteCt: 910,
      flattenMinutesBeforeClose: 2,
      reduceAt: 0.8,
      enforceRetryMs: 2000,
      knownMllFloorUnits: 0,
    });
    expect(flattenMinuteCt(COMBINE_50K)).toBe(15 * 60 + 8);
    expect(Object.isFrozen(COMBINE_50K)).toBe(true);
  });

  it('has 100K and 150K presets', () => {
    expect([COMBINE_100K.maxLossDrawdownUnits, COMBINE_100K.dailyLossLimitUnits, COMBINE_100K.maxPositionUnits]).toEqual([usd('3000'), usd('2000'), 100]);
    expect([COMBINE_150K.maxLossDrawdownUnits, COMBINE_150K.dailyLossLimitUnits, COMBINE_150K.maxPositionUnits]).toEqual([usd('4500'), usd('3000'), 150]);
  });

  it('parses a preset with overrides into a frozen object', () => {
    const l = parseRiskLimits({ preset: '100K', dailyLossLimitUnits: 0, reduceAt: 0.9, microWeighting: false });
    expect(l.startingBalanceUnits).toBe(usd('100000'));
    expect(l.dailyLossLimitUnits).toBe(0);
    expect(l.reduceAt).toBe(0.9);
    expect(l.microWeighting).toBe(false);
    expect(Object.isFrozen(l)).toBe(true);
    expect(parseRiskLimits({})).toEqual(COMBINE_50K);
  });

  it('takes a known MLL floor between the initial floor and the starting balance', () => {
    expect(parseRiskLimits({ knownMllFloorUnits: usd('48000') }).knownMllFloorUnits).toBe(usd('48000'));
    expect(parseRiskLimits({ knownMllFloorUnits: usd('49497.20') }).knownMllFloorUnits).toBe(usd('49497.20'));
    expect(parseRiskLimits({ knownMllFloorUnits: usd('50000') }).knownMllFloorUnits).toBe(usd('50000'));
  });

  it.each([
    [null, 'riskLimits'],
    [{ preset: '25K' }, 'preset'],
    [{ maxOpenOrders: -1 }, 'maxOpenOrders'],
    [{ maxOrdersPerMinute: 1.5 }, 'maxOrdersPerMinute'],
    [{ dailyLossLimitUnits: '1000' }, 'dailyLossLimitUnits'],
    [{ reduceAt: 0 }, 'reduceAt'],
    [{ reduceAt: 1.2 }, 'reduceAt'],
    [{ microWeighting: 'yes' }, 'microWeighting'],
    [{ noNewPositionsFromMinuteCt: 1440 }, 'noNewPositionsFromMinuteCt'],
    [{ maxLossDrawdownUnits: usd('60000') }, 'maxLossDrawdownUnits'],
    [{ maxLoss: 1 }, 'maxLoss'],
    [{ knownMllFloorUnits: usd('47999.99') }, 'knownMllFloorUnits'],
    [{ knownMllFloorUnits: usd('50000.01') }, 'knownMllFloorUnits'],
    [{ preset: '100K', knownMllFloorUnits: usd('49000') }, 'knownMllFloorUnits'],
  ])('rejects %j naming %s', (input, field) => {
    try {
      parseRiskLimits(input);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RiskConfigError);
      expect((e as RiskConfigError).field).toBe(field);
      expect((e as RiskConfigError).code).toBe('INVALID_RISK_LIMITS');
    }
  });
});
