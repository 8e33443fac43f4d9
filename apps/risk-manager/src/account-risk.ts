// One account's risk state inside the risk-manager thread: the position book (fills), the working orders
// the broker reported, the broker balance, the trading-state machine, and the publication of all of it to
// shared memory (ADR 0003: the account record, the position records with workingBuy/workingSell, and
// positionUnits). No I/O: the app feeds it broker rows/events and executes the actions it returns.
// Thread: the risk-manager thread only (the single writer of these shared-memory records).
import {
  AccountRiskMachine,
  PositionBook,
  MICRO_WEIGHT,
  MINI_WEIGHT,
  stateReasonCode,
  tradingStateCode,
  workingStopRiskUnits,
  type BrokerPosition,
  type Clock,
  type ContractSpec,
  type Evaluation,
  type RiskLimits,
  type RiskMachineSnapshot,
  type Side,
  type WorkingStop,
} from '@gateway/risk';
import { tradingDayOf } from '@gateway/session';
import { moneyToUnits, newAccountRecord, newMark, newPositionRecord, priceToUnits, type AccountRecord, type Mark, type SharedState } from '@gateway/shared-state';
import { OrderType, PositionType, WORKING_ORDER_STATUSES, type OrderStatus as OrderStatusCode } from '@gateway/topstepx';
import { OrderVersions } from './order-versions';
import { NO_OUTSIDE_PRICES, type OutsidePriceSource } from './outside-prices';
import { RecentMap } from './recent-map';

/**
 * A contract the account may trade: its P&L facts and its shared-memory slot (-1: not in the directory, so no
 * shared mark: such a position is priced from OutsidePriceSource).
 */
export interface ContractEntry {
  spec: ContractSpec;
  slot: number;
  /** The root to add to CONTRACTS (MES of MESZ6), for the log lines about a contract outside the directory. */
  root?: string;
}

/**
 * How long a held directory contract's mark may stay flagged stale (market-data's flag, STALE_AFTER_MS without an
 * update in trading hours) before the account takes no new risk (REDUCING, UNPRICED_POSITION): long enough that one
 * quiet moment of a thin market does not block the account, short enough that a dead feed does not leave the loss
 * limits valuing the position at an old price while entries pass on every other contract.
 */
export const STALE_MARK_GRACE_MS = 10_000;

/** How the age of a shared mark is judged (AccountRisk's last constructor argument). */
export interface MarkAging {
  /** STALE_AFTER_MS: market-data flags a contract stale once it has had no update for this long. Default 5000. */
  staleAfterMs?: number;
  /**
   * The clock marks are stamped with (market-data's `updatedMs`: the wall clock, Date.now); default the risk clock.
   * Not the risk clock in the app: RISK_CLOCK_OFFSET_MS would age every mark by the offset.
   */
  wallClock?: Clock;
  /** Default STALE_MARK_GRACE_MS. */
  graceMs?: number;
}

/** An open position in a contract outside the directory changed pricing (the app logs each once). */
export interface UnpricedChange {
  contractId: string;
  /** unpriced: no usable price now; priced: usable again; closed: the position closed while unpriced. */
  change: 'unpriced' | 'priced' | 'closed';
}

export interface WorkingOrder {
  id: number;
  contractId: string;
  side: Side;
  /** Unfilled contracts. */
  remaining: number;
  type: number;
  stopPriceUnits: number | undefined;
}

/** The fields of Order (REST) and GatewayUserOrder (hub) the risk-manager uses. */
export interface OrderRow {
  id: number;
  contractId: string;
  status: OrderStatusCode;
  type: number;
  side: number;
  size: number;
  fillVolume?: number | null;
  stopPrice?: number | null;
}

/** An order row with its version (Order/v2/query rows and GatewayUserOrder events carry both). */
export interface VersionedOrderRow extends OrderRow {
  creationTimestamp: string;
  updateTimestamp?: string | null;
}

/** The version of an order row: its update time (else creation time) in epoch ms. */
export function orderStamp(o: { updateTimestamp?: string | null; creationTimestamp: string }): number {
  return Date.parse(o.updateTimestamp ?? o.creationTimestamp) || 0;
}

