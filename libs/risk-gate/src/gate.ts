// The pre-trade risk gate over shared memory (ADR 0003). Runs synchronously on the calling thread (an
// order-executor thread or the main thread), never waits for the risk-manager, and claims size with
// one compareExchange so N threads can never pass a limit together.
//
// API (every thread builds its own instance; an instance is single-threaded, the memory it reads is shared):
//   new RiskGate(state: SharedState, options?: RiskGateOptions)
//   gate.check(order: GateOrder, hold?: LedgerHold): GateResult
//       GateResult = { allowed: true; reservation: Reservation } | { allowed: false; reason: ReasonCode; detail: string }
//       hold: the task's entry in the reservation ledger (executor threads; options.ledger), where each claim is
//       recorded as it is made, so the main thread can take it over if the thread dies before handing it over.
//   gate.release(reservation: Reservation): void      — exactly once per allowed order (ADR 0003 "Releasing")
//   gate.denialCount(reason: ReasonCode): number       — denials of this instance, for risk_denials_total{reason}
//
// check(), in ADR order:
//   1. accounts.isReady(slot) false, or the record still NOT_READY  → RISK_NOT_READY (fail closed).
//   2. Read the account record, the contract's position record (seqlocks) and the stale flag.
//   3. increase = worstCaseIncrease (what the order adds to its contract's worst case, working + in flight);
//      isExit = on the opposite side of net, size + in-flight same-side size ≤ |net|, and increase 0: a market exit
//      passes as one even while the position's protective stop is working (with the stop it could leave the
//      position short, but no more than the long already counted). reduceOnly, and any order on a HALTED account,
//      ask more: working + in-flight same-side size + size ≤ |net| (the order can never take the position through
//      zero; a halted account is being flattened by the risk-manager and must not end up holding the other way).
//   4. The clock (read once): an entry on an account record older than maxRecordAgeMs (the risk-manager stopped
//      publishing: its queue is blocked or the thread is wedged, so no loss limit is being evaluated) → RISK_NOT_READY.
//      Exits still pass: getting out stays possible.
//   5. decide() from @gateway/risk (precedence and codes documented there; an exit passes as isReducing: state,
//      trading hours and every limit). The MAX_POSITION input is the published worst case + in-flight units + the
//      order's increase.
//   6. Claims, each one atomic: size (tryReserve: MAX_POSITION), one open order (tryReserveOpenOrder:
//      MAX_OPEN_ORDERS), then the order rate (tryAcquireOrderRate: ORDER_RATE, last because a grant
//      cannot be given back). A failed claim undoes the earlier ones. Before the rate, size and open orders are
//      re-checked on fresh records (an order handed over since the snapshot is counted).
// Exits never fail a claim (they get out of risk) but still claim their size on their side and an open-order
// slot, with unbounded limits: the side claim makes the exit test race-free (claim, then re-check with every
// concurrent claim visible; see claimExit), and the open-order count keeps entries honest. They take no
// order-rate grant.
// With a hold, every size / open-order claim is moved into the ledger entry by the next statement (nothing that can
// throw or allocate in between) and moved out before it is given back: the ledger never shows more than is held.
import { DENIALS, REASON_CODES, decide, orderReducesPosition, COMBINE_50K, TradingHours, STATE_REASONS, TRADING_STATES, type GateInput, type ReasonCode, type RiskLimits } from '@gateway/risk';
import {
  newAccountRecord,
  newPositionRecord,
  AccountState,
  Held,
  Side,
  type HeldBits,
  type LedgerHold,
  type ReservationLedger,
  type SharedState,
  type SideCode,
} from '@gateway/shared-state';

/** One order as the gate sees it. Slots are the shared-memory directory slots. */
export interface GateOrder {
  accountSlot: number;
  contractSlot: number;
  /** 0 = buy (bid), 1 = sell (ask), as the Gateway numbers sides. */
  side: SideCode;
  /** Contracts, a positive int32. */
  size: number;
  /** The caller only wants to reduce: an order that would not reduce the position is denied REDUCE_ONLY. */
  reduceOnly?: boolean;
}

