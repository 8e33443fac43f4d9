// Acceptance scenarios: a 2-lot MNQ long driven through the daily loss limit and through the trailing
// maximum loss limit, on a test clock, with the book, the state machine and the gate wired the way the
// risk-manager and the executor wire them (minus shared memory).
import { tradingDayOf } from '@gateway/session';
import { describe, expect, it } from 'vitest';
import {
  AccountRiskMachine,
  COMBINE_50K,
  decide,
  orderReducesPosition,
  parseRiskLimits,
  PositionBook,
  TestClock,
  TradingHours,
  workingStopRiskUnits,
  type Evaluation,
  type GateInput,
  type RiskLimits,
  type Side,
  type WorkingStop,
} from '../src/index';
import { ct, MNQ, px, specOf, usd } from './fixtures';

const FEE = usd('0.37');

/** One account as the services see it: fills → book, broker balance, marks, working stops. */
class Harness {
  readonly clock: TestClock;
  readonly book = new PositionBook(7, specOf);
  readonly machine: AccountRiskMachine;
  readonly hours: TradingHours;
  balance: number;
  mark = px('20000');
  stops: WorkingStop[] = [];
  killSwitch = false;
  private trade = 0;

  constructor(
    readonly limits: RiskLimits,
    startMs: number,
    balance = limits.startingBalanceUnits,
  ) {
    this.clock = new TestClock(startMs);
    this.machine = new AccountRiskMachine(7, limits, this.clock);
    this.hours = new TradingHours(limits);
    this.balance = balance;
  }

  fill(side: Side, size: number, price: string): void {
    const r = this.book.applyFill({ contractId: MNQ.contractId, side, size, priceUnits: px(price), feesUnits: FEE * size, tsMs: this.clock.now(), tradeId: ++this.trade });
    // The broker balance moves by realised P&L net of fees.
    this.balance += r.realizedGrossUnits - FEE * size;
  }

  evaluate(markPrice?: string): Evaluation {
    if (markPrice !== undefined) this.mark = px(markPrice);
    this.book.beginTradingDay(tradingDayOf(this.clock.now()).id);
    const totals = this.book.totals(() => this.mark);
    const net = this.book.netSize(MNQ.contractId);
    const stopRisk = workingStopRiskUnits(
      net === 0 ? [] : [{ contractId: MNQ.contractId, netSize: net, markPriceUnits: this.mark, tickSizeUnits: MNQ.tickSizeUnits, tickValueMoneyUnits: MNQ.tickValueMoneyUnits }],
      this.stops,
    );
    return this.machine.evaluate({
      dayNetPnlUnits: totals.dayNetPnlUnits,
      pnlDayId: totals.dayId,
      balanceUnits: this.balance,
      unrealizedUnits: totals.unrealizedUnits,
      workingStopRiskUnits: stopRisk,
      killSwitch: this.killSwitch,
      openContractIds: this.book.openContractIds(),
      workingOrderCount: this.stops.length,
      unpricedPositions: 0,
    });
  }

  gate(side: Side, size: number): ReturnType<typeof decide> {
    const net = this.book.netSize(MNQ.contractId);
    const h = this.hours.status(this.clock.now());
    const input: GateInput = {
      ready: true,
      state: this.machine.state,
      reasonCode: this.machine.reason,
      killSwitch: this.killSwitch,
      isReducing: orderReducesPosition(net, 0, side, size),
      staleMarketData: false,
      withinTradingHours: h.withinTradingHours,
      entryAllowedByTime: h.entryAllowedByTime,
      openOrders: this.stops.length,
      maxOpenOrders: this.limits.maxOpenOrders,
      positionUnitsAfter: Math.abs(net + (side === 'BUY' ? size : -size)),
      maxPositionUnits: this.limits.maxPositionUnits,
      ordersLastMinute: 0,
      maxOrdersPerMinute: this.limits.maxOrdersPerMinute,
    };
    return decide(input);
  }
}

const WED_0900 = ct(2026, 1, 14, 9, 0);

