// The pre-trade risk gate: one pure decision per order, run by the order-executor thread on a flat
// snapshot the lead fills from shared memory. Hot path: no allocation (decisions are preallocated,
// frozen objects), no clock, no map lookups; goal p99 ≤ 2 µs.
//
// Precedence (first match wins):
//   1. RISK_NOT_READY     risk state not yet built (no snapshot, reconciliation running): nothing is
//                         known, not even whether the order reduces, so every order waits.
//   2. reducing orders    pass. An order that only reduces the current net position (accounting for
//                         working reducing orders, so it can never flip it: orderReducesPosition) passes
//                         every loss limit, halt, trading-hours, stale-data, rate and count check:
//                         getting out is always allowed (architecture.md, life of an order, step 3).
//   3. HALTED             state HALTED: the state's reason — DAILY_LOSS_LIMIT, MAX_LOSS_LIMIT, or
//                         HALTED (kill switch); the kill-switch flag alone also gives HALTED (it is
//                         checked here too so a halt is effective before the state machine has run).
//   4. REDUCE_ONLY        state REDUCING (≥ reduceAt of a loss limit used, counting working stops; or
//                         an open position without a usable price, reason UNPRICED_POSITION: same code,
//                         its own detail, UNPRICED_DENIAL).
//   5. TRADING_HOURS      session closed, or past the no-new-positions time (15:10 CT).
//   6. STALE_MARKET_DATA  the contract's marks are stale: P&L and limits cannot be trusted.
//   7. ORDER_RATE         orders in the last 60 s ≥ maxOrdersPerMinute.
//   8. MAX_OPEN_ORDERS    working orders ≥ maxOpenOrders.
//   9. MAX_POSITION       weighted position after the order (worst case: all working same-side orders
//                         fill) > maxPositionUnits.
// Account-wide, sticky conditions come first because they tell a strategy to stop; per-order counters
// last because waiting may clear them.
import { MICRO_WEIGHT, MINI_WEIGHT } from './limits';
import type { Side } from './position';