/**
 * What an allowed order holds in shared memory until the main thread releases it (ADR 0003): `size` on
 * `side` of (account, contract), `size × weight` units of the account's pendingUnits, one open order.
 * Plain data: it travels with the order between threads (structured clone).
 */
export interface Reservation {
  readonly accountSlot: number;
  readonly contractSlot: number;
  readonly side: SideCode;
  readonly size: number;
  readonly weight: number;
  /**
   * The order passed as an exit (every limit skipped): opposite side of the net position, with the other in-flight
   * exits within |net|, adding nothing to its contract's worst case (it may still, with a working stop, leave the
   * position the other way, within that worst case).
   */
  readonly reducing: boolean;
  /**
   * false: only the size is held, no open-order slot — a claim taken over from the ledger of an executor task lost
   * between its two claims (its order never left the gate). Absent or true: both are held.
   */
  readonly openOrder?: boolean;
}

export interface GateAllowedResult {
  readonly allowed: true;
  readonly reservation: Reservation;
}
export interface GateDeniedResult {
  readonly allowed: false;
  readonly reason: ReasonCode;
  readonly detail: string;
}
export type GateResult = GateAllowedResult | GateDeniedResult;

export interface RiskGateOptions {
  /** Epoch ms. Default Date.now is not available here (pure lib): pass the thread's clock. */
  clock: () => number;
  /**
   * Trading-hours inputs (noNewPositionsFromMinuteCt, flattenMinutesBeforeClose); the account's numeric
   * limits come from its published record. Default COMBINE_50K (15:10 CT).
   */
  hours?: RiskLimits;
  /**
   * 10 micros count as 1 mini (the contract directory's weight: 1 for a micro, 10 for a mini). false counts
   * every contract as 10 units, for account types that count micros as full lots. Must match the
   * risk-manager's RISK_MICROS_AS_TENTHS. Default true.
   */
  microWeighting?: boolean;
  /** This thread's view of the executor pool's reservation ledger: required to check() with a hold. */
  ledger?: ReservationLedger;
  /**
   * An entry is denied RISK_NOT_READY when the account record's `updatedMs` is further than this from the gate's
   * clock, either way (a record from the future means the clocks disagree: its age is unknown). The risk-manager
   * republishes every account each RISK_EVAL_INTERVAL_MS (100 ms) even when nothing changes, so a healthy record
   * is never older than one interval plus the queue's wait; keep this many intervals and above a normal REST call
   * in the queue. Positive integer, default DEFAULT_MAX_RECORD_AGE_MS.
   */
  maxRecordAgeMs?: number;
}

/** Default bound on the account record's age for an entry: 50 evaluation intervals of 100 ms. */
export const DEFAULT_MAX_RECORD_AGE_MS = 5_000;

/**
 * The main thread took the task's ledger entry back while the gate was claiming (it had already given the task up):
 * whatever the gate claimed and had not recorded is given back, and the task has no answer to give.
 */
export class HoldRevokedError extends Error {
  readonly code = 'HOLD_REVOKED';
  constructor() {
    super('the reservation ledger entry of this task was reclaimed by the main thread: the task is abandoned');
    this.name = 'HoldRevokedError';
  }
}

/** A malformed order handed to the gate (the executor validates first; this is a programming error). */
export class RiskGateError extends RangeError {
  readonly code = 'INVALID_ARGUMENT';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'RiskGateError';
  }
}

const INT32_MAX = 2 ** 31 - 1;
const MINI_UNITS = 10;

/**
 * Contracts by which an order of `size` on `side` raises its contract's worst case, max(|net + buys|, |net − sells|)
 * — the position if every working and in-flight order on one side fills (how positionUnits counts each contract).
 * 0 ≤ result ≤ size: 0 for an exit that the opposite side's worst case already covers (long 3 with a sell stop 3
 * working: a market sell 3 can leave short 3 at worst, no more than the long 3 counted), size for a plain entry.
 */
function worstCaseIncrease(net: number, buys: number, sells: number, side: SideCode, size: number): number {
  const up = Math.abs(net + buys);
  const down = Math.abs(net - sells);
  const before = up > down ? up : down;
  const after = side === Side.BUY ? Math.abs(net + buys + size) : Math.abs(net - sells - size);
  return after > before ? after - before : 0;
}

