import { SharedStateError, checkInt32 } from './errors';
import { loadI64, storeI64 } from './int64';
import { CLOSE_LEASE, type Layout } from './layout';
import { Side, type SideCode } from './reservations';

/*
 * Close leases (ADR 0006 decision 6 and its amendment): the closes of a position that the engine is sending or has
 * sent and that may still work at the broker. `Position/closeContract` / `partialCloseContract` answer before the
 * exchange fills the market order they work, and that order carries no tag of ours; two threads send them (the
 * front door on the main thread, the risk-manager's loss-limit enforcement on its own). A sender claims the lease of
 * (account, contract) BEFORE it sends, so two senders — of one thread or of both, at the same moment or not — never
 * both send a close of one position; @gateway/orders ClosesInFlight is the senders' view over this table.
 *
 * Writers: the main thread and the risk-manager (any thread may call every method); every change of an entry's
 * state is a compareExchange on its state word, so there is no lock a dying thread could keep.
 *
 *  region word 0: header (16 words): fullCount (claims refused: no entry free) · evictions · reserved
 *  16 + e × 32: entry e (two cache lines)
 *     state       generation << 3 | phase (the one word every transition compare-exchanges; a reuse bumps the
 *                 generation, so a stale handle or view never changes the entry's next lease)
 *     owner       who claimed (1 front door, 2 risk-manager: the callers' codes, for messages)
 *     side · size  the close: the side of its market order (0 buy, 1 sell) and its size in contracts; size 0 =
 *                 the whole position (`closeContract`: the broker closes whatever it holds, which the sender's
 *                 view of the position may not match)
 *     accountId i64 · claimedMs i64 · sentMs i64 (0 until the answer)
 *     idLength · idHash (FNV-1a of the whole id) · id bytes [48] (12 words, low byte first)
 *  The key is (accountId, contract id) — not a contract slot: the risk-manager also closes contracts outside the
 *  directory. Ids compare by length, hash and their first 48 bytes, so ids of any length are told apart.
 *
 * Phases: FREE → WRITING (this claimer alone fills the fields) → PENDING (published, checking for rivals) →
 * CLAIMED (the send may be on the wire; the answer is not in) → SENT (the broker answered: in flight until the TTL
 * from the answer) → FREE (released: nothing was sent). ABORTED: a PENDING claim beaten by a rival.
 * A lease is live while younger than the TTL: CLAIMED from its claim (an owner that died between claim and answer
 * blocks the key for at most the TTL), SENT from its answer. A clock behind the lease's time sees it live.
 * An expired lease is not freed: its close may still work at the broker (a market order resting in a halted or
 * locked-limit market). A claim that finds no live lease reports the key's latest expired one (`expired`), so the
 * sender can check that close before sending another, and never reuses that entry for itself; other claims reuse
 * expired entries only when no entry is free, the oldest claim first.
 *
 * Claim (one decision over shared memory): publish PENDING, then look at every other entry of the key. A live
 * CLAIMED/SENT lease → withdraw, the key is held. A rival PENDING in a lower entry → withdraw (it wins, unless it
 * meets a lease). A rival PENDING in a higher entry → abort it (compareExchange PENDING → ABORTED); if it promoted
 * first, the exchange fails and its lease holds the key. Then promote own PENDING → CLAIMED; that exchange fails only
 * if a lower rival aborted it. Of two claims, the one that scans second sees the other published (all Atomics are
 * sequentially consistent), so at most one promotes; and the lowest concurrent claim wins when no lease holds the key.
 *
 * A full table: the claim evicts the live SENT lease with the oldest answer (closest to its TTL; a loss of
 * protection for that key only, reported as `evicted`). With every entry a send in progress it answers `full` and
 * counts it; the caller then sends without a lease, unless a close of the position visibly works, rather than leave
 * a loss limit unenforced (ClosesInFlight). So does a table whose one reusable entry is the claiming key's own
 * latest expired lease.
 * A thread killed between taking an entry (WRITING) and publishing it leaks that one entry until a restart.
 */

/** A lease younger than this is live: a close not filled this long after its answer is stuck, not in flight. */
export const CLOSE_LEASE_TTL_MS = 30_000;

