import { SharedStateError, checkInt32, checkSlot } from './errors';
import { assertSafeInt } from './fixed';
import { loadI64, loadI64Plain, storeI64 } from './int64';
import { ACC, HEADER, POS, type Layout } from './layout';
import { SeqlockReader, seqWriteBegin, seqWriteEnd } from './seqlock';

/** Trading state of an account, as the risk-manager decides it. */
export const AccountState = Object.freeze({ NOT_READY: 0, ACTIVE: 1, REDUCING: 2, HALTED: 3 } as const);
export type AccountStateCode = (typeof AccountState)[keyof typeof AccountState];

/**
 * One account's risk record. Money fields in money units (1e-4 USD), times epoch ms.
 * `reason` is the risk lib's numeric reason code for the current state (0 = none).
 */
export interface AccountRecord {
  accountId: number;
  state: number;
  reason: number;
  /** CME trading day as yyyymmdd, e.g. 20251124. */
  tradingDayId: number;
  balance: number;
  startOfDayBalance: number;
  realizedGross: number;
  fees: number;
  unrealized: number;
  dayNetPnl: number;
  /** Daily loss limit, positive, 0 = off. */
  dllLimit: number;
  /** Maximum loss limit: the balance floor. */
  mllFloor: number;
  /** Money that can still be lost before the nearest limit. */
  headroom: number;
  /** Weighted absolute position (sum of |netSize| × weight). */
  positionUnits: number;
  maxPositionUnits: number;
  maxOpenOrders: number;
  maxOrdersPerMinute: number;
  /** Working orders at the broker, as the risk-manager counts them. */
  openOrders: number;
  updatedMs: number;
}

/** One (account, contract) position. avgPrice in price units; money in money units; times epoch ms. */
export interface PositionRecord {
  /** Signed contracts: > 0 long, < 0 short. */
  netSize: number;
  avgPrice: number;
  realizedGross: number;
  fees: number;
  unrealized: number;
  /** Money at risk if every working stop fills. */
  workingStopLoss: number;
  updatedMs: number;
  /** Remaining (unfilled) size of the working buy orders the risk-manager has seen on this contract. */
  workingBuy: number;
  /** Remaining (unfilled) size of the working sell orders the risk-manager has seen on this contract. */
  workingSell: number;
}

export function newAccountRecord(): AccountRecord {
  return {
    accountId: 0,
    state: 0,
    reason: 0,
    tradingDayId: 0,
    balance: 0,
    startOfDayBalance: 0,
    realizedGross: 0,
    fees: 0,
    unrealized: 0,
    dayNetPnl: 0,
    dllLimit: 0,
    mllFloor: 0,
    headroom: 0,
    positionUnits: 0,
    maxPositionUnits: 0,
    maxOpenOrders: 0,
    maxOrdersPerMinute: 0,
    openOrders: 0,
    updatedMs: 0,
  };
}

export function newPositionRecord(): PositionRecord {
  return { netSize: 0, avgPrice: 0, realizedGross: 0, fees: 0, unrealized: 0, workingStopLoss: 0, updatedMs: 0, workingBuy: 0, workingSell: 0 };
}

/**
 * Accounts + positions region.
 * - registerAccount: main thread only (account directory, published by count).
 * - writeAccount, writePosition, setReady: the risk-manager thread only (one writer per record).
 * - read*, slotOf, isReady: any thread; reads are allocation-free into caller-owned objects.
 */
export class Accounts {
  private readonly dirBase: number;
  private readonly readyBase: number;
  private readonly accBase: number;
  private readonly posBase: number;
  private readonly capacity: number;
  private readonly contracts: number;
  private readonly cache = new Map<number, number>();
  private cached = 0;

  constructor(
    private readonly a: Int32Array,
    layout: Layout,
    private readonly reader: SeqlockReader,
  ) {
    this.dirBase = layout.regions.accountDirectory.offset;
    this.readyBase = layout.regions.accountReady.offset;
    this.accBase = layout.regions.accounts.offset;
    this.posBase = layout.regions.positions.offset;
    this.capacity = layout.options.accounts;
    this.contracts = layout.options.contracts;
  }

