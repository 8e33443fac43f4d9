// The per-account trading state: ACTIVE → REDUCING → HALTED, with the reason, the events of every
// transition and, on HALTED or at the auto-flatten time, the enforcement actions as data for the
// service to execute. Pure: time comes from the injected clock, inputs are plain numbers.
// Single-threaded: in the engine only the risk-manager thread owns and evaluates the machines.
//
// Headroom (money units, 1e-4 USD):
//   DLL remaining = dll + dayNetPnl − workingStopRisk                       (∞ when the DLL is off)
//   MLL remaining = balance + unrealized − mllFloor − workingStopRisk       (∞ when the MLL is off)
//   headroom      = min(DLL remaining, MLL remaining)
// where dayNetPnl = realised gross − fees + unrealised over the trading day, and workingStopRisk is the
// additional loss if every working stop filled at its stop price (stops.ts). "∞" is published as
// Number.MAX_SAFE_INTEGER to keep everything an integer.
// Used share of a limit: DLL used = dll − DLL remaining; MLL used = drawdown − MLL remaining.
//   REDUCING when used ≥ reduceAt × limit for either limit (integer compare in basis points).
//   HALTED   on the actual loss, working stops not counted:
//            DLL: dayNetPnl ≤ −dll            → halted until the next trading day (17:00 CT)
//            MLL: balance + unrealized ≤ floor → halted until resetMll() (the account is broken)
//            kill switch on                   → halted until it is switched off
//   REDUCING (UNPRICED_POSITION) while an open position has no usable price (`unpricedPositions` > 0): its open
//            P&L is missing from the numbers above, so no new risk until it is priced; back to ACTIVE then.
// MLL floor: trailed at each 17:00 CT roll with the last balance seen; also raised (never lowered) by what is known of
// the days the machine did not see close: a REST rebuild's start-of-day balance (startOfDay) and the floor the trader
// read on the Topstep dashboard (limits.knownMllFloorUnits).
// Auto-flatten window (flatten time → 17:00 CT): cancel + flatten once, then again every enforceRetryMs while a position
// or a working order remains (an order placed in the window must not open a position after 15:10 CT).
// Precedence of the reason: MAX_LOSS_LIMIT > DAILY_LOSS_LIMIT > KILL_SWITCH (all HALTED), then REDUCING by
// MAX_LOSS_LIMIT > DAILY_LOSS_LIMIT > UNPRICED_POSITION.
import { addSafe, requireSafeInt } from './money';
import { tradingDayOf } from '@gateway/session';
import type { StateReason, TradingState } from './gate';
import { TradingHours, type TradingHoursStatus } from './hours';
import type { RiskLimits } from './limits';
import { initialMllState, nextMllFloor, raiseMllFloor, type MllState } from './mll';

export interface Clock {
  now(): number;
}

/** A clock the test (or a replay) moves by hand. */
export class TestClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Unlimited headroom (limit switched off), kept an integer for shared memory. */
export const UNLIMITED = Number.MAX_SAFE_INTEGER;

export interface RiskInputs {
  /** Realised gross − fees + unrealised over the trading day `pnlDayId`. */
  dayNetPnlUnits: number;
  /** The trading day the realised part of dayNetPnl belongs to (PositionBook.dayId). */
  pnlDayId: number;
  /** Broker balance (realised, net of fees). */
  balanceUnits: number;
  /** Open P&L of all positions at the marks. */
  unrealizedUnits: number;
  /** workingStopRiskUnits(…), ≥ 0. */
  workingStopRiskUnits: number;
  killSwitch: boolean;
  /**
   * With killSwitch: false keeps positions and working orders (the operator halted without flatten): the halt
   * only refuses new risk, and neither enforces nor retries. A loss limit reached meanwhile and the auto-flatten
   * window still enforce. Default true.
   */
  killSwitchFlatten?: boolean;
  /** Contracts with an open position (what a flatten closes). */
  openContractIds: readonly string[];
  /** Working orders on the account. */
  workingOrderCount: number;
  /**
   * Open positions valued without a usable price (none, or a stale one): their open P&L is unknown or old, so
   * the account takes no new risk (REDUCING, UNPRICED_POSITION) until they are priced. ≥ 0.
   */
  unpricedPositions: number;
}

