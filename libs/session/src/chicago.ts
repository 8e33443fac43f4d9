// America/Chicago wall-clock arithmetic for the CME Globex session. Pure: the time zone rules come
// from the ICU data built into Node (Intl), no clock is read here.

export const CT_TIME_ZONE = 'America/Chicago';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const formatter = new Intl.DateTimeFormat('en-US', {
  timeZone: CT_TIME_ZONE,
  hourCycle: 'h23',
  year: 'numeric',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  minute: 'numeric',
  second: 'numeric',
});

// The UTC offset only changes on whole hours (DST switches at 02:00 local), so it is cached per UTC
// hour: one Intl call per hour of data, then two integer compares per lookup on the hot path.
const offsetCache = new Map<number, number>();
let lastHour = Number.NaN;
let lastOffset = 0;

function computeOffsetMinutes(epochMs: number): number {
  const parts = formatter.formatToParts(new Date(epochMs));
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  const whole = epochMs - (epochMs % 1000);
  return Math.round((asUtc - whole) / MINUTE_MS);
}

/** Chicago's offset from UTC in minutes at an instant: -300 in CDT, -360 in CST. */
export function chicagoOffsetMinutes(epochMs: number): number {
  if (!Number.isFinite(epochMs)) throw new RangeError(`epochMs must be finite, got ${epochMs}`);
  const hour = Math.floor(epochMs / HOUR_MS);
  if (hour === lastHour) return lastOffset;
  let offset = offsetCache.get(hour);
  if (offset === undefined) {
    offset = computeOffsetMinutes(hour * HOUR_MS);
    if (offsetCache.size > 100_000) offsetCache.clear();
    offsetCache.set(hour, offset);
  }
  lastHour = hour;
  lastOffset = offset;
  return offset;
}

/** Chicago's offset from UTC in milliseconds at an instant (negative). */
export function chicagoOffsetMs(epochMs: number): number {
  return chicagoOffsetMinutes(epochMs) * MINUTE_MS;
}

export interface ChicagoTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 Sunday … 6 Saturday */
  weekday: number;
  /** minutes since local midnight, 0–1439 */
  minuteOfDay: number;
}

/** The Chicago wall-clock time of an instant. */
export function toChicago(epochMs: number): ChicagoTime {
  const local = new Date(epochMs + chicagoOffsetMs(epochMs));
  const hour = local.getUTCHours();
  const minute = local.getUTCMinutes();
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour,
    minute,
    second: local.getUTCSeconds(),
    weekday: local.getUTCDay(),
    minuteOfDay: hour * 60 + minute,
  };
}

/**
 * The instant of a Chicago wall-clock time. Month is 1–12; day may overflow (Date.UTC rules).
 * A time inside the spring-forward gap resolves to the instant one hour later; a time in the
 * repeated autumn hour resolves to its first occurrence (CDT).
 */
export function chicagoToEpoch(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  // Two fixed-point steps: the offset at the guess, then at the corrected instant.
  let guess = wall - chicagoOffsetMs(wall);
  guess = wall - chicagoOffsetMs(guess);
  const early = wall - chicagoOffsetMs(guess - HOUR_MS);
  if (early !== guess && wall - chicagoOffsetMs(early) === early) return Math.min(early, guess);
  return guess;
}

/** Whole days between two calendar dates (UTC date arithmetic on y/m/d only). */
export function addDays(year: number, month: number, day: number, days: number): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(year, month - 1, day) + days * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}