  /** Number of registered accounts. Any thread. */
  count(): number {
    return Atomics.load(this.a, HEADER.ACCOUNT_COUNT);
  }

  /** Main thread only. Slot of `accountId`, assigning the next free slot on first sight (idempotent). */
  registerAccount(accountId: number): number {
    assertSafeInt(accountId, 'accountId');
    if (accountId <= 0) throw new SharedStateError('INVALID_ARGUMENT', `accountId: must be > 0, got ${accountId}`);
    const existing = this.slotOf(accountId);
    if (existing >= 0) return existing;
    const slot = this.count();
    if (slot >= this.capacity) {
      throw new SharedStateError('DIRECTORY_FULL', `accountId: no free slot for ${accountId} (capacity ${this.capacity})`);
    }
    storeI64(this.a, this.dirBase + slot * 2, accountId);
    // Publish point: the id is in place before any thread can see count > slot.
    Atomics.store(this.a, HEADER.ACCOUNT_COUNT, slot + 1);
    return slot;
  }

  /** Slot of `accountId`, -1 if unknown. Any thread; a Map lookup unless new accounts were published. */
  slotOf(accountId: number): number {
    const hit = this.cache.get(accountId);
    if (hit !== undefined) return hit;
    const n = this.count();
    if (n === this.cached) return -1;
    for (let s = this.cached; s < n; s++) this.cache.set(loadI64(this.a, this.dirBase + s * 2), s);
    this.cached = n;
    return this.cache.get(accountId) ?? -1;
  }

  /** Account id registered at `slot`. Any thread. */
  accountIdOf(slot: number): number {
    checkSlot(slot, this.count(), 'accountSlot');
    return loadI64(this.a, this.dirBase + slot * 2);
  }

  /** risk-manager only. The executor fails closed while an account is not ready. */
  setReady(slot: number, ready: boolean): void {
    checkSlot(slot, this.capacity, 'accountSlot');
    Atomics.store(this.a, this.readyBase + slot, ready ? 1 : 0);
  }

  /** Any thread. */
  isReady(slot: number): boolean {
    checkSlot(slot, this.capacity, 'accountSlot');
    return Atomics.load(this.a, this.readyBase + slot) !== 0;
  }

