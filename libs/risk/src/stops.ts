// Working-stop risk: the additional loss, beyond the open P&L already counted at the mark, if every
// working stop order filled at its stop price. Headroom subtracts it (see state-machine.ts), so an
// account whose stops would take it through a limit goes REDUCING before the market gets there.
//
// Per contract with a position N (signed) marked at M, take the stops on the opposite side (the ones
// that close it) in the order a move against the position would trigger them (long: highest sell stop
// first; short: lowest buy stop first), fill each for min(stop size, contracts still open), and add
//   max(0, −pnl(M → stopPrice, sign(N) × q))
// A stop beyond the position (an orphan that would open a new position) adds nothing at its fill: the
// new position starts at the stop price. A stop on the favourable side of the mark adds nothing
// (it would realise a gain relative to the mark, which we do not count as headroom).
import { addSafe, pnlUnits, requireSafeInt } from './money';
import type { Side } from './position';

export interface StopRiskPosition {
  contractId: string;
  netSize: number;
  markPriceUnits: number;
  tickSizeUnits: number;
  tickValueMoneyUnits: number;
}

export interface WorkingStop {
  contractId: string;
  side: Side;
  /** Unfilled contracts of the stop. */
  size: number;
  stopPriceUnits: number;
}

/** Additional loss in money units (≥ 0) if every working stop filled at its stop price. */
export function workingStopRiskUnits(positions: readonly StopRiskPosition[], stops: readonly WorkingStop[]): number {
  let total = 0;
  for (const p of positions) {
    requireSafeInt(p.netSize, 'position.netSize');
    if (p.netSize === 0) continue;
    requireSafeInt(p.markPriceUnits, `mark of ${p.contractId}`);
    const dir = Math.sign(p.netSize);
    const closingSide: Side = dir > 0 ? 'SELL' : 'BUY';
    const closing = stops.filter((s) => s.contractId === p.contractId && s.side === closingSide && s.size > 0);
    // Trigger order for an adverse move: long → highest stop first; short → lowest first.
    closing.sort((a, b) => (dir > 0 ? b.stopPriceUnits - a.stopPriceUnits : a.stopPriceUnits - b.stopPriceUnits));
    let open = Math.abs(p.netSize);
    for (const s of closing) {
      if (open === 0) break;
      requireSafeInt(s.size, 'stop.size');
      requireSafeInt(s.stopPriceUnits, 'stop.stopPriceUnits');
      const q = Math.min(s.size, open);
      open -= q;
      const pnl = pnlUnits(p.markPriceUnits, s.stopPriceUnits, dir * q, p.tickSizeUnits, p.tickValueMoneyUnits);
      if (pnl < 0) total = addSafe(total, -pnl, 'workingStopRiskUnits');
    }
  }
  return total;
}
