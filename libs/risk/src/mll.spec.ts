import { describe, expect, it } from 'vitest';
import { initialMllState, mllBreached, nextMllFloor, raiseMllFloor } from './mll';
import { usd } from '../test/fixtures';

describe('trailing maximum loss limit', () => {
  it('trails the end-of-day balance high and locks at the starting balance', () => {
    let s = initialMllState(usd('50000'), usd('2000'));
    expect(s.floorUnits).toBe(usd('48000'));
    const path: [string, string, boolean][] = [
      ['50800', '48800', false],
      ['50300', '48800', false], // a losing day never lowers the floor
      ['51500', '49500', false],
      ['49000', '49500', false],
      ['51999.99', '49999.99', false],
      ['52500', '50000', true], // would be 50,500: capped at the starting balance
      ['56000', '50000', true], // locked: trails no more
      ['50500', '50000', true],
    ];
    for (const [eod, floor, locked] of path) {
      s = nextMllFloor(s, usd(eod));
      expect([s.floorUnits, s.locked]).toEqual([usd(floor), locked]);
    }
    expect(s.eodHighUnits).toBe(usd('56000'));
  });

  it('raises the floor to a known one (dashboard) as an end-of-day balance of floor + drawdown, never lowering it', () => {
    const s = raiseMllFloor(initialMllState(usd('50000'), usd('2000')), usd('49497.20'));
    expect([s.floorUnits, s.eodHighUnits, s.locked]).toEqual([usd('49497.20'), usd('51497.20'), false]);
    expect(raiseMllFloor(s, usd('48500'))).toEqual(s);
    expect([raiseMllFloor(s, usd('50000')).floorUnits, raiseMllFloor(s, usd('50000')).locked]).toEqual([usd('50000'), true]);
    // The next winning day trails from the raised high.
    expect(nextMllFloor(s, usd('51700')).floorUnits).toBe(usd('49700'));
  });

  it('is breached intraday when balance + unrealised touches the floor', () => {
    const s = initialMllState(usd('50000'), usd('2000'));
    expect(mllBreached(s, usd('49000'), usd('-999.99'))).toBe(false);
    expect(mllBreached(s, usd('49000'), usd('-1000'))).toBe(true);
    expect(() => mllBreached(s, Number.NaN, 0)).toThrow(/balanceUnits/);
    expect(() => nextMllFloor(s, 1.5)).toThrow(/endOfDayBalanceUnits/);
  });
});
