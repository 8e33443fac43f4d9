import { type ValidationFailure } from './validation-result';

/** The broker refuses brackets nearer than this: "Price should be at least 4 ticks away". */
export const MIN_BRACKET_TICKS = 4;

export type Side = 'BUY' | 'SELL';
export type BracketField = 'stop_loss' | 'take_profit';

export type BracketResult =
  | { readonly ok: true; readonly ticks: number; readonly levelUnits: number }
  | ValidationFailure;

/**
 * Signed bracket ticks for the broker from a protective price LEVEL, measured from the entry price
 * (all in 1e-9 price units). Long: stop_loss < 0 < take_profit; short: take_profit < 0 < stop_loss.
 * A level off the tick grid is taken to the nearest tick; `levelUnits` in the result is the level the
 * broker will actually use (entry + ticks × tick). A level on the wrong side of the entry, or nearer than
 * MIN_BRACKET_TICKS, is a validation failure naming the field.
 */
export function bracketTicks(
  side: Side,
  entryPriceUnits: number,
  levelUnits: number,
  tickSizeUnits: number,
  field: BracketField,
): BracketResult {
  if (!Number.isSafeInteger(tickSizeUnits) || tickSizeUnits <= 0) {
    throw new RangeError(`bracketTicks: tickSizeUnits must be a positive safe integer, got ${tickSizeUnits}`);
  }
  if (!Number.isSafeInteger(entryPriceUnits) || entryPriceUnits <= 0) {
    throw new RangeError(`bracketTicks: entryPriceUnits must be a positive safe integer, got ${entryPriceUnits}`);
  }
  if (!Number.isSafeInteger(levelUnits) || levelUnits <= 0) {
    return invalid(field, 'must be a finite price > 0');
  }
  const diff = levelUnits - entryPriceUnits;
  // Long protects below and targets above the entry; short the reverse.
  const below = (side === 'BUY') === (field === 'stop_loss');
  const relation = below ? 'below' : 'above';
  if (below ? diff >= 0 : diff <= 0) {
    return invalid(field, `must be ${relation} the entry price for a ${side} order`);
  }
  const ticks = Math.round(diff / tickSizeUnits);
  if (Math.abs(ticks) < MIN_BRACKET_TICKS) {
    return invalid(
      field,
      `must be at least ${MIN_BRACKET_TICKS} ticks ${relation} the entry price, got ${Math.abs(ticks)}`,
    );
  }
  if (Math.abs(ticks) > 2_147_483_647) return invalid(field, 'is too far from the entry price');
  return { ok: true, ticks, levelUnits: entryPriceUnits + ticks * tickSizeUnits };
}

function invalid(field: BracketField, message: string): ValidationFailure {
  return { ok: false, field, code: 'INVALID_ARGUMENT', message: `${field}: ${message}` };
}
