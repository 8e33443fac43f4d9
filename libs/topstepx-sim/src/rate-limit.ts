// Sliding-window request log: at most `limit` requests in any `windowMs`. A ring of timestamps,
// so each check is O(1) and memory is fixed.
export class SlidingWindow {
  private readonly stamps: Float64Array;
  private head = 0;
  private count = 0;
  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    this.stamps = new Float64Array(Math.max(1, limit));
  }

  /** Records and allows the request, or returns the ms until a slot frees. */
  take(now: number): number {
    const cap = this.stamps.length;
    while (this.count > 0 && this.stamps[this.head]! <= now - this.windowMs) {
      this.head = (this.head + 1) % cap;
      this.count--;
    }
    if (this.count >= this.limit) return this.stamps[this.head]! + this.windowMs - now;
    this.stamps[(this.head + this.count) % cap] = now;
    this.count++;
    return 0;
  }

  reset(): void {
    this.head = 0;
    this.count = 0;
  }
}