export const CloseLeasePhase = Object.freeze({ FREE: 0, WRITING: 1, PENDING: 2, CLAIMED: 3, SENT: 4, ABORTED: 5 } as const);

/** A claim won: the entry and the generation it was won at. Only its holder marks it sent or releases it. */
export interface CloseLease {
  readonly index: number;
  readonly gen: number;
}

/**
 * A lease as a reader saw it: live (held, find), or expired (a claim's `expired`). A rival claim still being decided
 * reads as CLAIMED (a send about to start).
 */
export interface CloseLeaseView {
  readonly index: number;
  readonly gen: number;
  readonly phase: 'CLAIMED' | 'SENT';
  readonly accountId: number;
  readonly side: SideCode;
  /** Contracts; 0 = the whole position (`closeContract`). */
  readonly size: number;
  readonly owner: number;
  readonly claimedMs: number;
  /** 0 while CLAIMED. */
  readonly sentMs: number;
}

/**
 * `evicted`: a live lease of another key given up for this one (a full table). `expired`: the key's latest lease
 * past its TTL, whose close may still work at the broker (the caller checks it before sending).
 */
export type CloseClaim =
  | { readonly ok: true; readonly lease: CloseLease; readonly evicted?: CloseLeaseView; readonly expired?: CloseLeaseView }
  | { readonly ok: false; readonly held: CloseLeaseView }
  | { readonly ok: false; readonly full: true };

const P = CloseLeasePhase;
const GEN_MASK = 0x0fffffff;
/** Rounds of a claim (each one publish and scan); more only when rivals keep freeing and taking entries. */
const MAX_CLAIM_ROUNDS = 1_000;
/** Reads of a rival PENDING entry while it decides (a few microseconds unless its thread is preempted). */
const RIVAL_SPINS = 20_000;
/** Re-reads of an entry changing under a reader: a change is a claim, send or release, never a stream of them. */
const MAX_READS = 1_000_000;

const word = (gen: number, phase: number): number => (gen << 3) | phase;
const phaseOf = (w: number): number => w & 7;
const genOf = (w: number): number => w >>> 3;

/** One entry read in full while its state word stayed the same. */
interface Snapshot {
  state: number;
  accountId: number;
  side: number;
  size: number;
  owner: number;
  claimedMs: number;
  sentMs: number;
  /** True when the entry holds the key being looked for. */
  sameKey: boolean;
}

export class CloseLeases {
  private readonly header: number;
  private readonly base: number;
  readonly capacity: number;
  private readonly snap: Snapshot = { state: 0, accountId: 0, side: 0, size: 0, owner: 0, claimedMs: 0, sentMs: 0, sameKey: false };

  constructor(
    private readonly a: Int32Array,
    layout: Layout,
    private readonly ttlMs = CLOSE_LEASE_TTL_MS,
  ) {
    this.header = layout.regions.closeLeases.offset;
    this.base = this.header + CLOSE_LEASE.HEADER_WORDS;
    this.capacity = layout.options.closeLeases;
  }

  /**
   * Main thread or risk-manager, right before it sends a close of `size` contracts (0: the whole position) on `side`
   * (the side of the close's market order). Wins the lease of (accountId, contractId) if no live lease holds it, and
   * then reports the key's latest expired lease, if any (`expired`); otherwise answers the lease that does. `owner`
   * (≥ 1) names the caller in the lease.
   */
  tryClaim(accountId: number, contractId: string, side: SideCode, size: number, nowMs: number, owner: number): CloseClaim {
    checkClaim(accountId, contractId, side, size, nowMs, owner);
    return this.claim(accountId, contractId, hashId(contractId), side, size, nowMs, owner);
  }

