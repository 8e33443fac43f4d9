import type { Bar } from './bar';
import { BarsError } from './errors';

export const DEFAULT_CACHE_SIZE = 1000;

/**
 * The last `capacity` closed bars of one (contract, timeframe), oldest evicted first. Single-threaded: owned by the
 * market-data thread that aggregates the contract.
 */
export class BarCache {
  readonly capacity: number;
  private readonly ring: (Bar | undefined)[];
  private head = 0; // slot of the next push
  private count = 0;

  constructor(capacity = DEFAULT_CACHE_SIZE) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new BarsError('BARS_BAD_CONFIG', 'cacheSize', `expected a positive integer, got ${String(capacity)}`);
    }
    this.capacity = capacity;
    this.ring = new Array<Bar | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  push(bar: Bar): void {
    this.ring[this.head] = bar;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    if (this.count < this.capacity) this.count++;
  }

  /** i = 0 is the oldest bar held, size − 1 the newest. */
  at(i: number): Bar | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.ring[(this.head - this.count + i + this.capacity) % this.capacity];
  }

  newest(): Bar | undefined {
    return this.at(this.count - 1);
  }

  /** The newest `n` bars (all by default), oldest first. A new array; the bars are shared (closed, immutable). */
  snapshot(n = this.count): Bar[] {
    const k = Math.max(0, Math.min(n, this.count));
    const out = new Array<Bar>(k);
    for (let i = 0; i < k; i++) out[i] = this.at(this.count - k + i)!;
    return out;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
