// UNPRICED_POSITION: an open position without a usable price keeps the account REDUCING (no new risk) until it
// is priced; the loss-limit halts and the kill switch keep priority over it; the gate denies entries with
// REDUCE_ONLY and the UNPRICED_POSITION detail, and lets reducing orders through.
import { describe, expect, it } from 'vitest';
import {
  AccountRiskMachine,
  COMBINE_50K,
  decide,
  DENIALS,
  STATE_REASONS,
  stateReasonCode,
  stateReasonOf,
  TestClock,
  UNPRICED_DENIAL,
  type GateInput,
  type RiskInputs,
} from '../src/index';
import { ALLOWED_GATE_INPUT, ct, FLAT_50K_INPUTS, usd } from './fixtures';

const WED_0900 = ct(2026, 1, 14, 9, 0);
const OUTSIDE = 'CON.F.US.MES.H26';

const base: RiskInputs = { ...FLAT_50K_INPUTS, openContractIds: [OUTSIDE] };

const gateInput: GateInput = { ...ALLOWED_GATE_INPUT, positionUnitsAfter: 1 };

const machine = (): AccountRiskMachine => new AccountRiskMachine(7, COMBINE_50K, new TestClock(WED_0900));

describe('UNPRICED_POSITION', () => {
  it('is appended at the end of STATE_REASONS (the index is stored in shared memory)', () => {
    expect(STATE_REASONS).toEqual(['NONE', 'DAILY_LOSS_LIMIT', 'MAX_LOSS_LIMIT', 'KILL_SWITCH', 'UNPRICED_POSITION']);
    expect(stateReasonCode('UNPRICED_POSITION')).toBe(4);
    expect(stateReasonOf(4)).toBe('UNPRICED_POSITION');
  });

  it('goes REDUCING while a position is unpriced, back to ACTIVE once it is priced, with an event each way', () => {
    const m = machine();
    expect(m.evaluate(base).state).toBe('ACTIVE');
    let e = m.evaluate({ ...base, unpricedPositions: 1 });
    expect([e.state, e.reason, e.actions]).toEqual(['REDUCING', 'UNPRICED_POSITION', []]);
    expect(e.events).toMatchObject([{ type: 'STATE_CHANGED', from: 'ACTIVE', to: 'REDUCING', reason: 'UNPRICED_POSITION' }]);
    expect(e.events[0]!.message).toMatch(/1 open position\(s\) without a usable price/);
    // Staying unpriced is no new event.
    expect(m.evaluate({ ...base, unpricedPositions: 2 }).events).toEqual([]);
    e = m.evaluate(base);
    expect([e.state, e.reason]).toEqual(['ACTIVE', 'NONE']);
    expect(e.events).toMatchObject([{ type: 'STATE_CHANGED', from: 'REDUCING', to: 'ACTIVE', reason: 'NONE' }]);
  });

  it('rejects a negative or fractional count', () => {
    expect(() => machine().evaluate({ ...base, unpricedPositions: -1 })).toThrow(RangeError);
    expect(() => machine().evaluate({ ...base, unpricedPositions: 0.5 })).toThrow(RangeError);
  });

  it('yields to the daily loss limit halt, and the halt still enforces', () => {
    const m = machine();
    expect(m.evaluate({ ...base, unpricedPositions: 1 }).reason).toBe('UNPRICED_POSITION');
    const e = m.evaluate({ ...base, unpricedPositions: 1, dayNetPnlUnits: -usd('1000'), unrealizedUnits: -usd('1000') });
    expect([e.state, e.reason]).toEqual(['HALTED', 'DAILY_LOSS_LIMIT']);
    expect(e.actions.map((a) => a.type)).toEqual(['CANCEL_ALL_ORDERS', 'FLATTEN', 'SWEEP_CONTRACT_ORDERS']);
    // Priced or not, the DLL halt holds for the day.
    expect(m.evaluate({ ...base, unpricedPositions: 1 }).state).toBe('HALTED');
    expect(m.evaluate(base).reason).toBe('DAILY_LOSS_LIMIT');
  });

  it('yields to the maximum loss limit halt', () => {
    const m = machine();
    const e = m.evaluate({ ...base, unpricedPositions: 1, unrealizedUnits: -usd('2000'), dayNetPnlUnits: -usd('900') });
    expect([e.state, e.reason]).toEqual(['HALTED', 'MAX_LOSS_LIMIT']);
  });

  it('yields to the kill switch, and comes back once the switch is off and the position still unpriced', () => {
    const m = machine();
    let e = m.evaluate({ ...base, unpricedPositions: 1, killSwitch: true });
    expect([e.state, e.reason]).toEqual(['HALTED', 'KILL_SWITCH']);
    e = m.evaluate({ ...base, unpricedPositions: 1 });
    expect([e.state, e.reason]).toEqual(['REDUCING', 'UNPRICED_POSITION']);
    e = m.evaluate(base);
    expect([e.state, e.reason]).toEqual(['ACTIVE', 'NONE']);
  });

  it('yields to REDUCING by a loss limit (the more urgent reason), and shows once that clears', () => {
    const m = machine();
    // $850 of the $1,000 DLL used: REDUCING by the DLL.
    let e = m.evaluate({ ...base, unpricedPositions: 1, dayNetPnlUnits: -usd('850'), unrealizedUnits: -usd('850') });
    expect([e.state, e.reason]).toEqual(['REDUCING', 'DAILY_LOSS_LIMIT']);
    e = m.evaluate({ ...base, unpricedPositions: 1 });
    expect([e.state, e.reason]).toEqual(['REDUCING', 'UNPRICED_POSITION']);
    expect(e.events).toMatchObject([{ type: 'STATE_CHANGED', from: 'REDUCING', to: 'REDUCING', reason: 'UNPRICED_POSITION' }]);
  });

  it('denies entries REDUCE_ONLY with the UNPRICED_POSITION detail and lets reducing orders through', () => {
    const d = decide({ ...gateInput, state: 'REDUCING', reasonCode: 'UNPRICED_POSITION' });
    expect(d).toBe(UNPRICED_DENIAL);
    expect(d).toMatchObject({ allowed: false, reason: 'REDUCE_ONLY' });
    expect(UNPRICED_DENIAL.detail).toMatch(/UNPRICED_POSITION/);
    expect(Object.isFrozen(UNPRICED_DENIAL)).toBe(true);
    expect(decide({ ...gateInput, state: 'REDUCING', reasonCode: 'UNPRICED_POSITION', isReducing: true })).toEqual({ allowed: true });
    // Other REDUCING reasons keep the generic denial.
    expect(decide({ ...gateInput, state: 'REDUCING', reasonCode: 'DAILY_LOSS_LIMIT' })).toBe(DENIALS.REDUCE_ONLY);
  });
});
