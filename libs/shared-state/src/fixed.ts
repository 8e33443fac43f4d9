/**
 * Fixed-point scales, one per kind (house style §4). Every price and amount that crosses shared memory, the wire
 * or a P&L computation is an integer number of units held in a JS number that must be a safe integer.
 *
 *   price:  1 unit = 1e-9 of the quote currency  (PRICE_SCALE; the Gateway serialises prices with 9 decimals)
 *           max |price| that fits: 9_007_199.254740991
 *   money:  1 unit = 1e-4 USD                    (MONEY_SCALE)
 *           max |amount| that fits: 900_719_925_474.0991 USD
 *   size:   integer contracts, no scale
 *
 * units → number → units round-trips exactly while |units| ≤ 1e15 (price ≤ 1e6, amount ≤ 1e11 USD); beyond that the
 * float division may land one unit off, so exact paths (the wire) should use parseDecimalToUnits.
 * Overflow, NaN and Infinity fail loudly with a RangeError naming the field; nothing is clamped.
 */
export const PRICE_SCALE = 1_000_000_000;
export const MONEY_SCALE = 10_000;

/** RangeError with a stable code so callers can map it (e.g. to INVALID_ARGUMENT) without parsing the message. */
export class FixedPointError extends RangeError {
  override readonly name = 'FixedPointError';
  readonly code = 'FIXED_POINT_RANGE';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** Returns `n` when it is a safe integer, else throws a FixedPointError naming `field`. */
export function assertSafeInt(n: number, field: string): number {
  if (!Number.isSafeInteger(n)) {
    throw new FixedPointError(field, `expected a safe integer, got ${String(n)}`);
  }
  return n;
}

function toUnits(x: number, scale: number, field: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new FixedPointError(field, `expected a finite number, got ${String(x)}`);
  }
  const u = Math.round(x * scale);
  if (!Number.isSafeInteger(u)) {
    throw new FixedPointError(field, `${String(x)} does not fit a safe integer at scale ${scale}`);
  }
  // Math.round(-0.4) is -0; shared memory and equality checks want plain 0.
  return u === 0 ? 0 : u;
}

/** A decimal price (e.g. 6335.25) to price units (1e-9). Rounds half up to the nearest unit. */
export function priceToUnits(x: number, field = 'price'): number {
  return toUnits(x, PRICE_SCALE, field);
}

/** Price units to a JS number, for display and the wire only — never for arithmetic on money. */
export function unitsToPrice(u: number): number {
  return u / PRICE_SCALE;
}

/** A decimal amount in USD to money units (1e-4 USD). Rounds half up to the nearest unit. */
export function moneyToUnits(x: number, field = 'amount'): number {
  return toUnits(x, MONEY_SCALE, field);
}

/** Money units to USD as a JS number, for display and the wire only. */
export function unitsToMoney(u: number): number {
  return u / MONEY_SCALE;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/**
 * Exact decimal string → units at `scale` (a power of ten, e.g. PRICE_SCALE), without going through a float:
 * "6335.250000000" → 6335250000000. Extra decimals beyond the scale are accepted only when they are zeros;
 * anything else (more precision than the scale, empty, exponent, out of safe range) throws naming the field.
 */
export function parseDecimalToUnits(s: string, scale: number, field: string): number {
  const digits = scaleDigits(scale, field);
  if (typeof s !== 'string') {
    throw new FixedPointError(field, `expected a decimal string, got ${typeof s}`);
  }
  const m = DECIMAL.exec(s.trim());
  if (m === null || (m[2] === '' && (m[3] === undefined || m[3] === ''))) {
    throw new FixedPointError(field, `"${s}" is not a decimal number`);
  }
  const intPart = m[2] === '' ? '0' : m[2]!;
  let frac = m[3] ?? '';
  if (frac.length > digits) {
    if (/[^0]/.test(frac.slice(digits))) {
      throw new FixedPointError(field, `"${s}" has more than ${digits} significant decimals`);
    }
    frac = frac.slice(0, digits);
  } else {
    frac = frac.padEnd(digits, '0');
  }
  let big = BigInt(intPart + frac);
  if (m[1] === '-') big = -big;
  if (big > MAX_SAFE || big < -MAX_SAFE) {
    throw new FixedPointError(field, `"${s}" does not fit a safe integer at scale ${scale}`);
  }
  const n = Number(big);
  return n === 0 ? 0 : n;
}

function scaleDigits(scale: number, field: string): number {
  let d = 0;
  for (let p = 1; p <= 1e15; p *= 10, d++) {
    if (p === scale) return d;
  }
  throw new FixedPointError(field, `scale ${String(scale)} is not a power of ten in [1, 1e15]`);
}