/**
 * Pre-trade gate over the shared state. One instance per thread (it owns scratch records and a
 * TradingHours cache); any number of threads run their own instances against the same memory.
 */
export class RiskGate {
  private readonly acc = newAccountRecord();
  private readonly pos = newPositionRecord();
  /** Second read of the position record in the re-check: tells a record consistent with the account record. */
  private readonly pos2 = newPositionRecord();
  private readonly hours: TradingHours;
  private readonly clock: () => number;
  private readonly microWeighting: boolean;
  private readonly ledger: ReservationLedger | undefined;
  private readonly maxRecordAgeMs: number;
  /** The RISK_NOT_READY denial of an entry on a stale account record (built once: the hot path allocates nothing). */
  private readonly staleDenial: GateDeniedResult;
  private readonly denials = new Float64Array(REASON_CODES.length);
  /** Reused decide() input: the hot path allocates only the reservation of an allowed order. */
  private readonly input: GateInput = {
    ready: true,
    state: 'ACTIVE',
    reasonCode: 'NONE',
    killSwitch: false,
    isReducing: false,
    staleMarketData: false,
    withinTradingHours: true,
    entryAllowedByTime: true,
    openOrders: 0,
    maxOpenOrders: 0,
    positionUnitsAfter: 0,
    maxPositionUnits: 0,
    ordersLastMinute: 0,
    maxOrdersPerMinute: 1,
  };

  constructor(
    private readonly state: SharedState,
    options: RiskGateOptions,
  ) {
    if (typeof options?.clock !== 'function') throw new RiskGateError('clock', 'must be a function returning epoch ms');
    this.clock = options.clock;
    this.hours = new TradingHours(options.hours ?? COMBINE_50K);
    this.microWeighting = options.microWeighting ?? true;
    this.ledger = options.ledger;
    const maxAge = options.maxRecordAgeMs ?? DEFAULT_MAX_RECORD_AGE_MS;
    if (!Number.isSafeInteger(maxAge) || maxAge < 1) throw new RiskGateError('maxRecordAgeMs', `must be a positive integer (ms), got ${String(maxAge)}`);
    this.maxRecordAgeMs = maxAge;
    this.staleDenial = Object.freeze({
      allowed: false,
      reason: 'RISK_NOT_READY',
      detail: `risk state is stale: the account record was not republished within ${maxAge} ms (risk-manager stalled); only exits are accepted`,
    });
  }

  /**
   * The gate decision for one order; an allowed order holds a reservation until release(). With a `hold` (executor
   * threads), the claims are also recorded in the task's ledger entry; HoldRevokedError if the main thread reclaimed
   * that entry meanwhile (claims given back, no answer).
   */
  check(order: GateOrder, hold?: LedgerHold): GateResult {
    if (hold !== undefined && this.ledger === undefined) throw new RiskGateError('hold', 'a ledger hold needs options.ledger');
    const r = this.evaluate(order, true, hold);
    if (!r.allowed) this.denials[REASON_CODES.indexOf(r.reason)]!++;
    return r;
  }

  /** Denials this instance has returned for `reason` (the thread exports them as risk_denials_total{reason}). */
  denialCount(reason: ReasonCode): number {
    return this.denials[REASON_CODES.indexOf(reason)] ?? 0;
  }

  /** Gives back what an allowed order holds. The main thread calls it exactly once per allowed order. */
  release(reservation: Reservation): void {
    const r = this.state.reservations;
    r.release(reservation.accountSlot, reservation.contractSlot, reservation.side, reservation.size, reservation.weight);
    if (reservation.openOrder !== false) r.releaseOpenOrder(reservation.accountSlot);
  }

