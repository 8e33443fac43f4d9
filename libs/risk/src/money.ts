// Fixed-point money and price arithmetic for the risk domain.
//
// Scales (the workspace convention; @gateway/shared-state owns the conversion helpers, these local
// constants only document the units this lib computes in and must stay equal to them):
//   price  = integer count of 1e-9 price units (the Gateway serialises prices with 9 decimals)
//   money  = integer count of 1e-4 USD
//   size   = integer contracts (signed where a direction is meant: + long / buy, − short / sell)
// Every value is a JS number that must be a safe integer. A result that would leave the safe range,
// or a NaN / fractional input, throws a RangeError naming the field: never clamped, never rounded away.

/** 1 price unit = 1e-9 of the instrument's price. */
export const PRICE_SCALE = 1_000_000_000;
/** 1 money unit = 1e-4 USD. */
export const MONEY_SCALE = 10_000;

/** Throws a RangeError naming `field` unless `value` is a safe integer; returns it otherwise. */
export function requireSafeInt(value: number, field: string): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${field} must be a safe integer, got ${value}`);
  return value;
}

/** `a + b`, throwing a RangeError naming `field` if the sum is not a safe integer. */
export function addSafe(a: number, b: number, field: string): number {
  const r = a + b;
  // Both operands are safe integers in every caller; a sum beyond 2^53 rounds to a value that
  // isSafeInteger rejects, so this check is exact.
  if (!Number.isSafeInteger(r)) throw new RangeError(`${field} overflows the safe integer range (${a} + ${b})`);
  return r;
}

/** `a × b`, throwing a RangeError naming `field` if the product is not a safe integer. */
export function mulSafe(a: number, b: number, field: string): number {
  const r = a * b;
  // IEEE multiplication is correctly rounded: a true product ≤ 2^53 − 1 is exact, a larger one rounds
  // to ≥ 2^53, which isSafeInteger rejects. So a passing check means an exact result.
  if (!Number.isSafeInteger(r)) throw new RangeError(`${field} overflows the safe integer range (${a} × ${b})`);
  return r;
}

/**
 * `num / den` for BigInts, rounded half away from zero (den > 0). Used wherever a price is not
 * tick-aligned (a mid or average price between ticks): the rounding is symmetric for long and short,
 * so a position and its mirror image report P&L of equal magnitude.
 */
export function divRoundHalfAwayBig(num: bigint, den: bigint): bigint {
  const neg = num < 0n;
  const abs = neg ? -num : num;
  const q = (abs * 2n + den) / (den * 2n);
  return neg ? -q : q;
}

export function bigToSafe(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${field} overflows the safe integer range (${v})`);
  }
  return Number(v);
}

/**
 * P&L in money units of `signedSize` contracts entered at `entryPriceUnits` and marked or exited at
 * `exitPriceUnits`:
 *
 *   pnl = (exit − entry) / tickSize × tickValue × signedSize
 *
 * (topstepx-api.md §10; point value = tickValue / tickSize). When the price difference is a whole
 * number of ticks the result is exact integer math on numbers. Otherwise (a mark or average price
 * between ticks) it is computed exactly in BigInt as `diff × tickValue × size / tickSize` and rounded
 * half away from zero to the money unit (1e-4 USD).
 */
export function pnlUnits(
  entryPriceUnits: number,
  exitPriceUnits: number,
  signedSize: number,
  tickSizeUnits: number,
  tickValueMoneyUnits: number,
): number {
  requireSafeInt(entryPriceUnits, 'entryPriceUnits');
  requireSafeInt(exitPriceUnits, 'exitPriceUnits');
  requireSafeInt(signedSize, 'signedSize');
  requireSafeInt(tickSizeUnits, 'tickSizeUnits');
  requireSafeInt(tickValueMoneyUnits, 'tickValueMoneyUnits');
  if (tickSizeUnits <= 0) throw new RangeError(`tickSizeUnits must be > 0, got ${tickSizeUnits}`);
  if (tickValueMoneyUnits < 0) throw new RangeError(`tickValueMoneyUnits must be >= 0, got ${tickValueMoneyUnits}`);
  const diff = exitPriceUnits - entryPriceUnits;
  if (!Number.isSafeInteger(diff)) throw new RangeError(`exitPriceUnits − entryPriceUnits overflows (${diff})`);
  if (signedSize === 0 || diff === 0) return 0;
  if (diff % tickSizeUnits === 0) {
    const ticks = diff / tickSizeUnits;
    return mulSafe(mulSafe(ticks, tickValueMoneyUnits, 'pnl'), signedSize, 'pnl');
  }
  const num = BigInt(diff) * BigInt(tickValueMoneyUnits) * BigInt(signedSize);
  return bigToSafe(divRoundHalfAwayBig(num, BigInt(tickSizeUnits)), 'pnl');
}

/**
 * Money value of a price-times-size amount: `priceSizeUnits / tickSize × tickValue`, rounded half
 * away from zero. `priceSizeUnits` is a sum of price × signed size (e.g. exit × q − removed cost), so
 * average-cost accounting can turn an exact cost difference into money with a single rounding.
 */
export function priceSizeToMoneyUnits(priceSizeUnits: number, tickSizeUnits: number, tickValueMoneyUnits: number): number {
  requireSafeInt(priceSizeUnits, 'priceSizeUnits');
  if (priceSizeUnits === 0) return 0;
  if (priceSizeUnits % tickSizeUnits === 0) {
    return mulSafe(priceSizeUnits / tickSizeUnits, tickValueMoneyUnits, 'pnl');
  }
  const num = BigInt(priceSizeUnits) * BigInt(tickValueMoneyUnits);
  return bigToSafe(divRoundHalfAwayBig(num, BigInt(tickSizeUnits)), 'pnl');
}
