import { describe, expect, it } from 'vitest';
import {
  decide,
  DENIALS,
  orderReducesPosition,
  positionUnitsAfter,
  REASON_CODES,
  stateReasonCode,
  stateReasonOf,
  tradingStateCode,
  tradingStateOf,
  weightedUnits,
  type GateInput,
} from './gate';
import { COMBINE_50K } from './limits';
import { OrderRateWindow } from './rate';
import { ALLOWED_GATE_INPUT } from '../test/fixtures';

const ok: GateInput = ALLOWED_GATE_INPUT;
const reason = (over: Partial<GateInput>): string | undefined => {
  const d = decide({ ...ok, ...over });
  return d.allowed ? undefined : d.reason;
};

describe('decide', () => {
  it('pins the stable reason codes', () => {
    expect(REASON_CODES).toEqual([
      'DAILY_LOSS_LIMIT',
      'MAX_LOSS_LIMIT',
      'MAX_POSITION',
      'MAX_OPEN_ORDERS',
      'ORDER_RATE',
      'TRADING_HOURS',
      'HALTED',
      'REDUCE_ONLY',
      'STALE_MARKET_DATA',
      'RISK_NOT_READY',
    ]);
    for (const r of REASON_CODES) expect(DENIALS[r]).toMatchObject({ allowed: false, reason: r });
    expect(Object.isFrozen(DENIALS.HALTED)).toBe(true);
  });

  it('allows a clean entry and denies each condition with its code', () => {
    expect(decide(ok)).toEqual({ allowed: true });
    expect(reason({ ready: false })).toBe('RISK_NOT_READY');
    expect(reason({ state: 'HALTED', reasonCode: 'DAILY_LOSS_LIMIT' })).toBe('DAILY_LOSS_LIMIT');
    expect(reason({ state: 'HALTED', reasonCode: 'MAX_LOSS_LIMIT' })).toBe('MAX_LOSS_LIMIT');
    expect(reason({ state: 'HALTED', reasonCode: 'KILL_SWITCH' })).toBe('HALTED');
    expect(reason({ killSwitch: true })).toBe('HALTED');
    expect(reason({ state: 'REDUCING', reasonCode: 'DAILY_LOSS_LIMIT' })).toBe('REDUCE_ONLY');
    expect(reason({ withinTradingHours: false })).toBe('TRADING_HOURS');
    expect(reason({ entryAllowedByTime: false })).toBe('TRADING_HOURS');
    expect(reason({ staleMarketData: true })).toBe('STALE_MARKET_DATA');
    expect(reason({ ordersLastMinute: 60 })).toBe('ORDER_RATE');
    expect(reason({ ordersLastMinute: 59 })).toBeUndefined();
    expect(reason({ openOrders: 20 })).toBe('MAX_OPEN_ORDERS');
    expect(reason({ positionUnitsAfter: 51 })).toBe('MAX_POSITION');
    expect(reason({ positionUnitsAfter: 50 })).toBeUndefined();
  });

  it('follows the documented precedence', () => {
    const everything: Partial<GateInput> = {
      state: 'HALTED',
      reasonCode: 'MAX_LOSS_LIMIT',
      killSwitch: true,
      withinTradingHours: false,
      staleMarketData: true,
      ordersLastMinute: 99,
      openOrders: 99,
      positionUnitsAfter: 999,
    };
    expect(reason({ ...everything, ready: false })).toBe('RISK_NOT_READY');
    expect(reason(everything)).toBe('MAX_LOSS_LIMIT');
    expect(reason({ ...everything, state: 'ACTIVE', reasonCode: 'NONE' })).toBe('HALTED');
    expect(reason({ ...everything, state: 'REDUCING', killSwitch: false })).toBe('REDUCE_ONLY');
    expect(reason({ ...everything, state: 'ACTIVE', killSwitch: false })).toBe('TRADING_HOURS');
    expect(reason({ ...everything, state: 'ACTIVE', killSwitch: false, withinTradingHours: true })).toBe('STALE_MARKET_DATA');
    expect(reason({ ...everything, state: 'ACTIVE', killSwitch: false, withinTradingHours: true, staleMarketData: false })).toBe('ORDER_RATE');
    expect(reason({ ...everything, state: 'ACTIVE', killSwitch: false, withinTradingHours: true, staleMarketData: false, ordersLastMinute: 0 })).toBe('MAX_OPEN_ORDERS');
    // A reducing order passes everything except RISK_NOT_READY.
    expect(reason({ ...everything, isReducing: true })).toBeUndefined();
    expect(reason({ ...everything, isReducing: true, ready: false })).toBe('RISK_NOT_READY');
  });

  it('returns the same preallocated objects (no allocation on the hot path)', () => {
    expect(decide(ok)).toBe(decide({ ...ok }));
    expect(decide({ ...ok, staleMarketData: true })).toBe(DENIALS.STALE_MARKET_DATA);
  });
});