/**
 * Orders with fills seen but no order counted as working (per account): a trade that came before its
 * order's first event, the day's trades replayed by a REST rebuild, or a finished order (so that its final
 * event sent again is not counted as unseen fills). Only an order event still on its way
 * needs the count (so that the event's fillVolume is not counted again as an unseen fill): the hub sends an
 * order's trade and order events within milliseconds, and a rebuild's overlap lasts seconds; the rebuild
 * replays the day's trades oldest first, so the orders whose events may still be queued are the newest.
 * 4096 (about 100 B each) covers 13 minutes of the 5 orders/s soak. Beyond it, a late order event would
 * count its fills once more as working — an over-count, the safe side — until the order's next event, or for a
 * final order until the next rebuild.
 */
export const PENDING_FILL_ORDERS = 4096;

/** How many entries the per-order collections hold (tests and diagnostics). */
export interface RetainedSizes {
  workingOrders: number;
  pendingFillOrders: number;
  workingVersions: number;
  finalVersions: number;
  markVersions: number;
}

/** The fields of Trade (REST) and GatewayUserTrade (hub) the risk-manager uses. */
export interface TradeRow {
  id: number;
  contractId: string;
  creationTimestamp: string;
  price: number;
  fees: number;
  side: number;
  size: number;
  voided: boolean;
  orderId?: number;
}

export interface PositionRow {
  contractId: string;
  type: number;
  size: number;
  averagePrice: number;
}

/** A contract whose net size in the book is not the broker's (periodic drift check). */
export interface PositionDrift {
  contractId: string;
  /** Net size at the broker: long +size, short −size. */
  brokerNet: number;
  bookNet: number;
  /**
   * A fill (or a rebuild) changed the contract while the broker's answer was being read: the read may predate
   * it, so the difference may be the read's age rather than a lost event (see AccountRisk.changes).
   */
  changedDuringRead: boolean;
}

/** Position/searchOpen rows in book units: type 1 long +size, 2 short −size; the average in price units. */
export function brokerPositions(rows: readonly PositionRow[]): BrokerPosition[] {
  return rows.map((p) => ({ contractId: p.contractId, netSize: p.type === PositionType.Short ? -p.size : p.size, avgPriceUnits: priceToUnits(p.averagePrice, 'averagePrice') }));
}

/** What survives a worker restart beyond what the REST rebuild gives back (risk-state-<account>.json). */
export interface PersistedRisk {
  machine: RiskMachineSnapshot;
  killSwitch: boolean;
  haltFlatten: boolean;
  startOfDayBalanceUnits: number;
  startOfDayId: number;
}

/** The account's risk state as plain data (money units 1e-4 USD, prices 1e-9), for getRiskState. */
export interface RiskStateView {
  accountId: number;
  tradingState: 'ACTIVE' | 'REDUCING' | 'HALTED';
  reason: string;
  killSwitch: boolean;
  tradingDayId: number;
  balanceUnits: number;
  startOfDayBalanceUnits: number;
  realizedGrossUnits: number;
  feesUnits: number;
  unrealizedUnits: number;
  dayNetPnlUnits: number;
  dailyLossLimitUnits: number;
  mllFloorUnits: number;
  dllRemainingUnits: number;
  mllRemainingUnits: number;
  headroomUnits: number;
  workingStopRiskUnits: number;
  positionUnits: number;
  openOrders: number;
  positions: Array<{ contractId: string; netSize: number; avgPriceUnits: number; markUnits: number | null; unrealizedUnits: number | null }>;
  updatedMs: number;
}

const STOP_TYPES = new Set<number>([OrderType.Stop, OrderType.StopLimit, OrderType.TrailingStop]);

/** The price a mark stands for: last trade, else the mid, else unknown. */
function markPrice(m: Mark): number | undefined {
  if (m.last !== 0) return m.last;
  if (m.bid !== 0 && m.ask !== 0) return Math.round((m.bid + m.ask) / 2);
  return undefined;
}

