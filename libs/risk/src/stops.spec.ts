import { describe, expect, it } from 'vitest';
import { computeHeadroom, UNLIMITED } from './state-machine';
import { COMBINE_50K, parseRiskLimits } from './limits';
import { workingStopRiskUnits, type StopRiskPosition } from './stops';
import { MNQ, ES, px, usd } from '../test/fixtures';

const long2: StopRiskPosition = { contractId: MNQ.contractId, netSize: 2, markPriceUnits: px('20000'), tickSizeUnits: MNQ.tickSizeUnits, tickValueMoneyUnits: MNQ.tickValueMoneyUnits };

describe('working-stop risk', () => {
  it('is the loss from the mark to each closing stop, up to the position size, in trigger order', () => {
    expect(workingStopRiskUnits([long2], [{ contractId: MNQ.contractId, side: 'SELL', size: 2, stopPriceUnits: px('19900') }])).toBe(usd('400'));
    // Two stops for 1 each at different levels.
    expect(
      workingStopRiskUnits(
        [long2],
        [
          { contractId: MNQ.contractId, side: 'SELL', size: 1, stopPriceUnits: px('19800') },
          { contractId: MNQ.contractId, side: 'SELL', size: 1, stopPriceUnits: px('19950') },
        ],
      ),
    ).toBe(usd('500'));
    // Stops for 3 on a 2-lot: the highest (first to trigger) two contracts count; the orphan adds nothing.
    expect(
      workingStopRiskUnits(
        [long2],
        [
          { contractId: MNQ.contractId, side: 'SELL', size: 1, stopPriceUnits: px('19000') },
          { contractId: MNQ.contractId, side: 'SELL', size: 2, stopPriceUnits: px('19900') },
        ],
      ),
    ).toBe(usd('400'));
  });

  it('ignores same-side stops, other contracts and flat positions; handles shorts', () => {
    const short1: StopRiskPosition = { contractId: ES.contractId, netSize: -1, markPriceUnits: px('6000'), tickSizeUnits: ES.tickSizeUnits, tickValueMoneyUnits: ES.tickValueMoneyUnits };
    const stops = [
      { contractId: MNQ.contractId, side: 'BUY' as const, size: 2, stopPriceUnits: px('20100') },
      { contractId: ES.contractId, side: 'BUY' as const, size: 1, stopPriceUnits: px('6010') },
      { contractId: ES.contractId, side: 'BUY' as const, size: 1, stopPriceUnits: px('6020') },
    ];
    expect(workingStopRiskUnits([long2, short1, { ...long2, contractId: 'flat', netSize: 0 }], stops)).toBe(usd('500'));
    expect(() => workingStopRiskUnits([{ ...long2, markPriceUnits: Number.NaN }], stops)).toThrow(/mark of/);
  });

  it('enters the headroom formula: min(dll + dayNet − stops, balance + unrealised − floor − stops)', () => {
    const stopRisk = usd('400');
    const h = computeHeadroom(COMBINE_50K, usd('48000'), usd('-300'), usd('50000'), usd('-300'), stopRisk);
    expect(h.dllRemainingUnits).toBe(usd('300')); // 1000 − 300 − 400
    expect(h.mllRemainingUnits).toBe(usd('1300')); // 50000 − 300 − 48000 − 400
    expect(h.headroomUnits).toBe(usd('300'));
    const noDll = computeHeadroom(parseRiskLimits({ dailyLossLimitUnits: 0 }), usd('48000'), usd('-300'), usd('50000'), usd('-300'), stopRisk);
    expect(noDll.dllRemainingUnits).toBe(UNLIMITED);
    expect(noDll.headroomUnits).toBe(usd('1300'));
  });
});