  /** `mayReduce` false: judge the order as an entry (after it lost the reducing race). */
  private evaluate(order: GateOrder, mayReduce: boolean, hold: LedgerHold | undefined): GateResult {
    const { accountSlot, contractSlot, side, size } = order;
    if (side !== Side.BUY && side !== Side.SELL) throw new RiskGateError('side', `expected 0 (buy) or 1 (sell), got ${String(side)}`);
    if (!Number.isInteger(size) || size < 1 || size > INT32_MAX) throw new RiskGateError('size', `must be a positive integer, got ${String(size)}`);
    const s = this.state;
    if (!Number.isInteger(accountSlot) || accountSlot < 0 || accountSlot >= s.accounts.count()) return DENIALS.RISK_NOT_READY;
    // 1. Fail closed until the risk-manager has published a reconciled day.
    if (!s.accounts.isReady(accountSlot)) return DENIALS.RISK_NOT_READY;
    // 2. Snapshot (each record is one consistent seqlock read).
    const acc = s.accounts.readAccount(accountSlot, this.acc);
    if (acc.state === AccountState.NOT_READY) return DENIALS.RISK_NOT_READY;
    const pos = s.accounts.readPosition(accountSlot, contractSlot, this.pos);
    const stale = s.marks.isStale(contractSlot);
    const weight = this.microWeighting ? s.directory.weight(contractSlot) : MINI_UNITS;
    // 3. Exit or entry: the working orders the risk-manager has seen + those in flight, per side.
    const pendingSame = s.reservations.pending(accountSlot, contractSlot, side);
    const pendingOther = s.reservations.pending(accountSlot, contractSlot, side === Side.BUY ? Side.SELL : Side.BUY);
    const buys = pos.workingBuy + (side === Side.BUY ? pendingSame : pendingOther);
    const sells = pos.workingSell + (side === Side.SELL ? pendingSame : pendingOther);
    const increase = worstCaseIncrease(pos.netSize, buys, sells, side, size);
    const covered = mayReduce && increase === 0 && orderReducesPosition(pos.netSize, pendingSame, side === Side.BUY ? 'BUY' : 'SELL', size);
    // Strict: the working orders of its side included, the order can only bring the position toward flat.
    const strict = covered && orderReducesPosition(pos.netSize, side === Side.SELL ? sells : buys, side === Side.BUY ? 'BUY' : 'SELL', size);
    if (order.reduceOnly === true && !strict) return DENIALS.REDUCE_ONLY;
    // A HALTED account (a limit broken, the risk-manager flattening it) takes only strict exits: a covered exit with a
    // stop working could, if both fill, leave it holding the other way. REDUCING and a stale record take covered
    // exits: a trader near a limit can get out with a market order without first cancelling the stop.
    const isExit = acc.state === AccountState.HALTED ? strict : covered;

    // 4. An entry needs a record the risk-manager published recently (it republishes every interval): a stalled
    // risk-manager evaluates no loss limit, so the record's state cannot be trusted for new exposure.
    const now = this.clock();
    if (!isExit && (now - acc.updatedMs > this.maxRecordAgeMs || acc.updatedMs - now > this.maxRecordAgeMs)) return this.staleDenial;

    // 5. The pure decision on the snapshot. Rate is claimed atomically below (0 = off in shared memory).
    const h = this.hours.status(now);
    const inp = this.input;
    inp.state = TRADING_STATES[acc.state - 1] ?? 'HALTED';
    inp.reasonCode = STATE_REASONS[acc.reason] ?? 'NONE';
    inp.killSwitch = inp.reasonCode === 'KILL_SWITCH';
    inp.isReducing = isExit;
    inp.staleMarketData = stale;
    inp.withinTradingHours = h.withinTradingHours;
    inp.entryAllowedByTime = h.entryAllowedByTime;
    inp.openOrders = acc.openOrders + s.reservations.pendingOpenOrders(accountSlot);
    inp.maxOpenOrders = acc.maxOpenOrders;
    inp.positionUnitsAfter = acc.positionUnits + s.reservations.pendingUnits(accountSlot) + increase * weight;
    inp.maxPositionUnits = acc.maxPositionUnits;
    const d = decide(inp);
    if (!d.allowed) return d;

    // 6. Atomic claims, recorded in the task's ledger entry as they are made.
    if (hold !== undefined && !this.ledger!.record(hold, accountSlot, contractSlot, side, size, weight, isExit)) throw new HoldRevokedError();
    if (isExit) return this.claimExit(order, weight, hold, acc.state === AccountState.HALTED);
    // No claim can hold more units than an int32 (the order's full size counts in pendingUnits, see below).
    if (size * weight > INT32_MAX) return DENIALS.MAX_POSITION;
    const r = s.reservations;
    // The claim holds the order's full size × weight in pendingUnits (what release gives back; conservative for the
    // orders judged while it is in flight), but passes only if the published worst case + in-flight units + this
    // order's increase fit: the limit is raised by the part of the order its contract's worst case already covers.
    const credit = (size - increase) * weight;
    const limit = acc.maxPositionUnits + credit > INT32_MAX ? INT32_MAX : acc.maxPositionUnits + credit;
    if (!r.tryReserve(accountSlot, contractSlot, side, size, weight, limit, acc.positionUnits)) return DENIALS.MAX_POSITION;
    if (hold !== undefined && !this.ledger!.move(hold, Held.NONE, Held.SIZE)) {
      r.release(accountSlot, contractSlot, side, size, weight);
      throw new HoldRevokedError();
    }
    if (!r.tryReserveOpenOrder(accountSlot, acc.maxOpenOrders, acc.openOrders)) {
      this.unhold(hold, Held.SIZE);
      r.release(accountSlot, contractSlot, side, size, weight);
      return DENIALS.MAX_OPEN_ORDERS;
    }
    if (hold !== undefined && !this.ledger!.move(hold, Held.SIZE, Held.ALL)) {
      r.releaseOpenOrder(accountSlot);
      throw new HoldRevokedError();
    }
    // Re-check on fresh numbers: an order handed over since the snapshot (published by the risk-manager, then
    // released by the main thread) is in neither the snapshot nor pendingUnits. In-flight totals first, then the
    // records: an order released before those reads was published before the records are read. This re-check is
    // what holds the limit across threads: the last of any set of passing orders to read sees every other one
    // (claimed before its reads: in flight, or published).
    const pendingUnits = r.pendingUnits(accountSlot);
    const pendingOpen = r.pendingOpenOrders(accountSlot);
    let overPosition: boolean;
    if (increase === size) {
      s.accounts.readAccount(accountSlot, acc);
      overPosition = acc.positionUnits + pendingUnits > acc.maxPositionUnits;
    } else overPosition = this.exitOverLimit(order, weight, pendingUnits);
    // acc (this thread's scratch record) now holds the fresh account record.
    const over = overPosition ? DENIALS.MAX_POSITION : acc.openOrders + pendingOpen > acc.maxOpenOrders ? DENIALS.MAX_OPEN_ORDERS : undefined;
    if (over !== undefined) {
      this.unhold(hold, Held.ALL);
      r.releaseOpenOrder(accountSlot);
      r.release(accountSlot, contractSlot, side, size, weight);
      return over;
    }
    if (acc.maxOrdersPerMinute > 0 && s.rate.tryAcquireOrderRate(accountSlot, now, acc.maxOrdersPerMinute) !== 0) {
      this.unhold(hold, Held.ALL);
      r.releaseOpenOrder(accountSlot);
      r.release(accountSlot, contractSlot, side, size, weight);
      return DENIALS.ORDER_RATE;
    }
    return { allowed: true, reservation: { accountSlot, contractSlot, side, size, weight, reducing: false } };
  }