export class AccountRisk {
  readonly book: PositionBook;
  /** Orders counted as working (unfilled size, or filled size whose trade has not come yet). */
  readonly orders = new Map<number, WorkingOrder>();
  /**
   * Per order in `orders`: its last row, to recount it when its trade arrives, and the contracts already
   * applied from its trades. Leaves with the order: nothing that comes later for a final order needs them
   * (a replayed trade is recognised by its id in the book; an older order event by `versions`).
   */
  private live = new Map<number, { row: OrderRow; filled: number }>();
  /** Fills seen of orders not in `live` (see PENDING_FILL_ORDERS). */
  private readonly pendingFills = new RecentMap<number, number>(PENDING_FILL_ORDERS);
  /** The version of each order applied, so an older event is not applied over it. */
  private readonly versions = new OrderVersions();
  readonly machine: AccountRiskMachine;
  balanceUnits = 0;
  startOfDayBalanceUnits = 0;
  private startOfDayId = 0;
  killSwitch = false;
  /** The kill switch also cancels and flattens (Halt flatten=true). */
  haltFlatten = true;
  last: Evaluation | undefined;
  private stopRisk = 0;
  private positionUnits = 0;
  private readonly published = new Set<number>();
  private readonly acc: AccountRecord = newAccountRecord();
  private readonly pos = newPositionRecord();
  private readonly mark = newMark();
  /**
   * Per contract slot (bounded by the contracts in the directory): the mark version last read by publish(),
   * to tell a new mark from one already published.
   */
  private readonly markVersions = new Map<number, Mark>();
  /** Marks read by the current publish(), by contract id: one read per contract, so the account and position records agree. */
  private readonly publishMarks = new Map<string, number | undefined>();
  /**
   * Write times (market-data's `updatedMs`) of the new mark versions the last publish() carried into the P&L of
   * an open position; the app times them (risk_mark_to_pnl_seconds). Reused; valid until the next publish().
   */
  readonly publishedMarkTimes: number[] = [];
  /** Contracts outside the directory (slot -1) with an open position, as of the last evaluate(): what the app's own feed must watch. */
  readonly outsideOpen = new Set<string>();
  /** Of those, the ones without a usable price: the account is REDUCING (UNPRICED_POSITION) while any is here. */
  readonly unpriced = new Set<string>();
  /** What the last evaluate() changed in `unpriced`. Reused; valid until the next evaluate(). */
  readonly unpricedChanges: UnpricedChange[] = [];
  /**
   * Directory contracts held open without a usable shared mark, as of the last evaluate(): none yet, or flagged stale
   * by market-data for longer than the grace (mark older than STALE_AFTER_MS + STALE_MARK_GRACE_MS). The account is
   * REDUCING (UNPRICED_POSITION) while any is here, as for `unpriced`; a stale one still values the position at its
   * last price.
   */
  readonly staleHeld = new Set<string>();
  private readonly staleAfterMs: number;
  private readonly staleGraceMs: number;
  private readonly wallClock: Clock;
  /**
   * Every change applied from the broker (a fill, an order event, a balance, a rebuild) takes the next number.
   * The drift check reads REST outside the thread's queue while events go on being applied: it notes `changes`
   * before its read and, comparing, leaves out what moved since, which the read may or may not have seen.
   */
  private changeSeq = 0;
  /** Per contract the book holds (bounded like the book): the change number of its last applied fill. */
  private readonly contractChangedAt = new Map<string, number>();
  private balanceChangedAt = 0;
  private rebuiltAt = 0;

  constructor(
    readonly accountId: number,
    readonly slot: number,
    readonly limits: RiskLimits,
    private readonly clock: Clock,
    private readonly contract: (contractId: string) => ContractEntry | undefined,
    persisted?: PersistedRisk,
    private readonly prices: OutsidePriceSource = NO_OUTSIDE_PRICES,
    aging: MarkAging = {},
  ) {
    this.staleAfterMs = aging.staleAfterMs ?? 5_000;
    this.staleGraceMs = aging.graceMs ?? STALE_MARK_GRACE_MS;
    this.wallClock = aging.wallClock ?? clock;
    this.book = new PositionBook(accountId, (id) => contract(id)?.spec);
    this.machine = new AccountRiskMachine(accountId, limits, clock, persisted?.machine);
    if (persisted) {
      this.killSwitch = persisted.killSwitch;
      this.haltFlatten = persisted.haltFlatten;
      this.startOfDayBalanceUnits = persisted.startOfDayBalanceUnits;
      this.startOfDayId = persisted.startOfDayId;
    }
  }

  persisted(): PersistedRisk {
    return {
      machine: this.machine.snapshot(),
      killSwitch: this.killSwitch,
      haltFlatten: this.haltFlatten,
      startOfDayBalanceUnits: this.startOfDayBalanceUnits,
      startOfDayId: this.startOfDayId,
    };
  }