export interface Headroom {
  dllRemainingUnits: number;
  mllRemainingUnits: number;
  headroomUnits: number;
}

export type RiskEventType = 'STATE_CHANGED' | 'TRADING_DAY_ROLLED' | 'MLL_FLOOR_UPDATED' | 'AUTO_FLATTEN' | 'ENFORCEMENT_RETRY';

export interface RiskEvent {
  type: RiskEventType;
  accountId: number;
  from: TradingState;
  to: TradingState;
  reason: StateReason | 'AUTO_FLATTEN';
  atMs: number;
  /** One human line for the log. */
  message: string;
}

export type ActionReason = StateReason | 'AUTO_FLATTEN';

/**
 * What the service must do, in order: cancel every working order (no entry may fill while we close),
 * close each position (Position/closeContract), then sweep: after the close, cancel every order still
 * working on that contract, because closeContract leaves stops and brackets alive (orphan stops,
 * topstepx-api.md §12) and Suspended bracket children only show up in Order/v2/query.
 */
export type RiskAction =
  | { type: 'CANCEL_ALL_ORDERS'; accountId: number; reason: ActionReason }
  | { type: 'FLATTEN'; accountId: number; contractId: string; reason: ActionReason }
  | { type: 'SWEEP_CONTRACT_ORDERS'; accountId: number; contractId: string; reason: ActionReason };

export interface Evaluation {
  state: TradingState;
  reason: StateReason;
  dayId: number;
  mllFloorUnits: number;
  headroom: Headroom;
  hours: TradingHoursStatus;
  events: RiskEvent[];
  actions: RiskAction[];
}

/** Headroom per the formula above. */
export function computeHeadroom(limits: RiskLimits, mllFloorUnits: number, dayNetPnlUnits: number, balanceUnits: number, unrealizedUnits: number, stopRiskUnits: number): Headroom {
  const dll =
    limits.dailyLossLimitUnits > 0
      ? addSafe(addSafe(limits.dailyLossLimitUnits, dayNetPnlUnits, 'dllRemaining'), -stopRiskUnits, 'dllRemaining')
      : UNLIMITED;
  const mll =
    limits.maxLossDrawdownUnits > 0
      ? addSafe(addSafe(addSafe(balanceUnits, unrealizedUnits, 'equity'), -mllFloorUnits, 'mllRemaining'), -stopRiskUnits, 'mllRemaining')
      : UNLIMITED;
  return { dllRemainingUnits: dll, mllRemainingUnits: mll, headroomUnits: Math.min(dll, mll) };
}

/** used ≥ reduceAt × limit, exactly (BigInt, reduceAt in basis points). */
function reached(usedUnits: number, limitUnits: number, reduceAt: number): boolean {
  const bps = BigInt(Math.round(reduceAt * 10_000));
  return BigInt(usedUnits) * 10_000n >= bps * BigInt(limitUnits);
}

export interface RiskMachineSnapshot {
  state: TradingState;
  reason: StateReason;
  mll: MllState;
  /** The MLL was breached: HALTED until resetMll(). */
  mllBroken: boolean;
  /** Trading day (yyyymmdd) on which the DLL was hit; HALTED while it is the current day. */
  dllHaltDayId: number;
  dayId: number;
  eodAppliedDayId: number;
  autoFlattenDayId: number;
  lastBalanceUnits: number | null;
}

export class AccountRiskMachine {
  private current: TradingState = 'ACTIVE';
  private currentReason: StateReason = 'NONE';
  private mll: MllState;
  private mllBroken = false;
  private dllHaltDayId = 0;
  private dayId = 0;
  private lastBalance: number | undefined;
  private eodAppliedDayId = 0;
  private autoFlattenDayId = 0;
  private lastEnforceMs = Number.NEGATIVE_INFINITY;
  private readonly hours: TradingHours;
  /** Events of changes made outside evaluate() (the floor raised at construction or by startOfDay), returned by the next one. */
  private readonly pending: RiskEvent[] = [];

