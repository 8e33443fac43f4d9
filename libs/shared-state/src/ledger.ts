import { SharedStateError, checkSlot } from './errors';
import { Side, type SideCode } from './reservations';

/*
 * The reservation ledger (ADR 0003 "Releasing", architecture.md "Shared memory"): which risk-gate claims each
 * executor task holds and has not yet handed to the main thread. A thread that dies mid-task (uncaught error,
 * process.exit, out of memory) takes its task's Reservation object with it; the ledger is how the main thread
 * learns what that task had claimed, so it can take the claim over instead of leaking it until a restart.
 *
 * Its own SharedArrayBuffer, allocated by the executor pool on the main thread and sized to the pool (queued + running
 * tasks): the shared-state buffer is laid out before the pool's size is known. One Int32Array; offsets in words.
 *
 *  word 0   header (16 words): magic · version · entries
 *  16 + e × 8  entry e (one per task, two entries per cache line):
 *     state        0 = free; else ticket | held. The ticket (generation << 2, never 0) names the one task the entry
 *                  is armed for; `held` bit 0 = its size claim (Reservations.tryReserve), bit 1 = its open-order
 *                  claim (tryReserveOpenOrder). Only ever 0, SIZE or SIZE | OPEN.
 *     order        accountSlot (bits 0-9) · contractSlot (bits 10-21) · side (bit 22) · reducing (bit 23): one word,
 *                  so the gate's hot path stores three words per order, not six
 *     size · weight · generation (main thread only: the entry's last) · 3 words pad
 *
 * Who writes what:
 *  - main thread: arm() (free → ticket) before the task is queued; settle() (→ free) once it has the task's answer,
 *    which carries any reservation; reclaim() (→ free, returning what was held) when the task failed instead.
 *  - the task's thread, inside the gate and only while the entry still carries its ticket: record() the claim's
 *    fields before claiming, then move() the held bits with one compareExchange right after each claim (nothing
 *    between the claim and the move can throw or allocate) and back to none before giving a claim back.
 * Every state change is a compareExchange on the ticket: once the main thread has reclaimed (or re-armed) an entry,
 * the thread's move() fails, and the thread gives back itself what it claimed but could not record. A claim is
 * therefore released exactly once, by the main thread (settle: through the answer; reclaim: through the ledger) or
 * by the thread (a denial, or a move refused) — never by both. The windows left (after a claim, before its move;
 * after a move back, before the release) can only leak, never double-release: fail closed.
 */

export const LEDGER_MAGIC = 0x47574c44; // "GWLD"
/** Bump on every change of the ledger layout; attach refuses a buffer of another version. */
export const LEDGER_VERSION = 1;
export const LEDGER_HEADER = Object.freeze({ MAGIC: 0, VERSION: 1, ENTRIES: 2, WORDS: 16 });
/** One entry (8 words). */
export const LEDGER_ENTRY = Object.freeze({ STATE: 0, ORDER: 1, SIZE: 2, WEIGHT: 3, GENERATION: 4, WORDS: 8 });
/** Bit fields of an entry's ORDER word. */
export const LEDGER_ORDER = Object.freeze({ CONTRACT_SHIFT: 10, SIDE_BIT: 1 << 22, REDUCING_BIT: 1 << 23, ACCOUNT_MASK: 0x3ff, CONTRACT_MASK: 0xfff });
/** The `held` bits of an entry's state word. */
export const Held = Object.freeze({ NONE: 0, SIZE: 1, ALL: 3 } as const);
export type HeldBits = (typeof Held)[keyof typeof Held];

const OPEN_BIT = 2;
const HELD_MASK = 3;
/** Generations run 1 … 2^29 − 1, so a ticket (generation << 2) is a positive int32. */
const MAX_GENERATION = 2 ** 29 - 1;
/** Entries of one ledger: enough for EXECUTOR_MAX_QUEUE (1,000,000) plus 64 threads × 64 tasks, twice. */
const MAX_ENTRIES = 4_000_000;
/** Attempts of the main thread's compareExchange against the task's moves (at most a handful per task). */
const MAX_CAS_ATTEMPTS = 1_000_000;

/** What the main thread hands to the executor threads (workerData): plain, structured-clonable. */
export interface LedgerBuffers {
  buffer: SharedArrayBuffer;
  entries: number;
}

/** One task's entry: travels with the task to its thread (plain data). */
export interface LedgerHold {
  readonly entry: number;
  readonly ticket: number;
}

/**
 * What a task held when the main thread reclaimed its entry: the fields of a risk-gate Reservation, plus whether the
 * open-order claim was made (false: the task was lost between its two claims, only the size is held).
 */
