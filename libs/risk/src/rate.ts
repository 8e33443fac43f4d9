// A sliding 60 s order counter: the reference model of the `ordersLastMinute` gate input. In the
// engine the executor threads keep this count in shared memory; this single-threaded version serves
// the standalone service and the tests, and pins the semantics (an order at t counts until t + 60 s).
import { requireSafeInt } from './money';

export const ORDER_RATE_WINDOW_MS = 60_000;

export class OrderRateWindow {
  private readonly stamps: Float64Array;
  private head = 0;
  private count = 0;

  /** `capacity` ≥ the rate limit: older stamps than the last `capacity` never matter to the gate. */
  constructor(capacity: number) {
    requireSafeInt(capacity, 'capacity');
    if (capacity < 1) throw new RangeError(`capacity must be >= 1, got ${capacity}`);
    this.stamps = new Float64Array(capacity);
  }

  /** Records an order placed at `tsMs` (non-decreasing). */
  record(tsMs: number): void {
    requireSafeInt(tsMs, 'tsMs');
    this.stamps[(this.head + this.count) % this.stamps.length] = tsMs;
    if (this.count < this.stamps.length) this.count++;
    else this.head = (this.head + 1) % this.stamps.length;
  }

  /** Orders recorded in (nowMs − 60 s, nowMs], capped at the capacity. */
  countLastMinute(nowMs: number): number {
    while (this.count > 0 && this.stamps[this.head]! <= nowMs - ORDER_RATE_WINDOW_MS) {
      this.head = (this.head + 1) % this.stamps.length;
      this.count--;
    }
    return this.count;
  }
}
