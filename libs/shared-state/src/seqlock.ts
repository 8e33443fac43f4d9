import { SharedStateError } from './errors';

/*
 * Sequence lock over one int32 word (the record's first word), for records with exactly ONE writing thread.
 *
 *   writer:  s = seq; seq = s+1 (odd: writing) · store the fields · seq = s+2 (even: done)  ← the single publish point
 *   reader:  s1 = seq (wait while odd) · load the fields · s2 = seq; if s1 !== s2 retry
 *
 * Writers store every field with Atomics.store (sequentially consistent), so on any CPU the odd sequence value is
 * visible before any field changes, and every field before the even value.
 * Readers load fields with plain typed-array loads — in V8 an Atomics.load is a builtin call costing ~10× a plain
 * load, and the gate reads ~60 fields — bracketed by Atomics: begin() is an Atomics.load (acquire on ARM, so field
 * loads cannot move before it), and valid() first makes an atomic read-modify-write on a word private to this thread
 * (a full fence: field loads complete before it, even on ARM) and then Atomics.loads the sequence word. V8 never moves
 * a memory access across these calls. A racing plain load may return a mix of old and new bytes; the unchanged, even
 * sequence value is what proves it did not race. A reader never blocks the writer; the writer never waits.
 *
 * A writer that dies mid-record (thread crash) leaves the word odd forever. Readers wait for it boundedly — spinning
 * first, then parking in short Atomics.wait naps on the header's park word so a preempted writer on a busy core can
 * finish — and then throw SEQLOCK_WRITER_STUCK. The restarted writer recovers the record: beginWrite on an odd word
 * keeps it odd (a new value), and its endWrite publishes a consistent record again.
 */
export interface SeqlockReadOptions {
  /** Busy-wait loads of an odd sequence word before the first park (default 2_000). */
  spins: number;
  /** Parks of `parkMs` each before throwing SEQLOCK_WRITER_STUCK (default 20_000, i.e. ≥ 1 s with parkMs 0.05). */
  maxParks: number;
  /** Length of one park in ms (default 0.05). */
  parkMs: number;
  /** Times a read may be invalidated by a concurrent write before throwing SEQLOCK_LIVELOCK (default 1_000_000). */
  maxRetries: number;
}

export const DEFAULT_SEQLOCK_READ_OPTIONS: Readonly<SeqlockReadOptions> = Object.freeze({
  spins: 2_000,
  maxParks: 20_000,
  parkMs: 0.05,
  maxRetries: 1_000_000,
});

/** Writer side. Only the record's single writing thread may call these. */
export function seqWriteBegin(a: Int32Array, seqIndex: number): number {
  const s = Atomics.load(a, seqIndex);
  // Even: the normal case. Odd: the previous writer of this record died mid-write; move to another odd value.
  const w = (s & 1) === 0 ? (s + 1) | 0 : (s + 2) | 0;
  Atomics.store(a, seqIndex, w);
  return w;
}

/** THE publish point: after this store, readers see the new record as a whole. `w` is seqWriteBegin's return. */
export function seqWriteEnd(a: Int32Array, seqIndex: number, w: number): void {
  Atomics.store(a, seqIndex, (w + 1) | 0);
}

/** Reader side, one per attached SharedState (per thread); any thread may read. */
export class SeqlockReader {
  private readonly spins: number;
  private readonly maxParks: number;
  private readonly parkMs: number;
  readonly maxRetries: number;

  /** A word no other thread touches: the target of valid()'s fencing read-modify-write (no cache-line contention). */
  private readonly fenceWord = new Int32Array(new SharedArrayBuffer(64));

  constructor(
    private readonly a: Int32Array,
    private readonly parkIndex: number,
    opts: Partial<SeqlockReadOptions> = {},
  ) {
    const o = { ...DEFAULT_SEQLOCK_READ_OPTIONS, ...opts };
    this.spins = o.spins;
    this.maxParks = o.maxParks;
    this.parkMs = o.parkMs;
    this.maxRetries = o.maxRetries;
  }

  /** Returns the (even) sequence value to pass to `valid`, waiting boundedly while a write is in progress. */
  begin(seqIndex: number): number {
    const s = Atomics.load(this.a, seqIndex);
    return (s & 1) === 0 ? s : this.waitEven(seqIndex);
  }

  /** True when no write started since `begin` returned `s`: the fields just loaded are one consistent record. */
  valid(seqIndex: number, s: number): boolean {
    Atomics.add(this.fenceWord, 0, 1);
    return Atomics.load(this.a, seqIndex) === s;
  }

  /** Throws SEQLOCK_LIVELOCK; called by readers after `maxRetries` invalidated attempts. */
  livelock(seqIndex: number, what: string): never {
    throw new SharedStateError('SEQLOCK_LIVELOCK', `${what} (word ${seqIndex}) was rewritten during ${this.maxRetries} reads in a row`);
  }

  private waitEven(seqIndex: number): number {
    const a = this.a;
    for (let i = 0; i < this.spins; i++) {
      const s = Atomics.load(a, seqIndex);
      if ((s & 1) === 0) return s;
    }
    for (let p = 0; p < this.maxParks; p++) {
      // The park word is always 0, so this sleeps parkMs; it yields the core to a preempted writer.
      Atomics.wait(a, this.parkIndex, 0, this.parkMs);
      const s = Atomics.load(a, seqIndex);
      if ((s & 1) === 0) return s;
    }
    throw new SharedStateError(
      'SEQLOCK_WRITER_STUCK',
      `record at word ${seqIndex} has been mid-write for ${this.maxParks} parks of ${this.parkMs} ms: its writer thread died mid-write`,
    );
  }
}
