// Fixed-point scales shared with the rest of the workspace: prices in 1e-9 units (the Gateway prints
// 9 decimals), money in 1e-4 USD. Every internal price and amount is a safe integer in these units.
export const PRICE_SCALE = 1_000_000_000;
export const MONEY_SCALE = 10_000;

/** A decimal number from the wire (JSON number or numeric string) in price units; null when absent, NaN when not a number. */
export function parsePrice(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) return Number.NaN;
  const units = Math.round(n * PRICE_SCALE);
  return Number.isSafeInteger(units) ? units : Number.NaN;
}

/** Decimal dollars (configuration values such as tick sizes) to price units. */
export function priceUnits(decimal: number): number {
  const units = Math.round(decimal * PRICE_SCALE);
  if (!Number.isSafeInteger(units)) throw new RangeError(`price ${decimal} is out of range`);
  return units;
}

/** Decimal dollars to money units (1e-4 USD). */
export function moneyUnits(decimal: number): number {
  const units = Math.round(decimal * MONEY_SCALE);
  if (!Number.isSafeInteger(units)) throw new RangeError(`amount ${decimal} is out of range`);
  return units;
}

/** Price units as a decimal string with exactly 9 decimals, e.g. `6335.250000000`. */
export function formatPrice(units: number): string {
  const neg = units < 0;
  const abs = neg ? -units : units;
  const int = Math.floor(abs / PRICE_SCALE);
  const frac = abs - int * PRICE_SCALE;
  return (neg ? '-' : '') + int + '.' + String(frac).padStart(9, '0');
}

/** Money units as a decimal string with 4 decimals. */
export function formatMoney(units: number): string {
  const neg = units < 0;
  const abs = neg ? -units : units;
  const int = Math.floor(abs / MONEY_SCALE);
  const frac = abs - int * MONEY_SCALE;
  return (neg ? '-' : '') + int + '.' + String(frac).padStart(4, '0');
}

/**
 * Epoch ms as the Gateway's REST and user-hub payloads write a timestamp: a .NET DateTimeOffset in UTC, so the
 * offset is `+00:00` and the fraction loses its trailing zeros (none on a whole second):
 * `2025-07-18T21:00:01.268+00:00`, `2025-07-18T21:00:01+00:00` (topstepx-api.md §4).
 */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return iso.slice(0, 19) + (fraction === '' ? '' : '.' + fraction) + '+00:00';
}

const MARK = '\u0001';
const MARKED = /"\\u0001(-?\d+\.\d+)"/g;

/**
 * A decimal in a payload. JSON.stringify turns it into a marked string that `stringify` below unquotes,
 * so prices leave as JSON numbers with a fixed count of decimals (`6335.250000000`) — exact, no float
 * formatting on the way out.
 */
export class Decimal {
  constructor(readonly text: string) {}
  toJSON(): string {
    return MARK + this.text;
  }
  static price(units: number | null): Decimal | null {
    return units === null ? null : new Decimal(formatPrice(units));
  }
  static money(units: number | null): Decimal | null {
    return units === null ? null : new Decimal(formatMoney(units));
  }
}

/** JSON.stringify that writes `Decimal` values as bare JSON numbers. */
export function stringify(value: unknown): string {
  const s = JSON.stringify(value);
  return s.includes('\\u0001') ? s.replace(MARKED, '$1') : s;
}

/** Signed money units of a price move: (exit − entry) / tickSize × tickValue × qty, rounded half away from zero. */
export function pnlUnits(entry: number, exit: number, qty: number, tickSize: number, tickValue: number): number {
  const num = BigInt(exit - entry) * BigInt(qty) * BigInt(tickValue);
  const den = BigInt(tickSize);
  const q = num / den;
  const r = num % den;
  const twice = (r < 0n ? -r : r) * 2n;
  const rounded = twice >= den ? q + (num < 0n ? -1n : 1n) : q;
  return Number(rounded);
}