  /** risk-manager only. Validates every field (naming it) before the seqlock opens, then publishes the record. */
  writeAccount(slot: number, rec: AccountRecord): void {
    checkSlot(slot, this.count(), 'accountSlot');
    const id = loadI64(this.a, this.dirBase + slot * 2);
    if (rec.accountId !== id) {
      throw new SharedStateError('INVALID_ARGUMENT', `accountId: slot ${slot} belongs to account ${id}, got ${String(rec.accountId)}`);
    }
    checkInt32(rec.state, 'state', 0, 3);
    checkInt32(rec.reason, 'reason');
    checkInt32(rec.tradingDayId, 'tradingDayId', 0, 99_991_231);
    checkInt32(rec.positionUnits, 'positionUnits', 0);
    checkInt32(rec.maxPositionUnits, 'maxPositionUnits', 0);
    checkInt32(rec.maxOpenOrders, 'maxOpenOrders', 0);
    checkInt32(rec.maxOrdersPerMinute, 'maxOrdersPerMinute', 0);
    checkInt32(rec.openOrders, 'openOrders', 0);
    assertSafeInt(rec.balance, 'balance');
    assertSafeInt(rec.startOfDayBalance, 'startOfDayBalance');
    assertSafeInt(rec.realizedGross, 'realizedGross');
    assertSafeInt(rec.fees, 'fees');
    assertSafeInt(rec.unrealized, 'unrealized');
    assertSafeInt(rec.dayNetPnl, 'dayNetPnl');
    assertSafeInt(rec.dllLimit, 'dllLimit');
    if (rec.dllLimit < 0) throw new SharedStateError('INVALID_ARGUMENT', `dllLimit: must be >= 0 (0 = off), got ${rec.dllLimit}`);
    assertSafeInt(rec.mllFloor, 'mllFloor');
    assertSafeInt(rec.headroom, 'headroom');
    assertSafeInt(rec.updatedMs, 'updatedMs');
    const a = this.a;
    const r = this.accBase + slot * ACC.WORDS;
    const w = seqWriteBegin(a, r + ACC.SEQ);
    Atomics.store(a, r + ACC.STATE, rec.state);
    Atomics.store(a, r + ACC.REASON, rec.reason);
    Atomics.store(a, r + ACC.TRADING_DAY_ID, rec.tradingDayId);
    Atomics.store(a, r + ACC.POSITION_UNITS, rec.positionUnits);
    Atomics.store(a, r + ACC.MAX_POSITION_UNITS, rec.maxPositionUnits);
    Atomics.store(a, r + ACC.MAX_OPEN_ORDERS, rec.maxOpenOrders);
    Atomics.store(a, r + ACC.MAX_ORDERS_PER_MINUTE, rec.maxOrdersPerMinute);
    Atomics.store(a, r + ACC.OPEN_ORDERS, rec.openOrders);
    storeI64(a, r + ACC.ACCOUNT_ID, rec.accountId);
    storeI64(a, r + ACC.BALANCE, rec.balance);
    storeI64(a, r + ACC.START_OF_DAY_BALANCE, rec.startOfDayBalance);
    storeI64(a, r + ACC.REALIZED_GROSS, rec.realizedGross);
    storeI64(a, r + ACC.FEES, rec.fees);
    storeI64(a, r + ACC.UNREALIZED, rec.unrealized);
    storeI64(a, r + ACC.DAY_NET_PNL, rec.dayNetPnl);
    storeI64(a, r + ACC.DLL_LIMIT, rec.dllLimit);
    storeI64(a, r + ACC.MLL_FLOOR, rec.mllFloor);
    storeI64(a, r + ACC.HEADROOM, rec.headroom);
    storeI64(a, r + ACC.UPDATED_MS, rec.updatedMs);
    seqWriteEnd(a, r + ACC.SEQ, w);
  }

  /** Any thread. Fills `out` with one consistent record; allocation-free. A never-written slot reads as zeros. */
  readAccount(slot: number, out: AccountRecord): AccountRecord {
    checkSlot(slot, this.capacity, 'accountSlot');
    const a = this.a;
    const r = this.accBase + slot * ACC.WORDS;
    const seq = r + ACC.SEQ;
    for (let tries = 0; tries < this.reader.maxRetries; tries++) {
      const s = this.reader.begin(seq);
      out.state = a[r + ACC.STATE]!;
      out.reason = a[r + ACC.REASON]!;
      out.tradingDayId = a[r + ACC.TRADING_DAY_ID]!;
      out.positionUnits = a[r + ACC.POSITION_UNITS]!;
      out.maxPositionUnits = a[r + ACC.MAX_POSITION_UNITS]!;
      out.maxOpenOrders = a[r + ACC.MAX_OPEN_ORDERS]!;
      out.maxOrdersPerMinute = a[r + ACC.MAX_ORDERS_PER_MINUTE]!;
      out.openOrders = a[r + ACC.OPEN_ORDERS]!;
      out.accountId = loadI64Plain(a, r + ACC.ACCOUNT_ID);
      out.balance = loadI64Plain(a, r + ACC.BALANCE);
      out.startOfDayBalance = loadI64Plain(a, r + ACC.START_OF_DAY_BALANCE);
      out.realizedGross = loadI64Plain(a, r + ACC.REALIZED_GROSS);
      out.fees = loadI64Plain(a, r + ACC.FEES);
      out.unrealized = loadI64Plain(a, r + ACC.UNREALIZED);
      out.dayNetPnl = loadI64Plain(a, r + ACC.DAY_NET_PNL);
      out.dllLimit = loadI64Plain(a, r + ACC.DLL_LIMIT);
      out.mllFloor = loadI64Plain(a, r + ACC.MLL_FLOOR);
      out.headroom = loadI64Plain(a, r + ACC.HEADROOM);
      out.updatedMs = loadI64Plain(a, r + ACC.UPDATED_MS);
      if (this.reader.valid(seq, s)) return out;
    }
    return this.reader.livelock(seq, `accounts[${slot}]`);
  }