export interface LedgerClaim {
  readonly accountSlot: number;
  readonly contractSlot: number;
  readonly side: SideCode;
  readonly size: number;
  readonly weight: number;
  readonly reducing: boolean;
  readonly openOrder: boolean;
}

/** Main thread, once per executor pool: a zeroed ledger of `entries` entries (all free). */
export function allocateLedger(entries: number): LedgerBuffers {
  if (!Number.isInteger(entries) || entries < 1 || entries > MAX_ENTRIES) {
    throw new SharedStateError('INVALID_ARGUMENT', `entries: expected an integer in [1, ${MAX_ENTRIES}], got ${String(entries)}`);
  }
  const buffer = new SharedArrayBuffer((LEDGER_HEADER.WORDS + entries * LEDGER_ENTRY.WORDS) * 4);
  const a = new Int32Array(buffer);
  Atomics.store(a, LEDGER_HEADER.VERSION, LEDGER_VERSION);
  Atomics.store(a, LEDGER_HEADER.ENTRIES, entries);
  // Magic last: attachable only once initialised.
  Atomics.store(a, LEDGER_HEADER.MAGIC, LEDGER_MAGIC);
  return { buffer, entries };
}

/** Any thread, once per thread: validates the buffer and builds this thread's view. */
export function attachLedger(b: LedgerBuffers): ReservationLedger {
  if (b === null || typeof b !== 'object' || !(b.buffer instanceof SharedArrayBuffer)) {
    throw new SharedStateError('LAYOUT_MISMATCH', 'ledger: expected a SharedArrayBuffer from allocateLedger()');
  }
  const a = new Int32Array(b.buffer);
  const words = LEDGER_HEADER.WORDS + b.entries * LEDGER_ENTRY.WORDS;
  const checks: [string, number, number][] = [
    ['magic', a.length > 0 ? Atomics.load(a, LEDGER_HEADER.MAGIC) : 0, LEDGER_MAGIC],
    ['version', a.length > 1 ? Atomics.load(a, LEDGER_HEADER.VERSION) : 0, LEDGER_VERSION],
    ['entries', a.length > 2 ? Atomics.load(a, LEDGER_HEADER.ENTRIES) : 0, b.entries],
    ['byteLength', b.buffer.byteLength, words * 4],
  ];
  for (const [field, found, expected] of checks) {
    if (found !== expected) throw new SharedStateError('LAYOUT_MISMATCH', `ledger ${field}: buffer says ${found}, expected ${expected}`);
  }
  return new ReservationLedger(a, b.entries);
}

export class ReservationLedger {
  /** Main thread only: free entry indexes (a stack), built on the first arm() (threads never need it). */
  private free: number[] | undefined;

  constructor(
    private readonly a: Int32Array,
    readonly entries: number,
  ) {}

  // ---- main thread ----

  /**
   * Main thread. Arms a free entry for one task, with a ticket no earlier task of that entry had. undefined when
   * every entry is armed (the caller answers as for a full queue: nothing claimed, nothing sent).
   */
  arm(): LedgerHold | undefined {
    const entry = this.freeList().pop();
    if (entry === undefined) return undefined;
    const a = this.a;
    const genIdx = this.base(entry) + LEDGER_ENTRY.GENERATION;
    const last = Atomics.load(a, genIdx);
    const gen = last >= MAX_GENERATION || last < 0 ? 1 : last + 1;
    Atomics.store(a, genIdx, gen);
    const ticket = gen << 2;
    Atomics.store(a, this.stateIndex(entry), ticket);
    return { entry, ticket };
  }

  /**
   * Main thread, once it has the task's answer: the answer carries whatever the task reserved, so the entry's claims
   * are the caller's now and the entry is freed without releasing anything.
   */
  settle(hold: LedgerHold): void {
    this.takeBack(hold);
  }

  /**
   * Main thread, when the task failed without an answer (its thread died, or the task threw): frees the entry and
   * returns what the task held there, which the caller now owns and releases exactly once. undefined: nothing held.
   * Only after the task can no longer run its gate (see ADR 0003 "Releasing" for when piscina guarantees that).
   */
  reclaim(hold: LedgerHold): LedgerClaim | undefined {
    const held = this.takeBack(hold);
    if ((held & Held.SIZE) === 0) return undefined;
    const a = this.a;
    const base = this.base(hold.entry);
    // Written before the held bit was set (seq-cst Atomics), and identical on every record() of the same order.
    const order = Atomics.load(a, base + LEDGER_ENTRY.ORDER);
    return {
      accountSlot: order & LEDGER_ORDER.ACCOUNT_MASK,
      contractSlot: (order >>> LEDGER_ORDER.CONTRACT_SHIFT) & LEDGER_ORDER.CONTRACT_MASK,
      side: (order & LEDGER_ORDER.SIDE_BIT) !== 0 ? Side.SELL : Side.BUY,
      size: Atomics.load(a, base + LEDGER_ENTRY.SIZE),
      weight: Atomics.load(a, base + LEDGER_ENTRY.WEIGHT),
      reducing: (order & LEDGER_ORDER.REDUCING_BIT) !== 0,
      openOrder: (held & OPEN_BIT) !== 0,
    };
  }