  /** The number of the last change applied (see changeSeq). */
  get changes(): number {
    return this.changeSeq;
  }

  /** The balance was set after change `since` (an account event, a rebuild, a drift check). */
  balanceChangedSince(since: number): boolean {
    return this.balanceChangedAt > since;
  }

  setBalance(balance: number): void {
    this.balanceUnits = moneyToUnits(balance, 'balance');
    this.balanceChangedAt = ++this.changeSeq;
  }

  /**
   * A working order is recorded with its unfilled size. Filled contracts whose trade has not arrived yet
   * stay counted as working (the hub may send the Filled order before the trade): otherwise the order's
   * size would be in neither the position nor the working sizes for a moment, and the main thread, which
   * releases the reservation on this order event, would let an entry through on an under-count.
   */
  applyOrder(o: OrderRow): void {
    const working = WORKING_ORDER_STATUSES.includes(o.status) ? Math.max(0, o.size - (o.fillVolume ?? 0)) : 0;
    const entry = this.live.get(o.id);
    const filled = entry?.filled ?? this.pendingFills.get(o.id) ?? 0;
    const unseenFill = Math.max(0, (o.fillVolume ?? 0) - filled);
    const remaining = working + unseenFill;
    if (remaining <= 0) {
      // Final (or fully filled) and every fill applied: the order is done here. Its fill count stays among the
      // pending ones (bounded): a final event sent again with a newer version must find its fills seen,
      // or its fillVolume would count as working again with no trade ever to clear it.
      this.orders.delete(o.id);
      this.live.delete(o.id);
      if (filled > 0) this.pendingFills.set(o.id, filled);
      else this.pendingFills.delete(o.id);
      return;
    }
    if (entry === undefined) {
      this.live.set(o.id, { row: o, filled });
      this.pendingFills.delete(o.id);
    } else {
      entry.row = o;
    }
    this.orders.set(o.id, {
      id: o.id,
      contractId: o.contractId,
      side: o.side === 0 ? 'BUY' : 'SELL',
      remaining,
      type: o.type,
      stopPriceUnits: o.stopPrice === null || o.stopPrice === undefined ? undefined : priceToUnits(o.stopPrice, 'stopPrice'),
    });
  }

  /** Applies a fill (idempotent by trade id) and moves its size from the order's pending fill to the position. */
  applyTrade(t: TradeRow): boolean {
    const applied = this.book.applyFill({
      contractId: t.contractId,
      side: t.side === 0 ? 'BUY' : 'SELL',
      size: t.size,
      priceUnits: priceToUnits(t.price, 'price'),
      feesUnits: moneyToUnits(t.fees ?? 0, 'fees'),
      tsMs: Date.parse(t.creationTimestamp),
      tradeId: t.id,
      voided: t.voided,
    }).applied;
    if (applied) this.contractChangedAt.set(t.contractId, ++this.changeSeq);
    if (applied && t.orderId !== undefined) {
      const entry = this.live.get(t.orderId);
      if (entry !== undefined) {
        entry.filled += t.size;
        this.applyOrder(entry.row);
      } else {
        this.pendingFills.set(t.orderId, (this.pendingFills.get(t.orderId) ?? 0) + t.size);
      }
    }
    return applied;
  }

  /**
   * A user-hub order event: applied unless an equally new or newer version of the order was already applied
   * (an older one is replayed after a REST rebuild). Returns whether it was applied.
   */
  applyOrderEvent(o: VersionedOrderRow): boolean {
    if (!this.versions.accept(o.id, orderStamp(o), WORKING_ORDER_STATUSES.includes(o.status))) return false;
    this.changeSeq++;
    this.applyOrder(o);
    return true;
  }

  retainedSizes(): RetainedSizes {
    return { workingOrders: this.orders.size, pendingFillOrders: this.pendingFills.size, ...this.versions.sizes, markVersions: this.markVersions.size };
  }

