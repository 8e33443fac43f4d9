import { SharedStateError, checkInt32, checkSlot } from './errors';
import { loadI64, storeI64 } from './int64';
import { RATE, RATE_BUCKETS, rateLogWords, type Layout, type RateBucketName } from './layout';

export type RateBucket = RateBucketName;

export interface RateBucketConfig {
  /** Max grants in any window; at most the layout's rateLogCapacity. */
  limit: number;
  windowMs: number;
  /** When false, tryAcquire grants without counting. */
  enabled: boolean;
}

/** The broker's documented buckets: 200 requests / 60 s in general, 50 / 30 s for bar history. */
export const DEFAULT_RATE_BUCKETS: Readonly<Record<RateBucket, Readonly<RateBucketConfig>>> = Object.freeze({
  general: Object.freeze({ limit: 200, windowMs: 60_000, enabled: true }),
  bars: Object.freeze({ limit: 50, windowMs: 30_000, enabled: true }),
});

/** The ORDER_RATE window: orders per minute per account. */
export const ORDER_RATE_WINDOW_MS = 60_000;

/** Bounded attempts of one acquire; when contention or a preempted claimant exhausts them the caller retries in 1 ms. */
const MAX_ATTEMPTS = 10_000;

/*
 * Sliding-window log, lock-free, shared by every thread.
 *
 * Grants are numbered by a counter (COUNT); grant c's time lives in ring slot c mod capacity together with its index c
 * (SLOT_INDEX, stored LAST: the publish point of a slot). Grant c may be made at time t only if grant c − limit was made
 * at or before t − windowMs. Claiming c is one compareExchange of COUNT from c to c+1, made after reading a published
 * slot c − limit, so two threads can never both take grant c.
 *
 * Why no window ever holds more than `limit` grants, even when callers' clocks disagree: any limit+1 grants contain two,
 * i < j, with j ≡ i (mod limit); the chain of checks gives t_j ≥ t_i + windowMs, so they cannot share a window.
 * (This needs limit ≤ capacity, so slot c − limit is not overwritten before grant c is claimed.)
 *
 * A claimant preempted between its compareExchange and its publish makes others see a slot not yet published: they
 * retry, and after MAX_ATTEMPTS answer "wait 1 ms" — never a wrong grant.
 */

/**
 * Rate budget region. configure: main thread only. tryAcquire / tryAcquireOrderRate: any thread (Atomics only).
 */
export class RateBudget {
  private readonly bucketsBase: number;
  private readonly orderBase: number;
  private readonly logWords: number;
  private readonly capacity: number;
  private readonly accounts: number;

  constructor(
    private readonly a: Int32Array,
    layout: Layout,
  ) {
    this.bucketsBase = layout.regions.rateBuckets.offset;
    this.orderBase = layout.regions.orderRate.offset;
    this.logWords = rateLogWords(layout.options);
    this.capacity = layout.options.rateLogCapacity;
    this.accounts = layout.options.accounts;
  }

  /** Main thread only (at start, or live: a new limit applies from the next acquire). */
  configure(bucket: RateBucket, cfg: RateBucketConfig): void {
    const base = this.bucketBase(bucket);
    checkInt32(cfg.limit, `rate.${bucket}.limit`, 1, this.capacity);
    checkInt32(cfg.windowMs, `rate.${bucket}.windowMs`, 1);
    if (typeof cfg.enabled !== 'boolean') {
      throw new SharedStateError('INVALID_ARGUMENT', `rate.${bucket}.enabled: expected a boolean, got ${String(cfg.enabled)}`);
    }
    Atomics.store(this.a, base + RATE.LIMIT, cfg.limit);
    Atomics.store(this.a, base + RATE.WINDOW_MS, cfg.windowMs);
    Atomics.store(this.a, base + RATE.ENABLED, cfg.enabled ? 1 : 0);
  }

  /** Any thread. */
  config(bucket: RateBucket): RateBucketConfig {
    const base = this.bucketBase(bucket);
    return {
      limit: Atomics.load(this.a, base + RATE.LIMIT),
      windowMs: Atomics.load(this.a, base + RATE.WINDOW_MS),
      enabled: Atomics.load(this.a, base + RATE.ENABLED) !== 0,
    };
  }

  /**
   * Any thread. Takes one token of `bucket` at `nowMs` (epoch ms from the caller's clock): returns 0 when granted,
   * else the ms to wait before a token frees (≥ 1).
   */
  tryAcquire(bucket: RateBucket, nowMs: number): number {
    const base = this.bucketBase(bucket);
    checkTime(nowMs);
    const a = this.a;
    if (Atomics.load(a, base + RATE.ENABLED) === 0) return 0;
    return this.acquire(base, Atomics.load(a, base + RATE.LIMIT), Atomics.load(a, base + RATE.WINDOW_MS), nowMs);
  }