  /**
   * Main thread or risk-manager: takes over the SENT lease `held` (seen in a refused claim) once the caller has
   * checked that its close no longer works at the broker. Frees that lease if it is still exactly the one seen,
   * then claims the key afresh; a lease in any other state, or changed since, is answered as held.
   */
  takeOver(held: CloseLeaseView, contractId: string, side: SideCode, size: number, nowMs: number, owner: number): CloseClaim {
    checkClaim(held.accountId, contractId, side, size, nowMs, owner);
    const hash = hashId(contractId);
    const idx = this.entry(held.index) + CLOSE_LEASE.STATE;
    if (held.phase === 'SENT') {
      const s = this.read(held.index, held.accountId, contractId, hash);
      if (s.state === word(held.gen, P.SENT) && s.sameKey) {
        Atomics.compareExchange(this.a, idx, s.state, word((held.gen + 1) & GEN_MASK, P.FREE));
      }
    }
    return this.claim(held.accountId, contractId, hash, side, size, nowMs, owner);
  }

  /**
   * The holder of `lease`, once the broker answered its close: in flight until the TTL from `nowMs`. False if no
   * longer its lease, or if the lease expired first (an answer later than the TTL: the key may have a new lease).
   */
  markSent(lease: CloseLease, nowMs: number): boolean {
    checkTime(nowMs);
    const e = this.entry(lease.index);
    if (Atomics.load(this.a, e + CLOSE_LEASE.STATE) !== word(lease.gen, P.CLAIMED)) return false;
    if (nowMs - loadI64(this.a, e + CLOSE_LEASE.CLAIMED_MS) >= this.ttlMs) return false;
    // Written before the phase: a reader that sees SENT sees its time. A reader that saw CLAIMED and reads this
    // time re-reads (its state word changed).
    storeI64(this.a, e + CLOSE_LEASE.SENT_MS, nowMs);
    return Atomics.compareExchange(this.a, e + CLOSE_LEASE.STATE, word(lease.gen, P.CLAIMED), word(lease.gen, P.SENT)) === word(lease.gen, P.CLAIMED);
  }

  /** The holder of `lease`, when its send certainly sent nothing: the key is free again. False if no longer its lease. */
  release(lease: CloseLease): boolean {
    const idx = this.entry(lease.index) + CLOSE_LEASE.STATE;
    const free = word((lease.gen + 1) & GEN_MASK, P.FREE);
    for (const phase of [P.CLAIMED, P.SENT]) {
      if (Atomics.compareExchange(this.a, idx, word(lease.gen, phase), free) === word(lease.gen, phase)) return true;
    }
    return false;
  }

  /** Any thread. The live lease of (accountId, contractId), if any. */
  find(accountId: number, contractId: string, nowMs: number): CloseLeaseView | undefined {
    return this.lookup(accountId, contractId, hashId(contractId), nowMs).live;
  }

  /** Any thread. Claims answered `full` since the buffer was allocated. */
  fullCount(): number {
    return Atomics.load(this.a, this.header + CLOSE_LEASE.FULL_COUNT);
  }

  /** Any thread. Live SENT leases evicted by claims that found the table full. */
  evictions(): number {
    return Atomics.load(this.a, this.header + CLOSE_LEASE.EVICTIONS);
  }