  /**
   * REST rebuild of the day: the trades since the day began replayed on the position each contract had
   * before them (the broker's open position minus today's fills), then every contract forced to the
   * broker's open position (Position/searchOpen is the truth for size and average price).
   */
  rebuild(dayId: number, trades: readonly TradeRow[], positions: readonly PositionRow[], orders: readonly VersionedOrderRow[]): void {
    this.book.beginTradingDay(dayId);
    const sorted = [...trades].sort((a, b) => Date.parse(a.creationTimestamp) - Date.parse(b.creationTimestamp) || a.id - b.id);
    const broker = brokerPositions(positions);
    const fillsNet = new Map<string, number>();
    for (const t of sorted) if (!t.voided) fillsNet.set(t.contractId, (fillsNet.get(t.contractId) ?? 0) + (t.side === 0 ? t.size : -t.size));
    for (const b of broker) {
      const carried = b.netSize - (fillsNet.get(b.contractId) ?? 0);
      if (carried !== 0 && this.book.netSize(b.contractId) === 0) this.book.setPosition(b.contractId, carried, b.avgPriceUnits);
    }
    // Fills per order of this replay, not capped like pendingFills: a working order whose fills are older than
    // the newest PENDING_FILL_ORDERS trades must still find them, or its filled size would stay counted as working.
    const replayFills = new Map<number, number>();
    for (const t of sorted) {
      if (this.applyTrade(t) && t.orderId !== undefined) replayFills.set(t.orderId, (replayFills.get(t.orderId) ?? 0) + t.size);
    }
    this.reconcilePositions(broker);
    // The broker's working orders replace ours. An order counted here but no longer working at the broker
    // keeps its fill count among the pending ones: its final event may still be queued behind this rebuild.
    this.orders.clear();
    const prior = this.live;
    this.live = new Map();
    for (const o of orders) {
      const p = prior.get(o.id);
      if (p !== undefined) this.live.set(o.id, p);
      else {
        const filled = Math.max(this.pendingFills.get(o.id) ?? 0, replayFills.get(o.id) ?? 0);
        if (filled > 0) this.pendingFills.set(o.id, filled);
      }
      this.applyOrder(o);
    }
    for (const [id, p] of prior) if (!this.live.has(id) && p.filled > 0) this.pendingFills.set(id, p.filled);
    this.versions.rebuild(orders.map((o) => ({ id: o.id, stamp: orderStamp(o) })));
    this.rebuiltAt = ++this.changeSeq;
  }

  /**
   * The contracts whose net size in the book differs from the broker's open positions (Position/searchOpen):
   * a position the broker has and the book not (or of another size), and one the book holds that the broker
   * closed. Average prices are not compared: a fill moves the size, and only the size tells a lost fill.
   * `readSince`: the `changes` noted before the positions were read; a contract a fill or a rebuild changed
   * after it is marked changedDuringRead. Without it, nothing is.
   */
  positionDrift(positions: readonly PositionRow[], readSince = this.changeSeq): PositionDrift[] {
    const out: PositionDrift[] = [];
    for (const d of this.book.diff(brokerPositions(positions))) {
      if (!d.sizeDiffers) continue;
      const changedDuringRead = this.rebuiltAt > readSince || (this.contractChangedAt.get(d.contractId) ?? 0) > readSince;
      out.push({ contractId: d.contractId, brokerNet: d.brokerNetSize, bookNet: d.bookNetSize, changedDuringRead });
    }
    return out;
  }

  /**
   * Forces every contract's size and average to the broker's open positions (REST rebuild, hub reconnect);
   * returns the contracts changed.
   */
  reconcilePositions(broker: readonly BrokerPosition[]): string[] {
    const changed: string[] = [];
    // The broker's average is the truth for open P&L too (a carried entry price is only estimated).
    for (const d of this.book.diff(broker)) {
      this.book.setPosition(d.contractId, d.brokerNetSize, d.brokerAvgPriceUnits);
      changed.push(d.contractId);
    }
    return changed;
  }

  /**
   * After a REST rebuild: the start-of-day balance, unless the persisted state already has today's, is the
   * balance before today's realised P&L (balance − today's realised net, fees included). It is also the previous
   * trading day's end-of-day balance, which Topstep trailed its MLL floor with: the machine trails with it too when it
   * did not see that day close itself (a first start, a restart across 17:00 CT). Without a balance from Account/search
   * nothing is trailed (the floor only ever rises, but not from a balance never read).
   * `balanceSettled` false: the balance was not read consistently with the replayed trades (a fill moved it between
   * its reads, account-risk-reads.ts), so the start-of-day balance may be overstated by that fill's P&L: it is kept
   * for evaluate(), which takes the lower of it + today's realised net and the broker's balance, but the floor is not
   * trailed with it (a floor raised too high would halt a healthy account, and is never lowered).
   */
  beginDayFromRebuild(dayId: number, balanceSettled = true): void {
    if (this.startOfDayId === dayId) return;
    this.startOfDayId = dayId;
    this.startOfDayBalanceUnits = this.balanceUnits - this.book.totals(() => undefined).dayRealizedNetUnits;
    if (balanceSettled && this.balanceChangedAt > 0) this.machine.startOfDay(dayId, this.startOfDayBalanceUnits);
  }

