// The client-side rate budget (topstepx-api.md §8): two independent buckets, History/retrieveBars
// 50 req / 30 s, everything else 200 req / 60 s. The engine passes a shared-memory implementation
// of the same interface so every thread draws from one budget. A call that must not wait for its token
// inside the client (an order, a call with a deadline) takes it first as a RatePermit and hands it to that call.

export type RateBucket = 'general' | 'bars';

export interface RateGate {
  /** Take one request from `bucket` at `nowMs`: 0 = granted (and counted), otherwise ms to wait before asking again. */
  tryAcquire(bucket: RateBucket, nowMs: number): number;
}

/** Stable code of a permit handed to a call that cannot spend it. */
export const RATE_PERMIT_INVALID = 'RATE_PERMIT_INVALID';

/**
 * A call was handed a RatePermit it cannot spend: already spent or dropped, taken from another gate, or for another
 * bucket. A caller's bug, raised before the request is sent: nothing was sent.
 */
export class RatePermitError extends Error {
  readonly code = RATE_PERMIT_INVALID;
  constructor(
    readonly endpoint: string,
    detail: string,
  ) {
    super(`${endpoint}: ${detail}; nothing was sent`);
    this.name = 'RatePermitError';
  }
}

/**
 * One token of a RateGate taken ahead of its request and bound to it: the client call it is handed to
 * (`CallOptions.permit`) spends it instead of asking the gate, and no other call can. A token merely left on the
 * thread for "the next request" was spent by whichever call asked first (a read), and the call it was taken for —
 * an order that took it before its journal write — then waited for another, past its deadline.
 *
 * Accounting: the gate counted the token when the permit was taken. The permit is then spent by exactly one request
 * (`spend`, by the client, right before the send), or dropped when its call is refused before the send (`drop`).
 * A dropped token stays counted until it leaves the window: a sliding-window grant cannot be given back (later grants
 * were judged against it), so the budget errs by one request too few, never one too many.
 *
 * Owned by the thread that took it (the gate behind it may be shared between threads).
 */
export class RatePermit {
  private held = true;

  private constructor(
    /** The gate that counted the token: only a client drawing on that gate may spend it. */
    readonly gate: RateGate,
    readonly bucket: RateBucket,
    readonly takenAtMs: number,
  ) {}

  /** Takes one token of `bucket` from `gate` at `nowMs` as a permit, or answers the ms to wait before asking again (nothing taken). */
  static take(gate: RateGate, bucket: RateBucket, nowMs: number): RatePermit | number {
    const wait = gate.tryAcquire(bucket, nowMs);
    return wait === 0 ? new RatePermit(gate, bucket, nowMs) : wait;
  }

  /** Neither spent nor dropped yet. */
  get isHeld(): boolean {
    return this.held;
  }

  /** The client, right before the send of the request it was taken for. false: no longer held (nothing may be sent on it). */
  spend(): boolean {
    if (!this.held) return false;
    this.held = false;
    return true;
  }

  /** The request will not be sent on it. true if it was still held: its token is then counted without a request. */
  drop(): boolean {
    return this.spend();
  }
}

export interface RateWindow {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

export interface LocalRateGateConfig {
  general: RateWindow;
  bars: RateWindow;
}

/** The Gateway's documented limits. */
export const DEFAULT_RATE_LIMITS: LocalRateGateConfig = {
  general: { limit: 200, windowMs: 60_000 },
  bars: { limit: 50, windowMs: 30_000 },
};

/**
 * A sliding-window log: a ring of the last `limit` grant times. A request is granted when the oldest
 * of them is at least `windowMs` old, so no half-open window of `windowMs` ever holds more than
 * `limit` grants. Single-thread use only (no atomics).
 */
class SlidingWindow {
  private readonly ring: Float64Array;
  private head = 0;
  private count = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    this.ring = new Float64Array(limit);
  }

  tryAcquire(nowMs: number): number {
    if (this.count < this.limit) {
      this.ring[(this.head + this.count) % this.limit] = nowMs;
      this.count++;
      return 0;
    }
    const oldest = this.ring[this.head]!;
    const freeAt = oldest + this.windowMs;
    if (nowMs >= freeAt) {
      this.ring[this.head] = nowMs;
      this.head = (this.head + 1) % this.limit;
      return 0;
    }
    return Math.max(1, Math.ceil(freeAt - nowMs));
  }
}

function checkWindow(name: string, w: RateWindow): void {
  if (!Number.isSafeInteger(w.limit) || w.limit < 1) throw new RangeError(`rate limit ${name}.limit must be a positive integer, got ${w.limit}`);
  if (!Number.isFinite(w.windowMs) || w.windowMs <= 0) throw new RangeError(`rate limit ${name}.windowMs must be positive, got ${w.windowMs}`);
}

/** An in-process rate gate for single-thread use. `enabled:false` grants everything (tests, simulator runs). */
export function createLocalRateGate(config: LocalRateGateConfig = DEFAULT_RATE_LIMITS, enabled = true): RateGate {
  if (!enabled) return { tryAcquire: () => 0 };
  checkWindow('general', config.general);
  checkWindow('bars', config.bars);
  const general = new SlidingWindow(config.general.limit, config.general.windowMs);
  const bars = new SlidingWindow(config.bars.limit, config.bars.windowMs);
  return {
    tryAcquire(bucket, nowMs) {
      return bucket === 'bars' ? bars.tryAcquire(nowMs) : general.tryAcquire(nowMs);
    },
  };
}
