// A map that keeps only the `capacity` most recently inserted keys: the memory bound for per-order facts the
// risk-manager must remember a while after an order is final (see README, "Memory").
// Thread: the risk-manager thread only (plain objects, no shared memory).
//
// The insertion order lives in a fixed ring of keys, so evicting the oldest key is O(1) whatever the churn
// (a Map's own first key is found by skipping the holes its deletes leave, which grows with the churn).

/**
 * Insertion-ordered map of at most `capacity` keys; inserting a new key past the cap drops the oldest one.
 * A key stays until `capacity` new keys (counting re-insertions of deleted ones) have been inserted after it.
 */
export class RecentMap<K, V> {
  /** value and the ring slot of the key's insertion (a deleted key's old slot must not evict it later). */
  private readonly map = new Map<K, { value: V; slot: number }>();
  private readonly ring: (K | undefined)[];
  private next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${String(capacity)}`);
    this.ring = new Array<K | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Updates a present key in place (its age is its first insertion); a new key may evict the oldest one. */
  set(key: K, value: V): void {
    const e = this.map.get(key);
    if (e !== undefined) {
      e.value = value;
      return;
    }
    const slot = this.next;
    const old = this.ring[slot];
    if (old !== undefined && this.map.get(old)?.slot === slot) this.map.delete(old);
    this.ring[slot] = key;
    this.map.set(key, { value, slot });
    this.next = (slot + 1) % this.capacity;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.ring.fill(undefined);
    this.next = 0;
  }
}