  /**
   * `snapshot` restores a machine after a worker restart (the lead keeps it in shared memory or the
   * journal): the sticky halts, the MLL trail and the per-day markers survive.
   */
  constructor(
    readonly accountId: number,
    private readonly limits: RiskLimits,
    private readonly clock: Clock,
    snapshot?: RiskMachineSnapshot,
  ) {
    this.mll = snapshot?.mll ?? initialMllState(limits.startingBalanceUnits, limits.maxLossDrawdownUnits);
    if (snapshot !== undefined) {
      this.current = snapshot.state;
      this.currentReason = snapshot.reason;
      this.mllBroken = snapshot.mllBroken;
      this.dllHaltDayId = snapshot.dllHaltDayId;
      this.dayId = snapshot.dayId;
      this.eodAppliedDayId = snapshot.eodAppliedDayId;
      this.autoFlattenDayId = snapshot.autoFlattenDayId;
      this.lastBalance = snapshot.lastBalanceUnits ?? undefined;
    }
    this.hours = new TradingHours(limits);
    if (limits.knownMllFloorUnits > 0) this.raiseFloor(raiseMllFloor(this.mll, limits.knownMllFloorUnits), `the floor given by RISK_MLL_FLOOR (${limits.knownMllFloorUnits})`);
  }

  /** Everything needed to rebuild this machine with the constructor (plain, integer-valued data). */
  snapshot(): RiskMachineSnapshot {
    return {
      state: this.current,
      reason: this.currentReason,
      mll: this.mll,
      mllBroken: this.mllBroken,
      dllHaltDayId: this.dllHaltDayId,
      dayId: this.dayId,
      eodAppliedDayId: this.eodAppliedDayId,
      autoFlattenDayId: this.autoFlattenDayId,
      lastBalanceUnits: this.lastBalance ?? null,
    };
  }

  get state(): TradingState {
    return this.current;
  }
  get reason(): StateReason {
    return this.currentReason;
  }
  get mllState(): MllState {
    return this.mll;
  }

  /**
   * Records the end-of-day balance of the current trading day and trails the MLL floor (call after the
   * close and before 17:00 CT, e.g. at 16:00 CT). If it is never called, the first evaluation of the next day trails the
   * floor with the last balance seen on the previous day (positions are flat by then).
   */
  endOfDay(eodBalanceUnits: number): RiskEvent[] {
    const now = this.clock.now();
    const day = tradingDayOf(now).id;
    return this.applyEod(day, eodBalanceUnits, now);
  }

  /**
   * A REST rebuild's start-of-day balance of trading day `dayId` (broker balance − that day's realised net, fees
   * included): the end-of-day balance of the last trading day before it, the one Topstep trailed its floor with.
   * Only when the machine has not rolled into `dayId` itself (a first start, a restart across 17:00 CT): then the MLL
   * trails with it (never lowered), and it closes the machine's last day in place of the last balance the machine saw
   * (an intraday one when the engine stopped before the close). A day the machine rolled into itself was trailed
   * with the balance it saw at the close. The event, if the floor moved, comes with the next evaluate().
   */
  startOfDay(dayId: number, startOfDayBalanceUnits: number): void {
    requireSafeInt(startOfDayBalanceUnits, 'startOfDayBalanceUnits');
    if (dayId <= this.dayId) return;
    if (this.dayId !== 0) this.eodAppliedDayId = this.dayId;
    this.raiseFloor(nextMllFloor(this.mll, startOfDayBalanceUnits), `start-of-day balance ${startOfDayBalanceUnits} of day ${dayId}, the previous day's end-of-day balance`);
  }

  /** After an account reset: a fresh MLL from the (possibly new) starting balance; the breach is cleared. */
  resetMll(state?: MllState): void {
    this.mll = state ?? initialMllState(this.limits.startingBalanceUnits, this.limits.maxLossDrawdownUnits);
    this.mllBroken = false;
  }

