// The operator's kill switch without flatten: the account is HALTED (no new risk) but keeps its positions and
// working orders, so the machine neither enforces at the halt nor retries every enforceRetryMs. A loss limit
// reached meanwhile enforces at once; with flatten (the default) the halt cancels and closes.
import { describe, expect, it } from 'vitest';
import { AccountRiskMachine, COMBINE_50K, TestClock, type RiskInputs } from '../src/index';
import { ct, FLAT_50K_INPUTS, usd } from './fixtures';

const WED_0900 = ct(2026, 1, 14, 9, 0);
const MNQ = 'CON.F.US.MNQ.H26';

const exposed: RiskInputs = { ...FLAT_50K_INPUTS, killSwitch: true, openContractIds: [MNQ], workingOrderCount: 2 };

describe('kill switch', () => {
  it('without flatten: HALTED with no enforcement at the halt and none retried while positions stay open', () => {
    const clock = new TestClock(WED_0900);
    const m = new AccountRiskMachine(7, COMBINE_50K, clock);
    let e = m.evaluate({ ...exposed, killSwitchFlatten: false });
    expect([e.state, e.reason]).toEqual(['HALTED', 'KILL_SWITCH']);
    expect(e.actions).toEqual([]);
    for (let i = 0; i < 5; i++) {
      clock.advance(COMBINE_50K.enforceRetryMs + 1);
      e = m.evaluate({ ...exposed, killSwitchFlatten: false });
      expect(e.actions).toEqual([]);
      expect(e.events.filter((x) => x.type === 'ENFORCEMENT_RETRY')).toEqual([]);
    }
  });

  it('without flatten, a daily loss limit reached meanwhile enforces at once', () => {
    const clock = new TestClock(WED_0900);
    const m = new AccountRiskMachine(7, COMBINE_50K, clock);
    m.evaluate({ ...exposed, killSwitchFlatten: false });
    clock.advance(1000);
    const e = m.evaluate({ ...exposed, killSwitchFlatten: false, dayNetPnlUnits: -usd('1000'), unrealizedUnits: -usd('1000') });
    expect([e.state, e.reason]).toEqual(['HALTED', 'DAILY_LOSS_LIMIT']);
    expect(e.actions.length).toBeGreaterThan(0);
  });

  it('with flatten (the default) enforces at the halt and retries while still exposed', () => {
    const clock = new TestClock(WED_0900);
    const m = new AccountRiskMachine(7, COMBINE_50K, clock);
    let e = m.evaluate(exposed);
    expect([e.state, e.reason]).toEqual(['HALTED', 'KILL_SWITCH']);
    expect(e.actions.length).toBeGreaterThan(0);
    clock.advance(COMBINE_50K.enforceRetryMs + 1);
    e = m.evaluate(exposed);
    expect(e.events.map((x) => x.type)).toContain('ENFORCEMENT_RETRY');
  });
});
