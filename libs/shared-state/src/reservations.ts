import { SharedStateError, checkInt32, checkSlot } from './errors';
import { RES_ACC, RES_POS, type Layout } from './layout';

/** Order side, as the Gateway numbers it (0 = bid/buy, 1 = ask/sell). */
export const Side = Object.freeze({ BUY: 0, SELL: 1 } as const);
export type SideCode = (typeof Side)[keyof typeof Side];

/** Attempts of a compareExchange loop before giving up; unreachable in practice (a CAS fails only when another wins). */
const MAX_CAS_ATTEMPTS = 1_000_000;

/**
 * Reservations: size and order counts that are in flight or working, so that limits hold while orders are on the wire.
 * Writers: executor threads and the risk-manager, with atomic read-modify-write only (never plain stores), so any
 * thread may call every method here. Readers: any thread.
 *
 * Order of effects in tryReserve: the account's pendingUnits is claimed first (the limit check and the claim are one
 * compareExchange), then the per-contract side counter is bumped. A reader may see the units a moment before the
 * per-side size; never the other way round.
 */
export class Reservations {
  private readonly accBase: number;
  private readonly posBase: number;
  private readonly accounts: number;
  private readonly contracts: number;

  constructor(
    private readonly a: Int32Array,
    layout: Layout,
  ) {
    this.accBase = layout.regions.reservationAccounts.offset;
    this.posBase = layout.regions.reservationPositions.offset;
    this.accounts = layout.options.accounts;
    this.contracts = layout.options.contracts;
  }