  /** Main thread. Entries armed now (tasks queued or running, or answered and not yet settled). */
  armed(): number {
    return this.entries - this.freeList().length;
  }

  // ---- the task's thread (inside the risk gate) ----

  /**
   * The task's thread, before it claims (holding nothing): the claim's fields, for the main thread to read if the
   * task is lost. Rewritten when the gate judges the order again as an entry (same order: same fields). false (nothing
   * written): the entry no longer carries this task's ticket, the main thread has given up on the task.
   */
  record(hold: LedgerHold, accountSlot: number, contractSlot: number, side: SideCode, size: number, weight: number, reducing: boolean): boolean {
    this.checkHold(hold);
    if ((accountSlot & ~LEDGER_ORDER.ACCOUNT_MASK) !== 0 || (contractSlot & ~LEDGER_ORDER.CONTRACT_MASK) !== 0) {
      throw new SharedStateError('SLOT_OUT_OF_RANGE', `ledger: slots (${accountSlot}, ${contractSlot}) do not fit an entry (account < 1024, contract < 4096)`);
    }
    const a = this.a;
    const base = this.base(hold.entry);
    if ((Atomics.load(a, base + LEDGER_ENTRY.STATE) & ~HELD_MASK) !== hold.ticket) return false;
    const order =
      accountSlot | (contractSlot << LEDGER_ORDER.CONTRACT_SHIFT) | (side === Side.SELL ? LEDGER_ORDER.SIDE_BIT : 0) | (reducing ? LEDGER_ORDER.REDUCING_BIT : 0);
    Atomics.store(a, base + LEDGER_ENTRY.ORDER, order);
    Atomics.store(a, base + LEDGER_ENTRY.SIZE, size);
    Atomics.store(a, base + LEDGER_ENTRY.WEIGHT, weight);
    return true;
  }

  /**
   * The task's thread: held bits `from` → `to`, one compareExchange. false: the entry no longer carries this task's
   * ticket — the main thread reclaimed it (and released what it held then) — so the caller gives back itself a claim
   * it could not record, and releases nothing it had recorded.
   */
  move(hold: LedgerHold, from: HeldBits, to: HeldBits): boolean {
    const expected = hold.ticket | from;
    return Atomics.compareExchange(this.a, this.stateIndex(hold.entry), expected, hold.ticket | to) === expected;
  }

  /** Any thread, for tests and diagnostics: the held bits of an entry, or -1 when it is free. */
  heldBits(entry: number): number {
    checkSlot(entry, this.entries, 'entry');
    const s = Atomics.load(this.a, this.stateIndex(entry));
    return s === 0 ? -1 : s & HELD_MASK;
  }

  private takeBack(hold: LedgerHold): number {
    this.checkHold(hold);
    const idx = this.stateIndex(hold.entry);
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const s = Atomics.load(this.a, idx);
      if ((s & ~HELD_MASK) !== hold.ticket) {
        throw new SharedStateError('INVALID_ARGUMENT', `hold: entry ${hold.entry} is not armed for ticket ${hold.ticket} (settled or reclaimed twice)`);
      }
      if (Atomics.compareExchange(this.a, idx, s, 0) === s) {
        this.freeList().push(hold.entry);
        return s & HELD_MASK;
      }
    }
    throw new SharedStateError('SEQLOCK_LIVELOCK', `hold: entry ${hold.entry} changed ${MAX_CAS_ATTEMPTS} times in a row`);
  }

  private freeList(): number[] {
    if (this.free === undefined) {
      this.free = [];
      for (let e = this.entries - 1; e >= 0; e--) this.free.push(e);
    }
    return this.free;
  }

  private checkHold(hold: LedgerHold): void {
    checkSlot(hold?.entry, this.entries, 'hold.entry');
    const t = hold.ticket;
    if ((t | 0) !== t || t <= 0 || (t & HELD_MASK) !== 0) {
      throw new SharedStateError('INVALID_ARGUMENT', `hold.ticket: expected a positive multiple of 4, got ${String(t)}`);
    }
  }

  private base(entry: number): number {
    return LEDGER_HEADER.WORDS + entry * LEDGER_ENTRY.WORDS;
  }

  private stateIndex(entry: number): number {
    return LEDGER_HEADER.WORDS + entry * LEDGER_ENTRY.WORDS + LEDGER_ENTRY.STATE;
  }
}