describe('orderReducesPosition', () => {
  it('is true only for opposite-side orders that cannot flip the position, counting pending reducers', () => {
    expect(orderReducesPosition(2, 0, 'SELL', 2)).toBe(true);
    expect(orderReducesPosition(2, 0, 'SELL', 3)).toBe(false); // would flip to short 1
    expect(orderReducesPosition(2, 1, 'SELL', 2)).toBe(false); // with the pending stop it flips
    expect(orderReducesPosition(2, 1, 'SELL', 1)).toBe(true);
    expect(orderReducesPosition(2, 0, 'BUY', 1)).toBe(false);
    expect(orderReducesPosition(-3, 0, 'BUY', 3)).toBe(true);
    expect(orderReducesPosition(-3, 0, 'SELL', 1)).toBe(false);
    expect(orderReducesPosition(0, 0, 'SELL', 1)).toBe(false);
    expect(orderReducesPosition(2, 0, 'SELL', 0)).toBe(false);
  });
});

describe('micro weighting and position size', () => {
  it('counts 10 micros as 1 mini when the account weights micros', () => {
    expect(weightedUnits(10, true, true)).toBe(weightedUnits(1, false, true));
    expect(weightedUnits(1, true, false)).toBe(weightedUnits(1, false, false));
    expect(weightedUnits(50, true, COMBINE_50K.microWeighting)).toBe(COMBINE_50K.maxPositionUnits);
  });

  it('allows 4 ES + 10 MES on a 50K, denies the 11th MES; without weighting 1 MES over 4 ES is the limit', () => {
    const es4 = weightedUnits(4, false, true);
    const after10 = positionUnitsAfter(es4, 9, 0, 'BUY', 1, true, true);
    expect(decide({ ...ok, positionUnitsAfter: after10 }).allowed).toBe(true);
    const after11 = positionUnitsAfter(es4, 10, 0, 'BUY', 1, true, true);
    expect(reason({ positionUnitsAfter: after11 })).toBe('MAX_POSITION');
    expect(reason({ positionUnitsAfter: positionUnitsAfter(es4, 1, 0, 'BUY', 1, true, false) })).toBe('MAX_POSITION');
    expect(reason({ positionUnitsAfter: positionUnitsAfter(es4, 0, 0, 'BUY', 1, true, false) })).toBeUndefined();
  });

  it('counts working same-side orders as if filled', () => {
    expect(positionUnitsAfter(0, 3, 2, 'BUY', 1, false, true)).toBe(60);
    expect(positionUnitsAfter(0, 3, 0, 'SELL', 5, false, true)).toBe(20);
  });

  it('maps states and reasons to shared-memory codes and back', () => {
    expect(tradingStateOf(tradingStateCode('HALTED'))).toBe('HALTED');
    expect(stateReasonOf(stateReasonCode('MAX_LOSS_LIMIT'))).toBe('MAX_LOSS_LIMIT');
    expect(() => tradingStateOf(7)).toThrow(RangeError);
  });
});

describe('order rate', () => {
  it('denies the 61st order in a minute and allows again once the window slides', () => {
    const w = new OrderRateWindow(COMBINE_50K.maxOrdersPerMinute);
    const t0 = 1_700_000_000_000;
    const input = (now: number): GateInput => ({ ...ok, ordersLastMinute: w.countLastMinute(now), maxOrdersPerMinute: COMBINE_50K.maxOrdersPerMinute });
    for (let i = 0; i < 60; i++) {
      const now = t0 + i * 500;
      expect(decide(input(now)).allowed).toBe(true);
      w.record(now);
    }
    expect(decide(input(t0 + 30_000))).toBe(DENIALS.ORDER_RATE);
    expect(decide(input(t0 + 59_999))).toBe(DENIALS.ORDER_RATE);
    // At t0 + 60 s the first order leaves the window.
    expect(w.countLastMinute(t0 + 60_000)).toBe(59);
    expect(decide(input(t0 + 60_000)).allowed).toBe(true);
    expect(w.countLastMinute(t0 + 200_000)).toBe(0);
  });
});
