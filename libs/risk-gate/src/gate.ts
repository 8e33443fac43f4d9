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
//   3. isReducing = orderReducesPosition(net, working + pending reducing size, side, size).
//   4. decide() from @gateway/risk (precedence and codes documented there).
//   5. Claims, each one atomic: size (tryReserve: MAX_POSITION), one open order (tryReserveOpenOrder:
//      MAX_OPEN_ORDERS), then the order rate (tryAcquireOrderRate: ORDER_RATE, last because a grant
//      cannot be given back). A failed claim undoes the earlier ones. Before the rate, size and open orders are
//      re-checked on a fresh account record (an order handed over since the snapshot is counted).
// Reducing orders never fail a claim (they get out of risk) but still claim their size on their side
// and an open-order slot, with unbounded limits: the side claim makes the reducing test race-free
// (claim, then re-check with every concurrent claim visible; see checkReducing), and the open-order
// count keeps entries honest. They take no order-rate grant.
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
  /** The order only reduces the position (it passed every limit for that reason). */
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
}

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
 * Pre-trade gate over the shared state. One instance per thread (it owns scratch records and a
 * TradingHours cache); any number of threads run their own instances against the same memory.
 */
export class RiskGate {
  private readonly acc = newAccountRecord();
  private readonly pos = newPositionRecord();
  private readonly hours: TradingHours;
  private readonly clock: () => number;
  private readonly microWeighting: boolean;
  private readonly ledger: ReservationLedger | undefined;
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
    // 3. Reducing: the working orders on the reducing side the risk-manager has seen + those in flight.
    const reducingSide = side === Side.SELL ? pos.workingSell : pos.workingBuy;
    const pendingReduce = reducingSide + s.reservations.pending(accountSlot, contractSlot, side);
    const isReducing = mayReduce && orderReducesPosition(pos.netSize, pendingReduce, side === Side.BUY ? 'BUY' : 'SELL', size);
    if (order.reduceOnly === true && !isReducing) return DENIALS.REDUCE_ONLY;

    // 4. The pure decision on the snapshot. Rate is claimed atomically below (0 = off in shared memory).
    const now = this.clock();
    const h = this.hours.status(now);
    const inp = this.input;
    inp.state = TRADING_STATES[acc.state - 1] ?? 'HALTED';
    inp.reasonCode = STATE_REASONS[acc.reason] ?? 'NONE';
    inp.killSwitch = inp.reasonCode === 'KILL_SWITCH';
    inp.isReducing = isReducing;
    inp.staleMarketData = stale;
    inp.withinTradingHours = h.withinTradingHours;
    inp.entryAllowedByTime = h.entryAllowedByTime;
    inp.openOrders = acc.openOrders + s.reservations.pendingOpenOrders(accountSlot);
    inp.maxOpenOrders = acc.maxOpenOrders;
    inp.positionUnitsAfter = acc.positionUnits + s.reservations.pendingUnits(accountSlot) + size * weight;
    inp.maxPositionUnits = acc.maxPositionUnits;
    const d = decide(inp);
    if (!d.allowed) return d;

    // 5. Atomic claims, recorded in the task's ledger entry as they are made.
    if (hold !== undefined && !this.ledger!.record(hold, accountSlot, contractSlot, side, size, weight, isReducing)) throw new HoldRevokedError();
    if (isReducing) return this.claimReducing(order, weight, hold);
    const r = s.reservations;
    if (!r.tryReserve(accountSlot, contractSlot, side, size, weight, acc.maxPositionUnits, acc.positionUnits)) return DENIALS.MAX_POSITION;
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
    // record: an order released before those reads was published before the record is read.
    const pendingUnits = r.pendingUnits(accountSlot);
    const pendingOpen = r.pendingOpenOrders(accountSlot);
    const fresh = s.accounts.readAccount(accountSlot, this.acc);
    const over = fresh.positionUnits + pendingUnits > fresh.maxPositionUnits ? DENIALS.MAX_POSITION : fresh.openOrders + pendingOpen > fresh.maxOpenOrders ? DENIALS.MAX_OPEN_ORDERS : undefined;
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
   * A reducing order claims its size on its side first (unbounded, so it cannot fail), then re-reads the
   * side's pending total, which now includes every concurrent claim made before it, and then the position
   * record (an order released before the pending read was published before this read): if working + pending
   * still only reduces the net position, no set of concurrently passing reducers can flip it (the last of them
   * to claim saw all the others). Otherwise it gives the claim back and is judged as an entry.
   */
  private claimReducing(order: GateOrder, weight: number, hold: LedgerHold | undefined): GateResult {
    const { accountSlot, contractSlot, side, size } = order;
    const r = this.state.reservations;
    r.tryReserve(accountSlot, contractSlot, side, size, weight, INT32_MAX, 0);
    if (hold !== undefined && !this.ledger!.move(hold, Held.NONE, Held.SIZE)) {
      r.release(accountSlot, contractSlot, side, size, weight);
      throw new HoldRevokedError();
    }
    const pending = r.pending(accountSlot, contractSlot, side);
    const pos = this.state.accounts.readPosition(accountSlot, contractSlot, this.pos);
    const working = side === Side.SELL ? pos.workingSell : pos.workingBuy;
    if (!orderReducesPosition(pos.netSize, working + pending - size, side === Side.BUY ? 'BUY' : 'SELL', size)) {
      this.unhold(hold, Held.SIZE);
      r.release(accountSlot, contractSlot, side, size, weight);
      // Lost the race to other reducers: with theirs, this order would flip the position, so it is an entry.
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