  /**
   * The MAX_POSITION re-check of an entry its contract's worst case partly covers (an exit with a stop working),
   * after its claim and the in-flight units read (`pendingUnits`, which holds this order's full units). Reads the
   * contract's in-flight sides, then the position record, the account record and the position record again: the
   * increase is computed on a position record consistent with the account record's positionUnits (a fill published
   * in between — the stop filled — would otherwise pair the old position's cover with the new, smaller total). If
   * the two position reads differ, the order counts its full size, as a plain entry. Reads the account record
   * into this.acc.
   */
  private exitOverLimit(order: GateOrder, weight: number, pendingUnits: number): boolean {
    const { accountSlot, contractSlot, side, size } = order;
    const s = this.state;
    const pendingBuy = s.reservations.pending(accountSlot, contractSlot, Side.BUY);
    const pendingSell = s.reservations.pending(accountSlot, contractSlot, Side.SELL);
    const p = s.accounts.readPosition(accountSlot, contractSlot, this.pos);
    const a = s.accounts.readAccount(accountSlot, this.acc);
    const q = s.accounts.readPosition(accountSlot, contractSlot, this.pos2);
    let increase = size;
    if (p.netSize === q.netSize && p.workingBuy === q.workingBuy && p.workingSell === q.workingSell && p.updatedMs === q.updatedMs) {
      // This order's own claim is in its side's pending count and in pendingUnits: both exclude it here.
      const buys = p.workingBuy + pendingBuy - (side === Side.BUY ? size : 0);
      const sells = p.workingSell + pendingSell - (side === Side.SELL ? size : 0);
      increase = worstCaseIncrease(p.netSize, buys, sells, side, size);
    }
    return a.positionUnits + pendingUnits - size * weight + increase * weight > a.maxPositionUnits;
  }