describe('a 2-lot MNQ long through the daily loss limit', () => {
  it('goes REDUCING then HALTED, enforces, denies entries with DAILY_LOSS_LIMIT, passes reducers, and is ACTIVE next day', () => {
    const a = new Harness(COMBINE_50K, WED_0900);
    a.fill('BUY', 2, '20000');
    let e = a.evaluate('19900'); // −$400.74
    expect([e.state, e.reason, e.events, e.actions]).toEqual(['ACTIVE', 'NONE', [], []]);
    expect(e.headroom.dllRemainingUnits).toBe(usd('599.26'));

    a.clock.advance(60_000);
    e = a.evaluate('19800.25'); // −$799.74: 79.97 % used, still ACTIVE
    expect(e.state).toBe('ACTIVE');
    e = a.evaluate('19800'); // −$800.74: ≥ 80 %
    expect([e.state, e.reason]).toEqual(['REDUCING', 'DAILY_LOSS_LIMIT']);
    expect(e.events).toMatchObject([{ type: 'STATE_CHANGED', accountId: 7, from: 'ACTIVE', to: 'REDUCING', reason: 'DAILY_LOSS_LIMIT', atMs: WED_0900 + 60_000 }]);
    expect(e.actions).toEqual([]);
    expect(a.gate('BUY', 1)).toMatchObject({ allowed: false, reason: 'REDUCE_ONLY' });
    expect(a.gate('SELL', 1)).toEqual({ allowed: true });

    a.clock.advance(60_000);
    e = a.evaluate('19750.25'); // −$999.74: not yet
    expect(e.state).toBe('REDUCING');
    e = a.evaluate('19750'); // −$1,000.74 ≤ −$1,000
    expect([e.state, e.reason]).toEqual(['HALTED', 'DAILY_LOSS_LIMIT']);
    expect(e.events).toHaveLength(1);
    expect(e.events[0]).toMatchObject({ type: 'STATE_CHANGED', from: 'REDUCING', to: 'HALTED', reason: 'DAILY_LOSS_LIMIT' });
    expect(e.events[0]!.message).toMatch(/REDUCING → HALTED \(DAILY_LOSS_LIMIT\)/);
    expect(e.actions).toEqual([
      { type: 'CANCEL_ALL_ORDERS', accountId: 7, reason: 'DAILY_LOSS_LIMIT' },
      { type: 'FLATTEN', accountId: 7, contractId: MNQ.contractId, reason: 'DAILY_LOSS_LIMIT' },
      { type: 'SWEEP_CONTRACT_ORDERS', accountId: 7, contractId: MNQ.contractId, reason: 'DAILY_LOSS_LIMIT' },
    ]);
    expect(a.gate('BUY', 1)).toMatchObject({ allowed: false, reason: 'DAILY_LOSS_LIMIT' });
    expect(a.gate('SELL', 2)).toEqual({ allowed: true });
    expect(a.gate('SELL', 3)).toMatchObject({ allowed: false, reason: 'DAILY_LOSS_LIMIT' }); // would flip short

    // Still exposed right after: no duplicate enforcement inside the retry interval, then a retry.
    a.clock.advance(500);
    expect(a.evaluate().actions).toEqual([]);
    a.clock.advance(COMBINE_50K.enforceRetryMs);
    e = a.evaluate();
    expect(e.events.map((x) => x.type)).toEqual(['ENFORCEMENT_RETRY']);
    expect(e.actions.map((x) => x.type)).toEqual(['CANCEL_ALL_ORDERS', 'FLATTEN', 'SWEEP_CONTRACT_ORDERS']);

    // The flatten fills; the market recovers; the halt holds for the rest of the trading day.
    a.fill('SELL', 2, '19750');
    a.clock.advance(60_000);
    e = a.evaluate('20100');
    expect([e.state, e.reason, e.actions]).toEqual(['HALTED', 'DAILY_LOSS_LIMIT', []]);
    a.clock.set(ct(2026, 1, 14, 16, 59, 59));
    expect(a.evaluate().state).toBe('HALTED');
    expect(a.gate('BUY', 1)).toMatchObject({ reason: 'DAILY_LOSS_LIMIT' });

    // 17:00 CT: the next trading day.
    a.clock.set(ct(2026, 1, 14, 17, 0));
    e = a.evaluate();
    expect([e.state, e.reason, e.dayId]).toEqual(['ACTIVE', 'NONE', 20260115]);
    expect(e.events.map((x) => [x.type, x.from, x.to])).toEqual([
      ['TRADING_DAY_ROLLED', 'HALTED', 'HALTED'],
      ['STATE_CHANGED', 'HALTED', 'ACTIVE'],
    ]);
    // The EOD balance ($48,998.52) is below the high: the MLL floor stays at $48,000.
    expect(e.mllFloorUnits).toBe(usd('48000'));
    expect(a.balance).toBe(usd('50000') - usd('1000') - 4 * FEE);
    expect(a.gate('BUY', 1)).toEqual({ allowed: true });
  });

  it('counts working stops in the headroom: a protective stop at −$800 makes the account REDUCING at entry', () => {
    const a = new Harness(COMBINE_50K, WED_0900);
    a.fill('BUY', 2, '20000');
    a.stops = [{ contractId: MNQ.contractId, side: 'SELL', size: 2, stopPriceUnits: px('19800') }];
    const e = a.evaluate('20000');
    expect(e.headroom.dllRemainingUnits).toBe(usd('1000') - 2 * FEE - usd('800'));
    expect([e.state, e.reason]).toEqual(['REDUCING', 'DAILY_LOSS_LIMIT']);
    a.stops = [{ contractId: MNQ.contractId, side: 'SELL', size: 2, stopPriceUnits: px('19900') }];
    expect(a.evaluate().state).toBe('ACTIVE');
  });

  it('survives a worker restart: a machine rebuilt from its snapshot stays HALTED by the DLL until 17:00 CT', () => {
    const a = new Harness(COMBINE_50K, WED_0900);
    a.fill('BUY', 2, '20000');
    expect(a.evaluate('19700').state).toBe('HALTED');
    const snap = JSON.parse(JSON.stringify(a.machine.snapshot()));
    const clock = new TestClock(ct(2026, 1, 14, 10, 0));
    const restored = new AccountRiskMachine(7, COMBINE_50K, clock, snap);
    const inputs = { dayNetPnlUnits: 0, pnlDayId: 20260114, balanceUnits: usd('49000'), unrealizedUnits: 0, workingStopRiskUnits: 0, killSwitch: false, openContractIds: [], workingOrderCount: 0, unpricedPositions: 0 };
    let e = restored.evaluate(inputs);
    expect([e.state, e.reason, e.events, e.actions]).toEqual(['HALTED', 'DAILY_LOSS_LIMIT', [], []]);
    clock.set(ct(2026, 1, 14, 17, 0));
    e = restored.evaluate({ ...inputs, pnlDayId: 20260115 });
    expect([e.state, e.reason]).toEqual(['ACTIVE', 'NONE']);
  });

  it('Halt/Resume by kill switch', () => {
    const a = new Harness(COMBINE_50K, WED_0900);
    a.fill('BUY', 1, '20000');
    a.killSwitch = true;
    let e = a.evaluate('20000');
    expect([e.state, e.reason]).toEqual(['HALTED', 'KILL_SWITCH']);
    expect(e.actions.map((x) => x.type)).toEqual(['CANCEL_ALL_ORDERS', 'FLATTEN', 'SWEEP_CONTRACT_ORDERS']);
    expect(a.gate('BUY', 1)).toMatchObject({ reason: 'HALTED' });
    expect(a.gate('SELL', 1)).toEqual({ allowed: true });
    a.killSwitch = false;
    e = a.evaluate();
    expect([e.state, e.events[0]?.to]).toEqual(['ACTIVE', 'ACTIVE']);
  });

  it('auto-flattens at 15:08 CT, retries while a position remains, and denies entries from 15:08 CT', () => {
    const a = new Harness(COMBINE_50K, ct(2026, 7, 15, 15, 7, 59));
    a.fill('BUY', 1, '20000');
    expect(a.evaluate('20000').actions).toEqual([]);
    expect(a.gate('BUY', 1)).toEqual({ allowed: true });
    a.clock.set(ct(2026, 7, 15, 15, 8));
    const e = a.evaluate();
    expect(e.events.map((x) => x.type)).toEqual(['AUTO_FLATTEN']);
    expect(e.actions).toEqual([
      { type: 'CANCEL_ALL_ORDERS', accountId: 7, reason: 'AUTO_FLATTEN' },
      { type: 'FLATTEN', accountId: 7, contractId: MNQ.contractId, reason: 'AUTO_FLATTEN' },
      { type: 'SWEEP_CONTRACT_ORDERS', accountId: 7, contractId: MNQ.contractId, reason: 'AUTO_FLATTEN' },
    ]);
    a.clock.advance(1_000);
    expect(a.evaluate().actions).toEqual([]);
    a.clock.advance(2_000);
    expect(a.evaluate().events.map((x) => x.type)).toEqual(['ENFORCEMENT_RETRY']);
    a.fill('SELL', 1, '20000');
    a.clock.set(ct(2026, 7, 15, 15, 9, 59));
    expect(a.evaluate().actions).toEqual([]);
    expect(a.gate('BUY', 1)).toMatchObject({ allowed: false, reason: 'TRADING_HOURS' });
    a.clock.set(ct(2026, 7, 15, 15, 10));
    expect(a.gate('BUY', 1)).toMatchObject({ allowed: false, reason: 'TRADING_HOURS' });
    a.clock.set(ct(2026, 7, 15, 17, 0));
    expect(a.gate('BUY', 1)).toEqual({ allowed: true });
  });
});

