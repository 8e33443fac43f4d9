// Fixed-point prices: units of 1e-9 (PRICE_SCALE), the Gateway's own 9-decimal precision. A price
// is a safe integer number of units; the API's doubles are converted once, at the edge.

export const PRICE_SCALE = 1_000_000_000;

/**
 * A double price in price units, rounded to the 1e-9 grid (the representation error of a decimal
 * like 0.1 is far below one unit). undefined when the value is not finite or does not fit a safe integer.
 */
export function priceToUnits(price: number): number | undefined {
  if (!Number.isFinite(price)) return undefined;
  const units = Math.round(price * PRICE_SCALE);
  return Number.isSafeInteger(units) ? units : undefined;
}

/** Price units back to a double for the API (exact for tick multiples up to the double's precision). */
export function unitsToPrice(units: number): number {
  return units / PRICE_SCALE;
}
