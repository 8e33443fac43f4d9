// Incremental indicators, O(1) per update, fed one closed bar at a time. Inputs are price units (1e-9, safe
// integers). Outputs:
//   value   integer price units, the exact result rounded half to even (what the wire shows, 9 decimals);
//   exact   the unrounded float64 in price units, for callers that want it.
// `peek(x)` is the provisional value if `x` were the next input (the in-progress bar) without committing it.
// The formulas follow the `technicalindicators` package, which the tests use as the oracle:
//   SMA  mean of the last `period` values;
//   EMA  k = 2/(period+1), seeded with the SMA of the first `period` values, then ema += (x − ema)·k;
//   ATR  Wilder: TR needs a previous close, so the first bar yields no TR; first ATR = mean of the first
//        `period` TRs (available from bar period+1), then atr += (tr − atr)/period, i.e. (atr·(n−1)+tr)/n.
import { BarsError } from './errors';

/** Rounds a float to the nearest integer, ties to even (so ±0.5 errors do not drift one way). */
export function roundHalfEven(x: number): number {
  let r = Math.round(x); // ties toward +∞
  if (r - x === 0.5 && r % 2 !== 0) r -= 1;
  return r === 0 ? 0 : r;
}

/** Exact integer a/b rounded half to even, for safe integers a and b > 0. */
export function divRoundHalfEven(a: number, b: number): number {
  return offsetDivRoundHalfEven(0, a, b);
}

/**
 * offset + a/b rounded half to even on the total (the parity of a tie is that of offset + ⌊a/b⌋), exact for safe
 * integers without forming offset·b + a, which may not be safe.
 */
export function offsetDivRoundHalfEven(offset: number, a: number, b: number): number {
  let q = Math.floor(a / b);
  let r = a - q * b;
  // The float quotient may be off by one for large a; the integer remainder corrects it.
  if (r < 0) {
    q -= 1;
    r += b;
  } else if (r >= b) {
    q += 1;
    r -= b;
  }
  let v = offset + q;
  const twice = 2 * r;
  if (twice > b || (twice === b && v % 2 !== 0)) v += 1;
  return v === 0 ? 0 : v;
}

function checkPeriod(period: number, field: string): number {
  if (!Number.isSafeInteger(period) || period < 1 || period > 100_000) {
    throw new BarsError('BARS_BAD_PERIOD', field, `expected an integer in [1, 100000], got ${String(period)}`);
  }
  return period;
}

function checkUnits(x: number, field: string): void {
  if (!Number.isSafeInteger(x)) throw new BarsError('BARS_BAD_BAR', field, `expected price units (safe integer), got ${String(x)}`);
}

/**
 * Simple moving average. The running sum is kept exactly in integers as deviations from the first value seen
 * (the anchor), so period × price may exceed 2^53 (e.g. BTC futures) as long as period × price range does not;
 * if it ever does, BARS_OVERFLOW is thrown rather than a silently wrong mean.
 */
export class Sma {
  readonly period: number;
  private readonly ring: Float64Array;
  private next = 0;
  private count = 0;
  private anchor = 0;
  private sumDev = 0;

  constructor(period: number) {
    this.period = checkPeriod(period, 'sma.period');
    this.ring = new Float64Array(this.period);
  }

  get ready(): boolean {
    return this.count >= this.period;
  }

  /** Number of values fed so far (saturates at nothing; used for warm-up checks). */
  get samples(): number {
    return this.count;
  }

  update(x: number): void {
    checkUnits(x, 'sma.value');
    if (this.count === 0) this.anchor = x;
    const dev = x - this.anchor;
    const sum = this.sumDev + dev - (this.count >= this.period ? this.ring[this.next]! : 0);
    if (!Number.isSafeInteger(sum) || !Number.isSafeInteger(dev)) {
      throw new BarsError('BARS_OVERFLOW', 'sma.value', `running sum left the safe-integer range at ${x}`);
    }
    this.sumDev = sum;
    this.ring[this.next] = dev;
    this.next = this.next + 1 === this.period ? 0 : this.next + 1;
    this.count++;
  }

  get value(): number | undefined {
    return this.ready ? offsetDivRoundHalfEven(this.anchor, this.sumDev, this.period) : undefined;
  }

  get exact(): number | undefined {
    return this.ready ? this.anchor + this.sumDev / this.period : undefined;
  }