  /** Evaluates the state at the clock's time. Events and actions are returned as data. */
  evaluate(inputs: RiskInputs): Evaluation {
    const now = this.clock.now();
    const events: RiskEvent[] = this.pending.length > 0 ? this.pending.splice(0) : [];
    const actions: RiskAction[] = [];
    requireSafeInt(inputs.dayNetPnlUnits, 'dayNetPnlUnits');
    requireSafeInt(inputs.balanceUnits, 'balanceUnits');
    requireSafeInt(inputs.unrealizedUnits, 'unrealizedUnits');
    requireSafeInt(inputs.workingStopRiskUnits, 'workingStopRiskUnits');
    if (inputs.workingStopRiskUnits < 0) throw new RangeError(`workingStopRiskUnits must be >= 0, got ${inputs.workingStopRiskUnits}`);
    requireSafeInt(inputs.unpricedPositions, 'unpricedPositions');
    if (inputs.unpricedPositions < 0) throw new RangeError(`unpricedPositions must be >= 0, got ${inputs.unpricedPositions}`);

    const hours = this.hours.status(now);
    if (hours.dayId !== this.dayId) {
      const previous = this.dayId;
      if (previous !== 0) {
        if (this.eodAppliedDayId !== previous && this.lastBalance !== undefined) {
          events.push(...this.applyEod(previous, this.lastBalance, now));
        }
        events.push(this.event('TRADING_DAY_ROLLED', this.current, this.current, this.currentReason, now, `trading day ${previous} → ${hours.dayId}`));
      }
      this.dayId = hours.dayId;
    }
    this.lastBalance = inputs.balanceUnits;

    // Realised P&L of an older day is not today's: only the open P&L counts until the book rolls.
    const dayNet = inputs.pnlDayId >= this.dayId ? inputs.dayNetPnlUnits : inputs.unrealizedUnits;
    const headroom = computeHeadroom(this.limits, this.mll.floorUnits, dayNet, inputs.balanceUnits, inputs.unrealizedUnits, inputs.workingStopRiskUnits);

    const dll = this.limits.dailyLossLimitUnits;
    const dd = this.limits.maxLossDrawdownUnits;
    if (dd > 0 && addSafe(inputs.balanceUnits, inputs.unrealizedUnits, 'equity') <= this.mll.floorUnits) this.mllBroken = true;
    if (dll > 0 && dayNet <= -dll) this.dllHaltDayId = this.dayId;

    let next: TradingState = 'ACTIVE';
    let reason: StateReason = 'NONE';
    if (this.mllBroken) [next, reason] = ['HALTED', 'MAX_LOSS_LIMIT'];
    else if (this.dllHaltDayId === this.dayId) [next, reason] = ['HALTED', 'DAILY_LOSS_LIMIT'];
    else if (inputs.killSwitch) [next, reason] = ['HALTED', 'KILL_SWITCH'];
    else if (dd > 0 && reached(dd - headroom.mllRemainingUnits, dd, this.limits.reduceAt)) [next, reason] = ['REDUCING', 'MAX_LOSS_LIMIT'];
    else if (dll > 0 && reached(dll - headroom.dllRemainingUnits, dll, this.limits.reduceAt)) [next, reason] = ['REDUCING', 'DAILY_LOSS_LIMIT'];
    else if (inputs.unpricedPositions > 0) [next, reason] = ['REDUCING', 'UNPRICED_POSITION'];

    const exposed = inputs.openContractIds.length > 0 || inputs.workingOrderCount > 0;
    const holds = reason === 'KILL_SWITCH' && inputs.killSwitchFlatten === false;
    if (next !== this.current || reason !== this.currentReason) {
      const from = this.current;
      this.current = next;
      this.currentReason = reason;
      events.push(this.event('STATE_CHANGED', from, next, reason, now, this.describe(from, next, reason, headroom, dayNet, inputs.unpricedPositions)));
      // Entering HALTED, or a new halt reason while halted (a loss limit over a kill switch that did not flatten):
      // enforce now, not at the next retry.
      if (next === 'HALTED' && !holds) {
        this.enforce(actions, inputs.openContractIds, reason, now);
      }
    } else if (next === 'HALTED' && !holds && exposed && now - this.lastEnforceMs >= this.limits.enforceRetryMs) {
      // Still exposed while halted (a late fill, an orphan stop, a failed close): enforce again.
      events.push(this.event('ENFORCEMENT_RETRY', next, next, reason, now, `account ${this.accountId} halted (${reason}) but still exposed: enforcing again`));
      this.enforce(actions, inputs.openContractIds, reason, now);
    }

    if (hours.flattenDue) {
      if (this.autoFlattenDayId !== this.dayId) {
        this.autoFlattenDayId = this.dayId;
        // A halt enforced in this same evaluation already cancels and flattens everything.
        if (actions.length === 0) {
          events.push(this.event('AUTO_FLATTEN', this.current, this.current, this.currentReason, now, `account ${this.accountId}: auto-flatten before the no-new-positions time`));
          this.enforce(actions, inputs.openContractIds, 'AUTO_FLATTEN', now);
        }
      } else if (actions.length === 0 && exposed && now - this.lastEnforceMs >= this.limits.enforceRetryMs) {
        // A working order counts too: an entry placed after the flatten (the TopstepX UI, or one sent just before the
        // gate's cut-off) would otherwise stay working past 15:10 CT and open a position whenever it fills.
        events.push(
          this.event(
            'ENFORCEMENT_RETRY',
            this.current,
            this.current,
            this.currentReason,
            now,
            `account ${this.accountId}: ${inputs.openContractIds.length} position(s) and ${inputs.workingOrderCount} working order(s) in the flatten window: cancelling and flattening again`,
          ),
        );
        this.enforce(actions, inputs.openContractIds, 'AUTO_FLATTEN', now);
      }
    }

    return { state: this.current, reason: this.currentReason, dayId: this.dayId, mllFloorUnits: this.mll.floorUnits, headroom, hours: { ...hours }, events, actions };
  }