/** Stable denial reason codes (wire contract: strategies and the front door depend on these names). */
export const REASON_CODES = [
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
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** Trading states; the index is the code stored in shared memory. */
export const TRADING_STATES = ['ACTIVE', 'REDUCING', 'HALTED'] as const;
export type TradingState = (typeof TRADING_STATES)[number];

/**
 * Why the account is REDUCING or HALTED; the index is the code stored in shared memory, so a new reason is
 * only ever appended. UNPRICED_POSITION (REDUCING only): an open position has no usable price (a contract
 * outside the engine's CONTRACTS whose own feed has not priced it yet, or whose price is stale), so its
 * open loss is not in the limits.
 */
export const STATE_REASONS = ['NONE', 'DAILY_LOSS_LIMIT', 'MAX_LOSS_LIMIT', 'KILL_SWITCH', 'UNPRICED_POSITION'] as const;
export type StateReason = (typeof STATE_REASONS)[number];

export interface GateInput {
  /** The risk-manager has published a reconciled snapshot for this account. */
  ready: boolean;
  state: TradingState;
  /** Why the state is REDUCING / HALTED ('NONE' when ACTIVE). */
  reasonCode: StateReason;
  killSwitch: boolean;
  /** The order only reduces the current net position (see orderReducesPosition). */
  isReducing: boolean;
  staleMarketData: boolean;
  /** The exchange session is open (isSessionOpen). */
  withinTradingHours: boolean;
  /** Before the no-new-positions time of the Topstep trading day (15:10 CT). */
  entryAllowedByTime: boolean;
  /** Working orders on the account now (before this one). */
  openOrders: number;
  maxOpenOrders: number;
  /** Weighted absolute position of the account if this order and all working same-side orders fill. */
  positionUnitsAfter: number;
  maxPositionUnits: number;
  /** Orders placed in the last 60 s (before this one). */
  ordersLastMinute: number;
  maxOrdersPerMinute: number;
}

export interface GateAllowed {
  readonly allowed: true;
}
export interface GateDenied {
  readonly allowed: false;
  readonly reason: ReasonCode;
  readonly detail: string;
}
export type GateDecision = GateAllowed | GateDenied;

const ALLOW: GateAllowed = Object.freeze({ allowed: true });

const DETAILS: Record<ReasonCode, string> = {
  DAILY_LOSS_LIMIT: 'daily loss limit reached: trading blocked until the next trading day (17:00 CT); reducing orders only',
  MAX_LOSS_LIMIT: 'maximum loss limit breached: account halted; reducing orders only',
  MAX_POSITION: 'order would exceed the maximum position size',
  MAX_OPEN_ORDERS: 'too many working orders on the account',
  ORDER_RATE: 'order rate limit reached (orders per minute)',
  TRADING_HOURS: 'outside trading hours or past the no-new-positions time (15:10 CT)',
  HALTED: 'account halted by the kill switch; reducing orders only',
  REDUCE_ONLY: 'account is reducing: close to a loss limit, only orders that reduce a position are accepted',
  STALE_MARKET_DATA: 'market data is stale: no new exposure until marks are fresh',
  RISK_NOT_READY: 'risk state not ready (not yet reconciled)',
};

/** One frozen denial per reason: the hot path returns these, never builds an object. */
export const DENIALS: Readonly<Record<ReasonCode, GateDenied>> = Object.freeze(
  Object.fromEntries(REASON_CODES.map((reason) => [reason, Object.freeze({ allowed: false, reason, detail: DETAILS[reason] })])) as Record<
    ReasonCode,
    GateDenied
  >,
);

/**
 * The REDUCE_ONLY denial of an account REDUCING for UNPRICED_POSITION. The wire code stays REDUCE_ONLY (the
 * order-entry codes are a separate contract, mapped to gRPC/HTTP status in @gateway/orders); the detail says why.
 */
export const UNPRICED_DENIAL: GateDenied = Object.freeze({
  allowed: false,
  reason: 'REDUCE_ONLY',
  detail:
    'account is reducing (UNPRICED_POSITION): an open position has no usable price (a contract outside CONTRACTS not priced yet, ' +
    'or its price is stale), so its loss is not counted in the limits; only orders that reduce a position are accepted',
});

/** The gate decision for one order. Pure and allocation-free. */
export function decide(input: GateInput): GateDecision {
  if (!input.ready) return DENIALS.RISK_NOT_READY;
  if (input.isReducing) return ALLOW;
  if (input.state === 'HALTED') {
    if (input.reasonCode === 'DAILY_LOSS_LIMIT') return DENIALS.DAILY_LOSS_LIMIT;
    if (input.reasonCode === 'MAX_LOSS_LIMIT') return DENIALS.MAX_LOSS_LIMIT;
    return DENIALS.HALTED;
  }
  if (input.killSwitch) return DENIALS.HALTED;
  if (input.state === 'REDUCING') return input.reasonCode === 'UNPRICED_POSITION' ? UNPRICED_DENIAL : DENIALS.REDUCE_ONLY;
  if (!input.withinTradingHours || !input.entryAllowedByTime) return DENIALS.TRADING_HOURS;
  if (input.staleMarketData) return DENIALS.STALE_MARKET_DATA;
  if (input.ordersLastMinute >= input.maxOrdersPerMinute) return DENIALS.ORDER_RATE;
  if (input.openOrders >= input.maxOpenOrders) return DENIALS.MAX_OPEN_ORDERS;
  if (input.positionUnitsAfter > input.maxPositionUnits) return DENIALS.MAX_POSITION;
  return ALLOW;
}

/**
 * Does an order of `size` on `side` only reduce the net position `netSize` (signed), given
 * `pendingReduceSize` contracts of working orders that already reduce it? True only if it is on the
 * opposite side and, with the pending reducing orders, cannot take the position through zero.
 */
export function orderReducesPosition(netSize: number, pendingReduceSize: number, side: Side, size: number): boolean {
  if (size <= 0) return false;
  if (netSize > 0) return side === 'SELL' && pendingReduceSize + size <= netSize;
  if (netSize < 0) return side === 'BUY' && pendingReduceSize + size <= -netSize;
  return false;
}

/** Position units of `size` contracts: micros weigh 1/10 of a mini when the account weights them. */
export function weightedUnits(size: number, isMicro: boolean, microWeighting: boolean): number {
  return size * (isMicro && microWeighting ? MICRO_WEIGHT : MINI_WEIGHT);
}

/**
 * `positionUnitsAfter` for the gate: the account's weighted absolute position with this contract
 * replaced by its worst case, |net + signed(workingSameSide + size)|. Topstep's limit is on the
 * absolute position summed across products (topstepx-api.md §11).
 */
export function positionUnitsAfter(
  otherContractsUnits: number,
  netSize: number,
  workingSameSideSize: number,
  side: Side,
  size: number,
  isMicro: boolean,
  microWeighting: boolean,
): number {
  const dir = side === 'BUY' ? 1 : -1;
  const after = Math.abs(netSize + dir * (workingSameSideSize + size));
  return otherContractsUnits + weightedUnits(after, isMicro, microWeighting);
}

/** The index stored in shared memory for a trading state / state reason / reason code, and back. */
export const tradingStateCode = (s: TradingState): number => TRADING_STATES.indexOf(s);
export const stateReasonCode = (r: StateReason): number => STATE_REASONS.indexOf(r);
export const reasonCodeIndex = (r: ReasonCode): number => REASON_CODES.indexOf(r);
export function tradingStateOf(code: number): TradingState {
  const s = TRADING_STATES[code];
  if (s === undefined) throw new RangeError(`trading state code ${code} is unknown`);
  return s;
}
export function stateReasonOf(code: number): StateReason {
  const r = STATE_REASONS[code];
  if (r === undefined) throw new RangeError(`state reason code ${code} is unknown`);
  return r;
}
