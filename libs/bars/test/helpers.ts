import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PRICE_SCALE = 1_000_000_000;

/** Decimal string → price units without floats ("5012.25" → 5012250000000). Test-side, independent of the lib. */
export function decToUnits(s: string): number {
  const [int, frac = ''] = s.split('.');
  const neg = int!.startsWith('-');
  const whole = Math.abs(Number(int));
  const units = whole * PRICE_SCALE + Number(frac.padEnd(9, '0'));
  return neg ? -units : units;
}

export interface Trade {
  ts: number;
  price: number;
  volume: number;
}

export function loadReplay(): Trade[] {
  const text = readFileSync(fileURLToPath(new URL('./fixtures/trades-2026-03-dst.csv', import.meta.url)), 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [ts, price, volume] = line.split(',');
      return { ts: Number(ts), price: decToUnits(price!), volume: Number(volume) };
    });
}

const fmt = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/Chicago',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  weekday: 'short',
});

export interface Wall {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  wd: string;
}

/** Chicago wall clock straight from Intl (the reference does not use @gateway/session). */
export function wall(ms: number): Wall {
  const p = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { y: +p.year!, mo: +p.month!, d: +p.day!, h: +p.hour!, mi: +p.minute!, s: +p.second!, wd: p.weekday! };
}

export function utc(iso: string): number {
  return Date.parse(iso);
}