  private claim(accountId: number, contractId: string, hash: number, side: SideCode, size: number, nowMs: number, owner: number): CloseClaim {
    const a = this.a;
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      const { live, expired } = this.lookup(accountId, contractId, hash, nowMs);
      if (live) return { ok: false, held: live };
      const taken = this.take(nowMs, accountId, contractId, hash, expired);
      if (taken === undefined) {
        Atomics.add(a, this.header + CLOSE_LEASE.FULL_COUNT, 1);
        return { ok: false, full: true };
      }
      const { index, gen, evicted } = taken;
      const e = this.entry(index);
      Atomics.store(a, e + CLOSE_LEASE.OWNER, owner);
      Atomics.store(a, e + CLOSE_LEASE.SIDE, side);
      Atomics.store(a, e + CLOSE_LEASE.SIZE, size);
      storeI64(a, e + CLOSE_LEASE.ACCOUNT_ID, accountId);
      storeI64(a, e + CLOSE_LEASE.CLAIMED_MS, nowMs);
      storeI64(a, e + CLOSE_LEASE.SENT_MS, 0);
      Atomics.store(a, e + CLOSE_LEASE.ID_LENGTH, contractId.length);
      Atomics.store(a, e + CLOSE_LEASE.ID_HASH, hash);
      for (let w = 0; w < CLOSE_LEASE.ID_BYTES / 4; w++) Atomics.store(a, e + CLOSE_LEASE.ID + w, idWord(contractId, w));
      // Publish point: from here rivals see this claim.
      if (Atomics.compareExchange(a, e + CLOSE_LEASE.STATE, word(gen, P.WRITING), word(gen, P.PENDING)) !== word(gen, P.WRITING)) continue;
      const rival = this.rivals(index, gen, accountId, contractId, hash, nowMs);
      if (rival === undefined && Atomics.compareExchange(a, e + CLOSE_LEASE.STATE, word(gen, P.PENDING), word(gen, P.CLAIMED)) === word(gen, P.PENDING)) {
        const lease = { index, gen };
        if (evicted) return expired ? { ok: true, lease, evicted, expired } : { ok: true, lease, evicted };
        return expired ? { ok: true, lease, expired } : { ok: true, lease };
      }
      this.withdraw(index, gen);
      if (rival !== undefined && rival !== 'retry') return { ok: false, held: rival };
      // Aborted by a lower rival, or a rival gone before it decided: decide again.
    }
    throw new SharedStateError('SEQLOCK_LIVELOCK', `close lease: no decision for ${contractId} after ${MAX_CLAIM_ROUNDS} rounds`);
  }

  /**
   * The live lease of the key, if any; else its expired lease (CLAIMED or SENT past the TTL) claimed last, if any.
   * Allocates only for what it returns.
   */
  private lookup(accountId: number, contractId: string, hash: number, nowMs: number): { live?: CloseLeaseView; expired?: CloseLeaseView } {
    let expired: CloseLeaseView | undefined;
    for (let i = 0; i < this.capacity; i++) {
      const s = this.read(i, accountId, contractId, hash);
      const ph = phaseOf(s.state);
      if ((ph !== P.CLAIMED && ph !== P.SENT) || !s.sameKey) continue;
      if (this.live(s, nowMs)) return { live: view(i, s) };
      if (expired === undefined || s.claimedMs > expired.claimedMs) expired = view(i, s);
    }
    return expired ? { expired } : {};
  }

  /**
   * After publishing PENDING at `index`: the lease or winning rival claim of the key, if any (then this claim
   * withdraws); 'retry' when a lower rival left before deciding; undefined when this claim may promote.
   */
  private rivals(index: number, gen: number, accountId: number, contractId: string, hash: number, nowMs: number): CloseLeaseView | 'retry' | undefined {
    for (let i = 0; i < this.capacity; i++) {
      if (i === index) continue;
      const s = this.read(i, accountId, contractId, hash);
      const ph = phaseOf(s.state);
      if (!s.sameKey || !this.live(s, nowMs)) continue;
      if (ph === P.CLAIMED || ph === P.SENT) return view(i, s);
      if (ph !== P.PENDING) continue;
      if (i < index) return this.awaitRival(i, s.state, accountId, contractId, hash);
      // A higher rival: abort it, unless it promoted first (then its lease holds the key).
      const seen = s.state;
      if (Atomics.compareExchange(this.a, this.entry(i) + CLOSE_LEASE.STATE, seen, word(genOf(seen), P.ABORTED)) !== seen) {
        const now = this.read(i, accountId, contractId, hash);
        if (now.state === word(genOf(seen), P.CLAIMED) && now.sameKey) return view(i, now);
      }
    }
    // Own claim still PENDING? Else a lower rival aborted it.
    return Atomics.load(this.a, this.entry(index) + CLOSE_LEASE.STATE) === word(gen, P.PENDING) ? undefined : 'retry';
  }

  /** A lower rival PENDING at `i` wins over this claim: its lease once it promotes; 'retry' if it left instead. */
  private awaitRival(i: number, seen: number, accountId: number, contractId: string, hash: number): CloseLeaseView | 'retry' {
    for (let k = 0; k < RIVAL_SPINS; k++) {
      const s = this.read(i, accountId, contractId, hash);
      if (s.state === seen) continue;
      if (s.state === word(genOf(seen), P.CLAIMED) && s.sameKey) return view(i, s);
      return 'retry';
    }
    // Still deciding (its thread preempted): a send about to start, as far as this caller is concerned.
    const s = this.read(i, accountId, contractId, hash);
    return s.state === seen ? view(i, s) : 'retry';
  }

  /** Gives up own claim at `index` (PENDING, or ABORTED by a rival); nothing if the entry was taken since. */
  private withdraw(index: number, gen: number): void {
    const idx = this.entry(index) + CLOSE_LEASE.STATE;
    const free = word((gen + 1) & GEN_MASK, P.FREE);
    if (Atomics.compareExchange(this.a, idx, word(gen, P.PENDING), free) !== word(gen, P.PENDING)) {
      Atomics.compareExchange(this.a, idx, word(gen, P.ABORTED), free);
    }
  }

  /**
   * An entry for a new claim, now WRITING: a free or aborted one; else an expired one, the oldest claim first, never
   * `keep` (the key's latest expired lease: its close may still work, and the caller checks it); else the oldest SENT
   * lease of another key evicted (one of this key, won by a rival since this claim looked, is left for the rival check
   * to meet).
   */
  private take(nowMs: number, accountId: number, contractId: string, hash: number, keep: CloseLeaseView | undefined): { index: number; gen: number; evicted?: CloseLeaseView } | undefined {
    const a = this.a;
    for (let attempt = 0; attempt < MAX_CLAIM_ROUNDS; attempt++) {
      let stale = -1;
      let staleState = 0;
      let staleMs = 0;
      let oldest = -1;
      let oldestState = 0;
      let oldestSentMs = 0;
      let oldestView: CloseLeaseView | undefined;
      for (let i = 0; i < this.capacity; i++) {
        const s = this.read(i, accountId, contractId, hash);
        const ph = phaseOf(s.state);
        if (ph === P.FREE || ph === P.ABORTED) {
          const gen = (genOf(s.state) + 1) & GEN_MASK;
          if (Atomics.compareExchange(a, this.entry(i) + CLOSE_LEASE.STATE, s.state, word(gen, P.WRITING)) === s.state) return { index: i, gen };
          continue;
        }
        if (ph !== P.PENDING && ph !== P.CLAIMED && ph !== P.SENT) continue;
        if (!this.live(s, nowMs)) {
          const kept = keep !== undefined && i === keep.index && genOf(s.state) === keep.gen;
          if (!kept && (stale < 0 || s.claimedMs < staleMs)) {
            stale = i;
            staleState = s.state;
            staleMs = s.claimedMs;
          }
          continue;
        }
        if (ph === P.SENT && !s.sameKey && (oldest < 0 || s.sentMs < oldestSentMs)) {
          oldest = i;
          oldestState = s.state;
          oldestSentMs = s.sentMs;
          oldestView = view(i, s);
        }
      }
      if (stale >= 0) {
        const gen = (genOf(staleState) + 1) & GEN_MASK;
        if (Atomics.compareExchange(a, this.entry(stale) + CLOSE_LEASE.STATE, staleState, word(gen, P.WRITING)) === staleState) return { index: stale, gen };
        continue;
      }
      if (oldest < 0) return undefined;
      const gen = (genOf(oldestState) + 1) & GEN_MASK;
      if (Atomics.compareExchange(a, this.entry(oldest) + CLOSE_LEASE.STATE, oldestState, word(gen, P.WRITING)) === oldestState) {
        Atomics.add(a, this.header + CLOSE_LEASE.EVICTIONS, 1);
        return { index: oldest, gen, evicted: oldestView! };
      }
    }
    return undefined;
  }

  private live(s: Snapshot, nowMs: number): boolean {
    const since = phaseOf(s.state) === P.SENT ? s.sentMs : s.claimedMs;
    return nowMs - since < this.ttlMs;
  }

  private entry(index: number): number {
    if ((index | 0) !== index || index < 0 || index >= this.capacity) {
      throw new SharedStateError('SLOT_OUT_OF_RANGE', `close lease index: ${String(index)} is not in [0, ${this.capacity})`);
    }
    return this.base + index * CLOSE_LEASE.WORDS;
  }

  /**
   * Entry `i` read whole, its state word the same before and after (a claim, send or release in between makes it
   * read again). `sameKey` compares with (accountId, contractId, hash); pass '' to skip. Returns this thread's one
   * scratch snapshot: copy what must outlive the next read.
   */
  private read(i: number, accountId: number, contractId: string, hash: number): Snapshot {
    const a = this.a;
    const e = this.entry(i);
    const s = this.snap;
    for (let n = 0; n < MAX_READS; n++) {
      const state = Atomics.load(a, e + CLOSE_LEASE.STATE);
      s.state = state;
      const ph = phaseOf(state);
      if (ph === P.FREE || ph === P.WRITING) {
        s.sameKey = false;
        return s;
      }
      s.owner = Atomics.load(a, e + CLOSE_LEASE.OWNER);
      s.side = Atomics.load(a, e + CLOSE_LEASE.SIDE);
      s.size = Atomics.load(a, e + CLOSE_LEASE.SIZE);
      s.accountId = loadI64(a, e + CLOSE_LEASE.ACCOUNT_ID);
      s.claimedMs = loadI64(a, e + CLOSE_LEASE.CLAIMED_MS);
      s.sentMs = loadI64(a, e + CLOSE_LEASE.SENT_MS);
      s.sameKey = contractId !== '' && s.accountId === accountId && this.sameId(e, contractId, hash);
      if (Atomics.load(a, e + CLOSE_LEASE.STATE) === state) return s;
    }
    throw new SharedStateError('SEQLOCK_LIVELOCK', `close lease ${i}: changed under ${MAX_READS} reads in a row`);
  }

  private sameId(e: number, contractId: string, hash: number): boolean {
    const a = this.a;
    if (Atomics.load(a, e + CLOSE_LEASE.ID_LENGTH) !== contractId.length || Atomics.load(a, e + CLOSE_LEASE.ID_HASH) !== hash) return false;
    for (let w = 0; w < CLOSE_LEASE.ID_BYTES / 4; w++) {
      if (Atomics.load(a, e + CLOSE_LEASE.ID + w) !== idWord(contractId, w)) return false;
    }
    return true;
  }
}