  /**
   * Any thread. Reserves `size` contracts on `side` (weighted: size × weight units) if
   * pendingUnits + currentUnits + size × weight ≤ limitUnits. The check and the claim are one compareExchange, so N
   * concurrent callers can never push pendingUnits + currentUnits over limitUnits. Returns false (nothing changed)
   * when the limit would be exceeded.
   */
  tryReserve(
    accountSlot: number,
    contractSlot: number,
    side: SideCode,
    size: number,
    weight: number,
    limitUnits: number,
    currentUnits: number,
  ): boolean {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    checkSlot(contractSlot, this.contracts, 'contractSlot');
    checkSide(side);
    checkInt32(size, 'size', 1);
    checkInt32(weight, 'weight', 1);
    checkInt32(limitUnits, 'limitUnits', 0);
    checkInt32(currentUnits, 'currentUnits', 0);
    const units = size * weight;
    checkInt32(units, 'size × weight', 1);
    const a = this.a;
    const idx = this.accBase + accountSlot * RES_ACC.WORDS + RES_ACC.PENDING_UNITS;
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const p = Atomics.load(a, idx);
      if (p + currentUnits + units > limitUnits) return false;
      if (Atomics.compareExchange(a, idx, p, p + units) === p) {
        Atomics.add(a, this.sideIndex(accountSlot, contractSlot, side), size);
        return true;
      }
    }
    return false;
  }

  /**
   * Any thread. Gives back a reservation made by tryReserve (on fill, cancel, reject or unknown-outcome resolution).
   * Throws RESERVATION_UNDERFLOW — changing nothing — if more is released than is reserved.
   */
  release(accountSlot: number, contractSlot: number, side: SideCode, size: number, weight: number): void {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    checkSlot(contractSlot, this.contracts, 'contractSlot');
    checkSide(side);
    checkInt32(size, 'size', 1);
    checkInt32(weight, 'weight', 1);
    const units = size * weight;
    checkInt32(units, 'size × weight', 1);
    const sideIdx = this.sideIndex(accountSlot, contractSlot, side);
    this.decrement(sideIdx, size, side === Side.BUY ? 'pendingBuy' : 'pendingSell');
    try {
      this.decrement(this.accBase + accountSlot * RES_ACC.WORDS + RES_ACC.PENDING_UNITS, units, 'pendingUnits');
    } catch (e) {
      Atomics.add(this.a, sideIdx, size);
      throw e;
    }
  }

  /**
   * Any thread. Reserves one open-order slot if pendingOpenOrders + currentOpen + 1 ≤ maxOpenOrders (one
   * compareExchange, same guarantee as tryReserve). `currentOpen` is the broker-side count the caller already sees.
   */
  tryReserveOpenOrder(accountSlot: number, maxOpenOrders: number, currentOpen = 0): boolean {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    checkInt32(maxOpenOrders, 'maxOpenOrders', 0);
    checkInt32(currentOpen, 'currentOpen', 0);
    const a = this.a;
    const idx = this.accBase + accountSlot * RES_ACC.WORDS + RES_ACC.OPEN_ORDERS;
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const p = Atomics.load(a, idx);
      if (p + currentOpen + 1 > maxOpenOrders) return false;
      if (Atomics.compareExchange(a, idx, p, p + 1) === p) return true;
    }
    return false;
  }

  /** Any thread. Gives back one open-order reservation; RESERVATION_UNDERFLOW if none is held. */
  releaseOpenOrder(accountSlot: number): void {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    this.decrement(this.accBase + accountSlot * RES_ACC.WORDS + RES_ACC.OPEN_ORDERS, 1, 'openOrders');
  }

  /**
   * Main thread or risk-manager, only while no executor can touch the account (pool drained after an executor crash,
   * or at the trading-day reset): zeroes every reservation of the account so it can be rebuilt from the order book.
   */
  clearAccount(accountSlot: number): void {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    const a = this.a;
    const acc = this.accBase + accountSlot * RES_ACC.WORDS;
    Atomics.store(a, acc + RES_ACC.PENDING_UNITS, 0);
    Atomics.store(a, acc + RES_ACC.OPEN_ORDERS, 0);
    const pos = this.posBase + accountSlot * this.contracts * RES_POS.WORDS;
    for (let k = 0; k < this.contracts * RES_POS.WORDS; k++) Atomics.store(a, pos + k, 0);
  }

  /** Any thread. Weighted units reserved on the account. */
  pendingUnits(accountSlot: number): number {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    return Atomics.load(this.a, this.accBase + accountSlot * RES_ACC.WORDS + RES_ACC.PENDING_UNITS);
  }

  /** Any thread. Open-order slots reserved on the account. */
  pendingOpenOrders(accountSlot: number): number {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    return Atomics.load(this.a, this.accBase + accountSlot * RES_ACC.WORDS + RES_ACC.OPEN_ORDERS);
  }

  /** Any thread. Contracts reserved on one side of one (account, contract). */
  pending(accountSlot: number, contractSlot: number, side: SideCode): number {
    checkSlot(accountSlot, this.accounts, 'accountSlot');
    checkSlot(contractSlot, this.contracts, 'contractSlot');
    checkSide(side);
    return Atomics.load(this.a, this.sideIndex(accountSlot, contractSlot, side));
  }

  private sideIndex(accountSlot: number, contractSlot: number, side: SideCode): number {
    return (
      this.posBase +
      (accountSlot * this.contracts + contractSlot) * RES_POS.WORDS +
      (side === Side.BUY ? RES_POS.PENDING_BUY : RES_POS.PENDING_SELL)
    );
  }

  private decrement(idx: number, by: number, field: string): void {
    const a = this.a;
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const p = Atomics.load(a, idx);
      if (p < by) {
        throw new SharedStateError('RESERVATION_UNDERFLOW', `${field}: releasing ${by} but only ${p} is reserved`);
      }
      if (Atomics.compareExchange(a, idx, p, p - by) === p) return;
    }
    throw new SharedStateError('SEQLOCK_LIVELOCK', `${field}: compareExchange lost ${MAX_CAS_ATTEMPTS} times in a row`);
  }
}

function checkSide(side: number): void {
  if (side !== Side.BUY && side !== Side.SELL) {
    throw new SharedStateError('INVALID_ARGUMENT', `side: expected 0 (buy) or 1 (sell), got ${String(side)}`);
  }
}