  /** Starts a new trading day in the book when the clock crossed 17:00 CT. */
  private rollDay(now: number): void {
    const day = tradingDayOf(now).id;
    if (day > this.book.dayId) this.book.beginTradingDay(day);
    if (day !== this.startOfDayId) {
      this.startOfDayId = day;
      this.startOfDayBalanceUnits = this.balanceUnits;
    }
  }

  /**
   * Mark of a contract: from shared memory (last trade, else the mid, else unknown), or for a contract outside
   * the directory the latest price of the risk-manager's own feed (possibly stale: `unpriced` says so).
   */
  markOf(state: SharedState, contractId: string): number | undefined {
    const c = this.contract(contractId);
    if (c === undefined) return undefined;
    if (c.slot < 0) return this.prices.price(contractId);
    return markPrice(state.marks.read(c.slot, this.mark));
  }

  /**
   * publish()'s mark of a contract: read once per publish, and compared with the version the previous
   * publish read. A new version's write time is returned in `fresh` (the first read of a slot only sets the
   * baseline: its age says nothing about this thread's latency).
   */
  private publishMarkOf(state: SharedState, contractId: string, fresh: Map<string, number>): number | undefined {
    if (this.publishMarks.has(contractId)) return this.publishMarks.get(contractId);
    const c = this.contract(contractId);
    let price: number | undefined;
    if (c !== undefined && c.slot >= 0) {
      const m = state.marks.read(c.slot, this.mark);
      price = markPrice(m);
      const prev = this.markVersions.get(c.slot);
      if (prev === undefined) {
        this.markVersions.set(c.slot, { ...m });
      } else if (prev.updatedMs !== m.updatedMs || prev.last !== m.last || prev.bid !== m.bid || prev.ask !== m.ask) {
        Object.assign(prev, m);
        if (price !== undefined) fresh.set(contractId, m.updatedMs);
      }
    } else if (c !== undefined) {
      // Outside the directory: not timed by risk_mark_to_pnl_seconds (no shared mark was written).
      price = this.prices.price(contractId);
    }
    this.publishMarks.set(contractId, price);
    return price;
  }

  /** Runs the state machine on the current numbers; the caller publishes and executes the actions. */
  evaluate(state: SharedState): Evaluation {
    const now = this.clock.now();
    this.rollDay(now);
    const markOf = (id: string): number | undefined => this.markOf(state, id);
    const totals = this.book.totals(markOf);
    const stops: WorkingStop[] = [];
    for (const o of this.orders.values()) {
      if (STOP_TYPES.has(o.type) && o.stopPriceUnits !== undefined) stops.push({ contractId: o.contractId, side: o.side, size: o.remaining, stopPriceUnits: o.stopPriceUnits });
    }
    this.stopRisk = 0;
    this.unpricedChanges.length = 0;
    this.staleHeld.clear();
    const wallNow = this.wallClock.now();
    for (const p of this.book.positions()) {
      const mark = markOf(p.contractId);
      const c = this.contract(p.contractId);
      if (c !== undefined && c.slot < 0) this.trackOutside(p.contractId, p.netSize !== 0);
      else if (c !== undefined && p.netSize !== 0 && !this.sharedMarkUsable(state, c.slot, wallNow)) this.staleHeld.add(p.contractId);
      if (p.netSize === 0 || mark === undefined || c === undefined) continue;
      this.stopRisk += workingStopRiskUnits([{ contractId: p.contractId, netSize: p.netSize, markPriceUnits: mark, tickSizeUnits: c.spec.tickSizeUnits, tickValueMoneyUnits: c.spec.tickValueMoneyUnits }], stops);
    }
    // The broker's balance moves with its account event, which may come after the fill's trade event or be lost
    // (topstepx-api.md §12): a realised loss counts at once through start-of-day balance + today's realised net.
    const balance = Math.min(this.balanceUnits, this.startOfDayBalanceUnits + totals.dayRealizedNetUnits);
    const ev = this.machine.evaluate({
      dayNetPnlUnits: totals.dayNetPnlUnits,
      pnlDayId: totals.dayId,
      balanceUnits: balance,
      unrealizedUnits: totals.unrealizedUnits,
      workingStopRiskUnits: this.stopRisk,
      killSwitch: this.killSwitch,
      killSwitchFlatten: this.haltFlatten,
      openContractIds: this.book.openContractIds(),
      workingOrderCount: this.orders.size,
      unpricedPositions: this.unpriced.size + this.staleHeld.size,
    });
    this.last = ev;
    return ev;
  }

