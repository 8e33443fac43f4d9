import { SharedStateError, checkInt32, checkSlot } from './errors';
import { assertSafeInt } from './fixed';
import { loadI64Plain, storeI64 } from './int64';
import { DIR, HEADER, ID_MAX_BYTES, type Layout } from './layout';

export interface ContractSpec {
  /** Gateway contract id, printable ASCII, at most 48 bytes (e.g. "CON.F.US.EP.Z25"). */
  contractId: string;
  /** Minimum price increment in price units (1e-9). */
  tickSize: number;
  /** Value of one tick for one contract in money units (1e-4 USD). */
  tickValue: number;
  /** Position-limit units per contract: 10 for a mini, 1 for a micro (10 micros = 1 mini). */
  weight: number;
}

/**
 * Contract directory: slot ↔ contract id and the contract's static specs.
 * Written by the main thread only (register), before or while workers run: a slot is fully written, then the slot
 * count is published with Atomics.store; a published slot never changes. Any thread reads.
 */
export class ContractDirectory {
  private readonly base: number;
  private readonly capacity: number;
  /** Per-thread cache id → slot, refreshed when the published count grows. */
  private readonly cache = new Map<string, number>();
  private cached = 0;
  /** Slots known published by this thread: below it, reads need no Atomics (published slots never change). */
  private published = 0;

  constructor(
    private readonly a: Int32Array,
    layout: Layout,
  ) {
    this.base = layout.regions.contractDirectory.offset;
    this.capacity = layout.options.contracts;
  }

  /** Number of published slots. Any thread. */
  count(): number {
    return Atomics.load(this.a, HEADER.CONTRACT_COUNT);
  }

  /**
   * Main thread only. Returns the slot of `spec.contractId`, assigning the next free one on first sight.
   * Idempotent per id; registering an id again with different specs throws DIRECTORY_CONFLICT.
   */
  register(spec: ContractSpec): number {
    const id = checkContractId(spec.contractId);
    assertSafeInt(spec.tickSize, 'tickSize');
    assertSafeInt(spec.tickValue, 'tickValue');
    if (spec.tickSize <= 0) throw new SharedStateError('INVALID_ARGUMENT', `tickSize: must be > 0, got ${spec.tickSize}`);
    if (spec.tickValue <= 0) throw new SharedStateError('INVALID_ARGUMENT', `tickValue: must be > 0, got ${spec.tickValue}`);
    checkInt32(spec.weight, 'weight', 1, 1_000_000);
    const existing = this.slotOf(id);
    if (existing >= 0) {
      const cur = this.read(existing);
      if (cur.tickSize !== spec.tickSize || cur.tickValue !== spec.tickValue || cur.weight !== spec.weight) {
        throw new SharedStateError(
          'DIRECTORY_CONFLICT',
          `contractId: ${id} is registered with tickSize=${cur.tickSize} tickValue=${cur.tickValue} weight=${cur.weight}`,
        );
      }
      return existing;
    }
    const slot = this.count();
    if (slot >= this.capacity) {
      throw new SharedStateError('DIRECTORY_FULL', `contractId: no free slot for ${id} (capacity ${this.capacity})`);
    }
    const a = this.a;
    const r = this.base + slot * DIR.WORDS;
    for (let w = 0; w < ID_MAX_BYTES / 4; w++) {
      let word = 0;
      for (let b = 0; b < 4; b++) {
        const k = w * 4 + b;
        word |= (k < id.length ? id.charCodeAt(k) : 0) << (8 * b);
      }
      Atomics.store(a, r + DIR.ID + w, word);
    }
    Atomics.store(a, r + DIR.ID_LENGTH, id.length);
    Atomics.store(a, r + DIR.WEIGHT, spec.weight);
    storeI64(a, r + DIR.TICK_SIZE, spec.tickSize);
    storeI64(a, r + DIR.TICK_VALUE, spec.tickValue);
    // Publish point: the slot is complete before any thread can see count > slot.
    Atomics.store(a, HEADER.CONTRACT_COUNT, slot + 1);
    return slot;
  }

  /** Slot of `contractId`, or -1 if unknown. Any thread; a Map lookup unless new slots were published. */
  slotOf(contractId: string): number {
    const hit = this.cache.get(contractId);
    if (hit !== undefined) return hit;
    const n = this.count();
    if (n === this.cached) return -1;
    for (let s = this.cached; s < n; s++) this.cache.set(this.idAt(s), s);
    this.cached = n;
    return this.cache.get(contractId) ?? -1;
  }

  /** The specs of a published slot (allocates; not for the hot path — use tickSize/tickValue/weight). Any thread. */
  read(slot: number): ContractSpec {
    this.checkPublished(slot);
    return { contractId: this.idAt(slot), tickSize: this.tickSize(slot), tickValue: this.tickValue(slot), weight: this.weight(slot) };
  }

  /** Allocation-free getters for the gate. Any thread; `slot` must be published. */
  tickSize(slot: number): number {
    this.checkPublished(slot);
    return loadI64Plain(this.a, this.base + slot * DIR.WORDS + DIR.TICK_SIZE);
  }

  tickValue(slot: number): number {
    this.checkPublished(slot);
    return loadI64Plain(this.a, this.base + slot * DIR.WORDS + DIR.TICK_VALUE);
  }

  weight(slot: number): number {
    this.checkPublished(slot);
    return this.a[this.base + slot * DIR.WORDS + DIR.WEIGHT]!;
  }

  /** The Atomics.load of the count (only when `slot` is beyond what this thread has seen) orders the slot's loads. */
  private checkPublished(slot: number): void {
    if ((slot | 0) === slot && slot >= 0 && slot < this.published) return;
    this.published = this.count();
    checkSlot(slot, this.published, 'contractSlot');
  }

  private idAt(slot: number): string {
    const r = this.base + slot * DIR.WORDS;
    const len = this.a[r + DIR.ID_LENGTH]!;
    let s = '';
    for (let k = 0; k < len; k++) {
      s += String.fromCharCode((this.a[r + DIR.ID + (k >> 2)]! >>> (8 * (k & 3))) & 0xff);
    }
    return s;
  }
}

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

function checkContractId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > ID_MAX_BYTES || !PRINTABLE_ASCII.test(id)) {
    throw new SharedStateError(
      'INVALID_ARGUMENT',
      `contractId: expected 1..${ID_MAX_BYTES} printable ASCII characters without spaces, got ${JSON.stringify(id)}`,
    );
  }
  return id;
}