  /**
   * Any thread (executors). ORDER_RATE: one order of `accountSlot` at `nowMs` under `limitPerMinute` orders per 60 s
   * (0 = off). Returns 0 when granted, else the ms to wait.
   */
  tryAcquireOrderRate(accountSlot: number, nowMs: number, limitPerMinute: number): number {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    checkTime(nowMs);
    checkInt32(limitPerMinute, 'limitPerMinute', 0, this.capacity);
    if (limitPerMinute === 0) return 0;
    return this.acquire(this.orderBase + accountSlot * this.logWords, limitPerMinute, ORDER_RATE_WINDOW_MS, nowMs);
  }

  /** Any thread. Grants made so far by `bucket` (monotonic; for metrics and tests). */
  granted(bucket: RateBucket): number {
    return Atomics.load(this.a, this.bucketBase(bucket) + RATE.COUNT);
  }

  /** Any thread. Orders granted so far on `accountSlot`. */
  grantedOrders(accountSlot: number): number {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    return Atomics.load(this.a, this.orderBase + accountSlot * this.logWords + RATE.COUNT);
  }

  /** Main thread, at allocation: every slot holds a published "grant" long ago, so the first `capacity` grants pass. */
  initLogs(): void {
    for (let b = 0; b < RATE_BUCKETS.length; b++) this.initLog(this.bucketsBase + b * this.logWords);
    for (let s = 0; s < this.accounts; s++) this.initLog(this.orderBase + s * this.logWords);
    // A layout smaller than a default limit (tests) starts at its capacity; the main thread configures the rest.
    for (const name of RATE_BUCKETS) {
      const d = DEFAULT_RATE_BUCKETS[name];
      this.configure(name, { ...d, limit: Math.min(d.limit, this.capacity) });
    }
  }

  private initLog(base: number): void {
    const a = this.a;
    const ring = base + RATE.HEADER_WORDS;
    for (let k = 0; k < this.capacity; k++) {
      // Slot k holds grant k − capacity (negative: before the first real grant) at a time far in the past.
      storeI64(a, ring + k * RATE.SLOT_WORDS + RATE.SLOT_TIME, -Number.MAX_SAFE_INTEGER);
      Atomics.store(a, ring + k * RATE.SLOT_WORDS + RATE.SLOT_INDEX, k - this.capacity);
    }
    Atomics.store(a, base + RATE.COUNT, 0);
  }

  private acquire(base: number, limit: number, windowMs: number, nowMs: number): number {
    const a = this.a;
    const cap = this.capacity;
    const countIdx = base + RATE.COUNT;
    const ring = base + RATE.HEADER_WORDS;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const c = Atomics.load(a, countIdx);
      const prev = (c - limit) | 0;
      const prevSlot = ring + (((prev % cap) + cap) % cap) * RATE.SLOT_WORDS;
      // Not yet published by its claimant, or COUNT moved on since we loaded it: look again.
      if (Atomics.load(a, prevSlot + RATE.SLOT_INDEX) !== prev) continue;
      const t = loadI64(a, prevSlot + RATE.SLOT_TIME);
      if (t > nowMs - windowMs) {
        // Deny only on a view that was current: COUNT unchanged means slot `prev` was not being rewritten.
        if (Atomics.load(a, countIdx) !== c) continue;
        return t + windowMs - nowMs;
      }
      if (Atomics.compareExchange(a, countIdx, c, (c + 1) | 0) !== c) continue;
      const mine = ring + (((c % cap) + cap) % cap) * RATE.SLOT_WORDS;
      storeI64(a, mine + RATE.SLOT_TIME, nowMs);
      // Publish point of grant c: its time is visible to the claimant of grant c + limit from here on.
      Atomics.store(a, mine + RATE.SLOT_INDEX, c);
      return 0;
    }
    return 1;
  }

  private bucketBase(bucket: RateBucket): number {
    const i = RATE_BUCKETS.indexOf(bucket);
    if (i < 0) throw new SharedStateError('INVALID_ARGUMENT', `bucket: expected 'general' or 'bars', got ${String(bucket)}`);
    return this.bucketsBase + i * this.logWords;
  }
}

function checkTime(nowMs: number): void {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw new SharedStateError('INVALID_ARGUMENT', `nowMs: expected epoch milliseconds (a non-negative integer), got ${String(nowMs)}`);
  }
}
