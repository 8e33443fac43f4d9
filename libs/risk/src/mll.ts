// The trailing Maximum Loss Limit (topstepx-api.md §11, help.topstep.com/en/articles/8284204).
//
//   floor₀          = startingBalance − drawdown
//   at end of day:  eodHigh = max(eodHigh, eodBalance)
//                   floor   = min(startingBalance, max(prevFloor, eodHigh − drawdown))
//   intraday:       breached when balance + unrealised ≤ floor
//
// The floor moves only at the end of the trading day (never intraday), never goes down, and stops
// trailing for good once it reaches the starting balance. Money in 1e-4 USD units.
// An end-of-day balance the engine did not see at the close is still known afterwards: the balance a trading day
// starts with (broker balance − that day's realised net) is the previous day's end-of-day balance.
import { addSafe, requireSafeInt } from './money';

export interface MllState {
  readonly startingBalanceUnits: number;
  readonly drawdownUnits: number;
  /** Highest end-of-day balance seen (starts at the starting balance). */
  readonly eodHighUnits: number;
  /** The minimum balance the account may touch. */
  readonly floorUnits: number;
  /** The floor has reached the starting balance and trails no more. */
  readonly locked: boolean;
}

export function initialMllState(startingBalanceUnits: number, drawdownUnits: number): MllState {
  requireSafeInt(startingBalanceUnits, 'startingBalanceUnits');
  requireSafeInt(drawdownUnits, 'drawdownUnits');
  if (drawdownUnits < 0) throw new RangeError(`drawdownUnits must be >= 0, got ${drawdownUnits}`);
  const floor = startingBalanceUnits - drawdownUnits;
  return Object.freeze({
    startingBalanceUnits,
    drawdownUnits,
    eodHighUnits: startingBalanceUnits,
    floorUnits: floor,
    locked: floor >= startingBalanceUnits,
  });
}

/** The MLL state after a trading day closed with `endOfDayBalanceUnits`. */
export function nextMllFloor(state: MllState, endOfDayBalanceUnits: number): MllState {
  requireSafeInt(endOfDayBalanceUnits, 'endOfDayBalanceUnits');
  const eodHigh = Math.max(state.eodHighUnits, endOfDayBalanceUnits);
  const trailed = addSafe(eodHigh, -state.drawdownUnits, 'eodHigh − drawdown');
  const floor = Math.min(state.startingBalanceUnits, Math.max(state.floorUnits, trailed));
  return Object.freeze({
    startingBalanceUnits: state.startingBalanceUnits,
    drawdownUnits: state.drawdownUnits,
    eodHighUnits: eodHigh,
    floorUnits: floor,
    locked: floor >= state.startingBalanceUnits,
  });
}

/**
 * The MLL state once the floor is known to be at least `floorUnits` (given from the Topstep dashboard): the same as an
 * end-of-day balance of floor + drawdown, so the floor and the end-of-day high only ever rise and the lock holds.
 */
export function raiseMllFloor(state: MllState, floorUnits: number): MllState {
  requireSafeInt(floorUnits, 'floorUnits');
  return nextMllFloor(state, addSafe(floorUnits, state.drawdownUnits, 'floor + drawdown'));
}

/** Is the MLL breached intraday? `balance` is the broker balance (realised, net of fees). */
export function mllBreached(state: MllState, balanceUnits: number, unrealizedUnits: number): boolean {
  return addSafe(requireSafeInt(balanceUnits, 'balanceUnits'), requireSafeInt(unrealizedUnits, 'unrealizedUnits'), 'equity') <= state.floorUnits;
}
