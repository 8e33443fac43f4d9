import { BarsError } from './errors';

export type TimeframeUnit = 'second' | 'minute' | 'hour' | 'day';

/** A bar period. Intraday frames have a fixed length in ms; the daily frame is one CME trading day. */
export interface Timeframe {
  /** Canonical name, e.g. `1s`, `5m`, `1h`, `1d`. */
  readonly name: string;
  readonly unit: TimeframeUnit;
  /** How many units: 5 for `5m`. Always 1 for `1d`. */
  readonly count: number;
  /** Length in ms for intraday frames; 0 for `1d`, whose length is the session (23 h, 17:00–16:00 CT). */
  readonly ms: number;
}

const UNIT_MS: Record<Exclude<TimeframeUnit, 'day'>, number> = { second: 1_000, minute: 60_000, hour: 3_600_000 };
const SUFFIX: Record<string, TimeframeUnit> = { s: 'second', m: 'minute', h: 'hour', d: 'day' };
/** An intraday bucket may not be longer than a calendar day (the session itself is 23 h). */
const MAX_INTRADAY_MS = 86_400_000;
const PATTERN = /^([1-9]\d{0,5})([smhd])$/;

/** Parses `Ns`, `Nm`, `Nh` (up to 24 h) or `1d`. Throws BarsError BARS_BAD_TIMEFRAME naming `field`. */
export function parseTimeframe(text: string, field = 'timeframe'): Timeframe {
  const m = typeof text === 'string' ? PATTERN.exec(text) : null;
  if (!m) throw new BarsError('BARS_BAD_TIMEFRAME', field, `expected Ns, Nm, Nh or 1d, got ${JSON.stringify(text)}`);
  const count = Number(m[1]);
  const unit = SUFFIX[m[2]!]!;
  if (unit === 'day') {
    if (count !== 1) throw new BarsError('BARS_BAD_TIMEFRAME', field, `only 1d is supported for daily bars, got ${text}`);
    return Object.freeze({ name: '1d', unit, count: 1, ms: 0 });
  }
  const ms = count * UNIT_MS[unit];
  if (ms > MAX_INTRADAY_MS) throw new BarsError('BARS_BAD_TIMEFRAME', field, `intraday frames are at most 24h, got ${text}`);
  return Object.freeze({ name: `${count}${m[2]}`, unit, count, ms });
}

/** Accepts a parsed Timeframe or its name. */
export function toTimeframe(tf: Timeframe | string, field = 'timeframe'): Timeframe {
  return typeof tf === 'string' ? parseTimeframe(tf, field) : parseTimeframe(tf.name, field);
}

/** The default set: 1 s, 1 m, 5 m, 15 m, 1 h, 1 d. */
export const DEFAULT_TIMEFRAMES: readonly Timeframe[] = Object.freeze(
  ['1s', '1m', '5m', '15m', '1h', '1d'].map((n) => parseTimeframe(n)),
);