  /**
   * A held directory contract's mark is usable unless there is none, or market-data flagged it stale and it is older
   * than STALE_AFTER_MS + the grace (stale for longer than the grace). Measured on the mark's own write time, so a
   * restarted thread does not grant a long-stale mark a fresh grace.
   */
  private sharedMarkUsable(state: SharedState, slot: number, wallNow: number): boolean {
    const m = state.marks.read(slot, this.mark);
    if (markPrice(m) === undefined) return false;
    return !state.marks.isStale(slot) || wallNow - m.updatedMs < this.staleAfterMs + this.staleGraceMs;
  }

  /** Keeps `outsideOpen` / `unpriced` of one contract outside the directory, noting each change of `unpriced`. */
  private trackOutside(contractId: string, open: boolean): void {
    if (!open) {
      this.outsideOpen.delete(contractId);
      if (this.unpriced.delete(contractId)) this.unpricedChanges.push({ contractId, change: 'closed' });
      return;
    }
    this.outsideOpen.add(contractId);
    const usable = this.prices.usable(contractId);
    if (!usable && !this.unpriced.has(contractId)) {
      this.unpriced.add(contractId);
      this.unpricedChanges.push({ contractId, change: 'unpriced' });
    } else if (usable && this.unpriced.delete(contractId)) {
      this.unpricedChanges.push({ contractId, change: 'priced' });
    }
  }

  /**
   * Publishes the account record and every touched position record (seqlocks). Call after evaluate();
   * ADR 0003: before the user.* event that lets the main thread release a reservation.
   */
  publish(state: SharedState): void {
    const ev = this.last;
    if (ev === undefined) throw new Error('publish() before evaluate()');
    const now = this.clock.now();
    this.publishMarks.clear();
    this.publishedMarkTimes.length = 0;
    const fresh = new Map<string, number>();
    const markOf = (id: string): number | undefined => this.publishMarkOf(state, id, fresh);
    const totals = this.book.totals(markOf);
    const working = new Map<string, { buy: number; sell: number }>();
    for (const o of this.orders.values()) {
      const w = working.get(o.contractId) ?? { buy: 0, sell: 0 };
      if (o.side === 'BUY') w.buy += o.remaining;
      else w.sell += o.remaining;
      working.set(o.contractId, w);
    }
    const contracts = new Set<string>([...working.keys(), ...this.book.positions().map((p) => p.contractId)]);
    let units = 0;
    const touched = new Set<number>();
    for (const id of contracts) {
      const c = this.contract(id);
      const view = this.book.position(id);
      const net = view?.netSize ?? 0;
      const w = working.get(id) ?? { buy: 0, sell: 0 };
      const weight = c?.spec.isMicro && this.limits.microWeighting ? MICRO_WEIGHT : MINI_WEIGHT;
      units += weight * Math.max(Math.abs(net + w.buy), Math.abs(net - w.sell));
      if (c === undefined || c.slot < 0) continue;
      const mark = markOf(id);
      const p = this.pos;
      p.netSize = net;
      p.avgPrice = view?.avgPriceUnits ?? 0;
      p.realizedGross = view?.dayRealizedGrossUnits ?? 0;
      p.fees = view?.dayFeesUnits ?? 0;
      p.unrealized = mark === undefined ? 0 : this.book.unrealizedUnits(id, mark);
      p.workingStopLoss = this.contractStopRisk(id, net, mark, c);
      p.workingBuy = w.buy;
      p.workingSell = w.sell;
      p.updatedMs = now;
      state.accounts.writePosition(this.slot, c.slot, p);
      touched.add(c.slot);
      // Only an open position's P&L is computed from the mark.
      const markMs = fresh.get(id);
      if (net !== 0 && markMs !== undefined) this.publishedMarkTimes.push(markMs);
    }
    // A contract that went flat with no working orders left the sets above: publish it as zero once.
    for (const slot of this.published) {
      if (touched.has(slot)) continue;
      const p = this.pos;
      Object.assign(p, newPositionRecord());
      p.updatedMs = now;
      state.accounts.writePosition(this.slot, slot, p);
    }
    this.published.clear();
    for (const s of touched) this.published.add(s);
    this.positionUnits = units;

    const a = this.acc;
    a.accountId = this.accountId;
    a.state = tradingStateCode(ev.state) + 1;
    a.reason = stateReasonCode(ev.reason);
    a.tradingDayId = ev.dayId;
    a.balance = this.balanceUnits;
    a.startOfDayBalance = this.startOfDayBalanceUnits;
    a.realizedGross = totals.dayRealizedGrossUnits;
    a.fees = totals.dayFeesUnits;
    a.unrealized = totals.unrealizedUnits;
    a.dayNetPnl = totals.dayNetPnlUnits;
    a.dllLimit = this.limits.dailyLossLimitUnits;
    a.mllFloor = ev.mllFloorUnits;
    a.headroom = ev.headroom.headroomUnits;
    a.positionUnits = Math.min(units, 2 ** 31 - 1);
    a.maxPositionUnits = this.limits.maxPositionUnits;
    a.maxOpenOrders = this.limits.maxOpenOrders;
    a.maxOrdersPerMinute = this.limits.maxOrdersPerMinute;
    a.openOrders = this.orders.size;
    a.updatedMs = now;
    state.accounts.writeAccount(this.slot, a);
  }