  /** risk-manager only. Validates every field (naming it) before the seqlock opens, then publishes the record. */
  writePosition(accountSlot: number, contractSlot: number, rec: PositionRecord): void {
    checkSlot(accountSlot, this.capacity, 'accountSlot');
    checkSlot(contractSlot, this.contracts, 'contractSlot');
    checkInt32(rec.netSize, 'netSize');
    assertSafeInt(rec.avgPrice, 'avgPrice');
    assertSafeInt(rec.realizedGross, 'realizedGross');
    assertSafeInt(rec.fees, 'fees');
    assertSafeInt(rec.unrealized, 'unrealized');
    assertSafeInt(rec.workingStopLoss, 'workingStopLoss');
    assertSafeInt(rec.updatedMs, 'updatedMs');
    checkInt32(rec.workingBuy, 'workingBuy', 0);
    checkInt32(rec.workingSell, 'workingSell', 0);
    const a = this.a;
    const r = this.posBase + (accountSlot * this.contracts + contractSlot) * POS.WORDS;
    const w = seqWriteBegin(a, r + POS.SEQ);
    Atomics.store(a, r + POS.NET_SIZE, rec.netSize);
    Atomics.store(a, r + POS.WORKING_BUY, rec.workingBuy);
    Atomics.store(a, r + POS.WORKING_SELL, rec.workingSell);
    storeI64(a, r + POS.AVG_PRICE, rec.avgPrice);
    storeI64(a, r + POS.REALIZED_GROSS, rec.realizedGross);
    storeI64(a, r + POS.FEES, rec.fees);
    storeI64(a, r + POS.UNREALIZED, rec.unrealized);
    storeI64(a, r + POS.WORKING_STOP_LOSS, rec.workingStopLoss);
    storeI64(a, r + POS.UPDATED_MS, rec.updatedMs);
    seqWriteEnd(a, r + POS.SEQ, w);
  }

  /** Any thread. Fills `out` with one consistent record; allocation-free. */
  readPosition(accountSlot: number, contractSlot: number, out: PositionRecord): PositionRecord {
    checkSlot(accountSlot, this.capacity, 'accountSlot');
    checkSlot(contractSlot, this.contracts, 'contractSlot');
    const a = this.a;
    const r = this.posBase + (accountSlot * this.contracts + contractSlot) * POS.WORDS;
    const seq = r + POS.SEQ;
    for (let tries = 0; tries < this.reader.maxRetries; tries++) {
      const s = this.reader.begin(seq);
      out.netSize = a[r + POS.NET_SIZE]!;
      out.workingBuy = a[r + POS.WORKING_BUY]!;
      out.workingSell = a[r + POS.WORKING_SELL]!;
      out.avgPrice = loadI64Plain(a, r + POS.AVG_PRICE);
      out.realizedGross = loadI64Plain(a, r + POS.REALIZED_GROSS);
      out.fees = loadI64Plain(a, r + POS.FEES);
      out.unrealized = loadI64Plain(a, r + POS.UNREALIZED);
      out.workingStopLoss = loadI64Plain(a, r + POS.WORKING_STOP_LOSS);
      out.updatedMs = loadI64Plain(a, r + POS.UPDATED_MS);
      if (this.reader.valid(seq, s)) return out;
    }
    return this.reader.livelock(seq, `positions[${accountSlot}][${contractSlot}]`);
  }
}
