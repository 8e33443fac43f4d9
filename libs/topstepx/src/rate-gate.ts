// The client-side rate budget (topstepx-api.md §8): two independent buckets, History/retrieveBars
// 50 req / 30 s, everything else 200 req / 60 s. The engine passes a shared-memory implementation
// of the same interface so every thread draws from one budget.

export type RateBucket = 'general' | 'bars';

export interface RateGate {
  /** Take one request from `bucket` at `nowMs`: 0 = granted (and counted), otherwise ms to wait before asking again. */
  tryAcquire(bucket: RateBucket, nowMs: number): number;
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