  /**
   * Takes `next` (from nextMllFloor / raiseMllFloor: its floor and end-of-day high are never below the current ones) as
   * the MLL state; if the floor rose, its event goes out with the next evaluate().
   */
  private raiseFloor(next: MllState, why: string): void {
    const before = this.mll.floorUnits;
    this.mll = next;
    if (next.floorUnits === before) return;
    this.pending.push(
      this.event(
        'MLL_FLOOR_UPDATED',
        this.current,
        this.current,
        this.currentReason,
        this.clock.now(),
        `account ${this.accountId}: MLL floor ${before} → ${next.floorUnits} from ${why}${next.locked ? ', locked at the starting balance' : ''}`,
      ),
    );
  }

  private applyEod(day: number, eodBalanceUnits: number, now: number): RiskEvent[] {
    requireSafeInt(eodBalanceUnits, 'eodBalanceUnits');
    if (this.eodAppliedDayId === day) return [];
    this.eodAppliedDayId = day;
    const before = this.mll.floorUnits;
    this.mll = nextMllFloor(this.mll, eodBalanceUnits);
    if (this.mll.floorUnits === before) return [];
    return [
      this.event(
        'MLL_FLOOR_UPDATED',
        this.current,
        this.current,
        this.currentReason,
        now,
        `account ${this.accountId}: MLL floor ${before} → ${this.mll.floorUnits} (EOD balance ${eodBalanceUnits} of day ${day}${this.mll.locked ? ', locked at the starting balance' : ''})`,
      ),
    ];
  }

  private enforce(actions: RiskAction[], contracts: readonly string[], reason: ActionReason, now: number): void {
    this.lastEnforceMs = now;
    actions.push({ type: 'CANCEL_ALL_ORDERS', accountId: this.accountId, reason });
    for (const contractId of contracts) actions.push({ type: 'FLATTEN', accountId: this.accountId, contractId, reason });
    for (const contractId of contracts) actions.push({ type: 'SWEEP_CONTRACT_ORDERS', accountId: this.accountId, contractId, reason });
  }

  private event(type: RiskEventType, from: TradingState, to: TradingState, reason: StateReason | 'AUTO_FLATTEN', atMs: number, message: string): RiskEvent {
    return { type, accountId: this.accountId, from, to, reason, atMs, message };
  }

  private describe(from: TradingState, to: TradingState, reason: StateReason, h: Headroom, dayNet: number, unpriced: number): string {
    const fmt = (v: number): string => (v === UNLIMITED ? 'off' : String(v));
    const why =
      reason === 'UNPRICED_POSITION' ? `; ${unpriced} open position(s) without a usable price (no mark, or a mark stale too long), their open P&L not counted in the limits` : '';
    return `account ${this.accountId}: ${from} → ${to} (${reason}); dayNet ${dayNet}, DLL remaining ${fmt(h.dllRemainingUnits)}, MLL remaining ${fmt(h.mllRemainingUnits)}, floor ${this.mll.floorUnits} (money units 1e-4 USD)${why}`;
  }
}