  /** The SMA if `x` were the next value, rounded half to even; undefined while fewer than `period` values. */
  peek(x: number): number | undefined {
    const sum = this.peekSum(x);
    return sum === undefined ? undefined : offsetDivRoundHalfEven(this.count === 0 ? x : this.anchor, sum, this.period);
  }

  /** Unrounded form of peek. */
  peekExact(x: number): number | undefined {
    const sum = this.peekSum(x);
    return sum === undefined ? undefined : (this.count === 0 ? x : this.anchor) + sum / this.period;
  }

  reset(): void {
    this.next = 0;
    this.count = 0;
    this.anchor = 0;
    this.sumDev = 0;
    this.ring.fill(0);
  }

  private peekSum(x: number): number | undefined {
    if (this.count + 1 < this.period) return undefined;
    const anchor = this.count === 0 ? x : this.anchor;
    return this.sumDev + (x - anchor) - (this.count >= this.period ? this.ring[this.next]! : 0);
  }
}

/** Exponential moving average, seeded with the SMA of the first `period` values. */
export class Ema {
  readonly period: number;
  private readonly k: number;
  private readonly seed: Sma;
  private ema = 0;
  private seeded = false;

  constructor(period: number) {
    this.period = checkPeriod(period, 'ema.period');
    this.k = 2 / (this.period + 1);
    this.seed = new Sma(this.period);
  }

  get ready(): boolean {
    return this.seeded;
  }

  update(x: number): void {
    if (this.seeded) {
      checkUnits(x, 'ema.value');
      this.ema = (x - this.ema) * this.k + this.ema;
      return;
    }
    this.seed.update(x);
    if (this.seed.ready) {
      this.ema = this.seed.exact!;
      this.seeded = true;
    }
  }

  get value(): number | undefined {
    return this.seeded ? roundHalfEven(this.ema) : undefined;
  }

  get exact(): number | undefined {
    return this.seeded ? this.ema : undefined;
  }

  peek(x: number): number | undefined {
    const e = this.peekExact(x);
    return e === undefined ? undefined : roundHalfEven(e);
  }

  peekExact(x: number): number | undefined {
    return this.seeded ? (x - this.ema) * this.k + this.ema : this.seed.peekExact(x);
  }

  reset(): void {
    this.seed.reset();
    this.ema = 0;
    this.seeded = false;
  }
}

/** Average True Range, Wilder smoothing. */
export class Atr {
  readonly period: number;
  private readonly k: number;
  private prevClose = 0;
  private hasPrev = false;
  private trCount = 0;
  private trSum = 0;
  private atr = 0;

  constructor(period = 14) {
    this.period = checkPeriod(period, 'atr.period');
    this.k = 1 / this.period;
  }

  get ready(): boolean {
    return this.trCount >= this.period;
  }

  update(high: number, low: number, close: number): void {
    checkUnits(high, 'atr.high');
    checkUnits(low, 'atr.low');
    checkUnits(close, 'atr.close');
    if (!this.hasPrev) {
      this.prevClose = close;
      this.hasPrev = true;
      return;
    }
    const tr = this.trueRange(high, low);
    this.prevClose = close;
    if (this.trCount < this.period) {
      this.trSum += tr;
      this.trCount++;
      if (this.trCount === this.period) this.atr = this.trSum / this.period;
    } else {
      this.atr = (tr - this.atr) * this.k + this.atr;
    }
  }

  get value(): number | undefined {
    return this.ready ? roundHalfEven(this.atr) : undefined;
  }

  get exact(): number | undefined {
    return this.ready ? this.atr : undefined;
  }

  peek(high: number, low: number, close: number): number | undefined {
    const e = this.peekExact(high, low, close);
    return e === undefined ? undefined : roundHalfEven(e);
  }

  peekExact(high: number, low: number, _close: number): number | undefined {
    if (!this.hasPrev) return undefined;
    const tr = this.trueRange(high, low);
    if (this.trCount >= this.period) return (tr - this.atr) * this.k + this.atr;
    if (this.trCount + 1 === this.period) return (this.trSum + tr) / this.period;
    return undefined;
  }

  reset(): void {
    this.prevClose = 0;
    this.hasPrev = false;
    this.trCount = 0;
    this.trSum = 0;
    this.atr = 0;
  }

  private trueRange(high: number, low: number): number {
    const pc = this.prevClose;
    let tr = high - low;
    const up = high > pc ? high - pc : pc - high;
    const down = low > pc ? low - pc : pc - low;
    if (up > tr) tr = up;
    if (down > tr) tr = down;
    return tr;
  }
}