  private contractStopRisk(contractId: string, net: number, mark: number | undefined, c: ContractEntry): number {
    if (net === 0 || mark === undefined) return 0;
    const stops: WorkingStop[] = [];
    for (const o of this.orders.values()) {
      if (o.contractId === contractId && STOP_TYPES.has(o.type) && o.stopPriceUnits !== undefined) {
        stops.push({ contractId, side: o.side, size: o.remaining, stopPriceUnits: o.stopPriceUnits });
      }
    }
    return workingStopRiskUnits([{ contractId, netSize: net, markPriceUnits: mark, tickSizeUnits: c.spec.tickSizeUnits, tickValueMoneyUnits: c.spec.tickValueMoneyUnits }], stops);
  }

  view(state: SharedState): RiskStateView {
    const ev = this.last;
    const markOf = (id: string): number | undefined => this.markOf(state, id);
    const totals = this.book.totals(markOf);
    return {
      accountId: this.accountId,
      tradingState: ev?.state ?? 'ACTIVE',
      reason: ev?.reason ?? 'NONE',
      killSwitch: this.killSwitch,
      tradingDayId: ev?.dayId ?? 0,
      balanceUnits: this.balanceUnits,
      startOfDayBalanceUnits: this.startOfDayBalanceUnits,
      realizedGrossUnits: totals.dayRealizedGrossUnits,
      feesUnits: totals.dayFeesUnits,
      unrealizedUnits: totals.unrealizedUnits,
      dayNetPnlUnits: totals.dayNetPnlUnits,
      dailyLossLimitUnits: this.limits.dailyLossLimitUnits,
      mllFloorUnits: ev?.mllFloorUnits ?? this.machine.mllState.floorUnits,
      dllRemainingUnits: ev?.headroom.dllRemainingUnits ?? 0,
      mllRemainingUnits: ev?.headroom.mllRemainingUnits ?? 0,
      headroomUnits: ev?.headroom.headroomUnits ?? 0,
      workingStopRiskUnits: this.stopRisk,
      positionUnits: this.positionUnits,
      openOrders: this.orders.size,
      positions: this.book
        .positions()
        .filter((p) => p.netSize !== 0)
        .map((p) => {
          const mark = markOf(p.contractId);
          return {
            contractId: p.contractId,
            netSize: p.netSize,
            avgPriceUnits: p.avgPriceUnits,
            markUnits: mark ?? null,
            unrealizedUnits: mark === undefined ? null : this.book.unrealizedUnits(p.contractId, mark),
          };
        }),
      updatedMs: this.clock.now(),
    };
  }
}