describe('a 2-lot MNQ long through the trailing maximum loss limit', () => {
  const noDll = parseRiskLimits({ dailyLossLimitUnits: 0 });

  it('trails the floor over several end-of-day balances, locks at the starting balance, and halts on an intraday breach until reset', () => {
    const a = new Harness(noDll, WED_0900);
    const days: [number, number, number, string, string][] = [
      // [y, m, d, EOD balance, floor after]
      [2026, 1, 14, '50800', '48800'],
      [2026, 1, 15, '51500', '49500'],
      [2026, 1, 16, '51200', '49500'],
      [2026, 1, 20, '52600', '50000'], // 50,600 capped: locked at the starting balance
      [2026, 1, 21, '54000', '50000'],
    ];
    for (const [y, m, d, eod, floor] of days) {
      a.clock.set(ct(y, m, d, 10, 0));
      a.evaluate();
      a.balance = usd(eod);
      a.clock.set(ct(y, m, d, 16, 5));
      const events = a.machine.endOfDay(usd(eod));
      expect(a.machine.mllState.floorUnits).toBe(usd(floor));
      if (events.length > 0) expect(events[0]).toMatchObject({ type: 'MLL_FLOOR_UPDATED', accountId: 7 });
    }
    expect(a.machine.mllState.locked).toBe(true);

    // Thursday: balance $51,000 after a losing day (eodHigh stays $54,000), floor $50,000.
    a.balance = usd('51000');
    a.clock.set(ct(2026, 1, 22, 9, 0));
    a.fill('BUY', 2, '20000'); // balance 51000 − $0.74 fees
    let e = a.evaluate('20000');
    expect([e.state, e.mllFloorUnits]).toEqual(['ACTIVE', usd('50000')]);
    expect(e.headroom.mllRemainingUnits).toBe(usd('999.26'));
    // MLL used = 2,000 − remaining ≥ 1,600 ⇔ remaining ≤ 400 ⇔ unrealised ≤ −599.26.
    expect(a.evaluate('19850.25').state).toBe('ACTIVE'); // −$599
    e = a.evaluate('19850'); // −$600
    expect([e.state, e.reason]).toEqual(['REDUCING', 'MAX_LOSS_LIMIT']);
    expect(a.gate('BUY', 1)).toMatchObject({ reason: 'REDUCE_ONLY' });
    e = a.evaluate('19750.25'); // −$999: equity $50,000.26
    expect(e.state).toBe('REDUCING');
    e = a.evaluate('19750'); // −$1,000: equity $49,999.26 ≤ floor
    expect([e.state, e.reason]).toEqual(['HALTED', 'MAX_LOSS_LIMIT']);
    expect(e.actions.map((x) => x.type)).toEqual(['CANCEL_ALL_ORDERS', 'FLATTEN', 'SWEEP_CONTRACT_ORDERS']);
    expect(a.gate('BUY', 1)).toMatchObject({ allowed: false, reason: 'MAX_LOSS_LIMIT' });
    expect(a.gate('SELL', 2)).toEqual({ allowed: true });

    a.fill('SELL', 2, '19750');
    e = a.evaluate('20500');
    expect([e.state, e.reason]).toEqual(['HALTED', 'MAX_LOSS_LIMIT']);
    // The next trading day: an MLL breach is not lifted by the day roll.
    a.clock.set(ct(2026, 1, 23, 9, 0));
    e = a.evaluate();
    expect([e.state, e.reason]).toEqual(['HALTED', 'MAX_LOSS_LIMIT']);
    expect(a.gate('BUY', 1)).toMatchObject({ reason: 'MAX_LOSS_LIMIT' });
    // An account reset (new starting balance) clears it.
    a.machine.resetMll();
    a.balance = usd('50000');
    e = a.evaluate();
    expect([e.state, e.mllFloorUnits]).toEqual(['ACTIVE', usd('48000')]);
  });

  it('trails automatically at the day roll with the last balance seen when endOfDay is not called', () => {
    const a = new Harness(noDll, WED_0900);
    a.evaluate();
    a.balance = usd('51000');
    a.clock.set(ct(2026, 1, 14, 16, 30));
    a.evaluate();
    a.clock.set(ct(2026, 1, 14, 17, 1));
    const e = a.evaluate();
    expect(e.mllFloorUnits).toBe(usd('49000'));
    expect(e.events.map((x) => x.type)).toEqual(['MLL_FLOOR_UPDATED', 'TRADING_DAY_ROLLED']);
  });
});