function view(index: number, s: Snapshot): CloseLeaseView {
  return {
    index,
    gen: genOf(s.state),
    phase: phaseOf(s.state) === P.SENT ? 'SENT' : 'CLAIMED',
    accountId: s.accountId,
    side: s.side === Side.BUY ? Side.BUY : Side.SELL,
    size: s.size,
    owner: s.owner,
    claimedMs: s.claimedMs,
    sentMs: s.sentMs,
  };
}

/** Word `w` of the id's stored bytes: characters 4w … 4w+3, low byte first, 0 past the end. */
function idWord(id: string, w: number): number {
  let v = 0;
  for (let b = 0; b < 4; b++) {
    const k = w * 4 + b;
    v |= (k < id.length ? id.charCodeAt(k) & 0xff : 0) << (8 * b);
  }
  return v;
}

/** FNV-1a over every UTF-16 unit of the id: tells apart ids whose first 48 bytes are equal. */
function hashId(id: string): number {
  let h = 0x811c9dc5 | 0;
  for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
  return h;
}

function checkTime(nowMs: number): void {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) throw new SharedStateError('INVALID_ARGUMENT', `nowMs: expected epoch ms (a safe integer ≥ 0), got ${String(nowMs)}`);
}

function checkClaim(accountId: number, contractId: string, side: number, size: number, nowMs: number, owner: number): void {
  if (!Number.isSafeInteger(accountId)) throw new SharedStateError('INVALID_ARGUMENT', `accountId: expected a safe integer, got ${String(accountId)}`);
  if (typeof contractId !== 'string' || contractId.length === 0) throw new SharedStateError('INVALID_ARGUMENT', `contractId: expected a non-empty string, got ${JSON.stringify(contractId)}`);
  if (side !== Side.BUY && side !== Side.SELL) throw new SharedStateError('INVALID_ARGUMENT', `side: expected 0 (buy) or 1 (sell), got ${String(side)}`);
  checkInt32(size, 'size', 0);
  checkTime(nowMs);
  checkInt32(owner, 'owner', 1);
}