  /**
   * An exit claims its size on its side first (unbounded, so it cannot fail), then re-reads both sides' pending
   * totals, which now include every concurrent claim made before it, and then the position record (an order
   * released before the pending reads was published before this read): if the order is still an exit with them
   * (in-flight same-side size within |net|, increase 0; for reduceOnly or a HALTED account (`strict`), working + in
   * flight within |net|), then of
   * any set of concurrently passing exits the last to claim saw all the others: together they stay within |net|
   * in flight and add nothing to the contract's worst case. Otherwise it gives the claim back and is judged as an
   * entry.
   */
  private claimExit(order: GateOrder, weight: number, hold: LedgerHold | undefined, strict: boolean): GateResult {
    const { accountSlot, contractSlot, side, size } = order;
    const r = this.state.reservations;
    r.tryReserve(accountSlot, contractSlot, side, size, weight, INT32_MAX, 0);
    if (hold !== undefined && !this.ledger!.move(hold, Held.NONE, Held.SIZE)) {
      r.release(accountSlot, contractSlot, side, size, weight);
      throw new HoldRevokedError();
    }
    // This order's own claim is in its side's pending count: excluded below.
    const pendingSame = r.pending(accountSlot, contractSlot, side) - size;
    const pendingOther = r.pending(accountSlot, contractSlot, side === Side.BUY ? Side.SELL : Side.BUY);
    const pos = this.state.accounts.readPosition(accountSlot, contractSlot, this.pos);
    const buys = pos.workingBuy + (side === Side.BUY ? pendingSame : pendingOther);
    const sells = pos.workingSell + (side === Side.SELL ? pendingSame : pendingOther);
    const gside = side === Side.BUY ? 'BUY' : 'SELL';
    const still =
      orderReducesPosition(pos.netSize, pendingSame, gside, size) &&
      worstCaseIncrease(pos.netSize, buys, sells, side, size) === 0 &&
      ((order.reduceOnly !== true && !strict) || orderReducesPosition(pos.netSize, side === Side.SELL ? sells : buys, gside, size));
    if (!still) {
      this.unhold(hold, Held.SIZE);
      r.release(accountSlot, contractSlot, side, size, weight);
      // Lost the race to other exits: with theirs, this order would add to the worst case or take the in-flight
      // exits past |net|, so it is an entry.
      return order.reduceOnly === true ? DENIALS.REDUCE_ONLY : this.evaluate(order, false, hold);
    }
    r.tryReserveOpenOrder(accountSlot, INT32_MAX, 0);
    if (hold !== undefined && !this.ledger!.move(hold, Held.SIZE, Held.ALL)) {
      r.releaseOpenOrder(accountSlot);
      throw new HoldRevokedError();
    }
    return { allowed: true, reservation: { accountSlot, contractSlot, side, size, weight, reducing: true } };
  }

  /**
   * Before the gate gives back claims it recorded: takes them out of the ledger entry first (a thread that dies in
   * between leaks them, fail closed, rather than have them released twice). HoldRevokedError when the main thread
   * reclaimed the entry meanwhile: it released them already, so the caller must not.
   */
  private unhold(hold: LedgerHold | undefined, from: HeldBits): void {
    if (hold !== undefined && !this.ledger!.move(hold, from, Held.NONE)) throw new HoldRevokedError();
  }
}
