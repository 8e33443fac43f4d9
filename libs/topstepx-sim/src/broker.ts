// Accounts, orders, positions and half-turn trades, and the matching of working orders against the
// price path. Everything runs on the simulator's event loop; callers are the REST handlers and the
// market's per-trade hook. Prices are price units (1e-9), money is money units (1e-4 USD).
import { OrderSide, OrderStatus, OrderType, PositionType } from '@gateway/topstepx';
import { Decimal, formatTimestamp, moneyUnits, pnlUnits } from './fixed';
import type { ContractMarket } from './market';
import { DEFAULT_FILL_EVENT_ORDER, type AccountSpec, type BracketMode, type ContractRuntime, type FillEventKind } from './options';

export interface SimAccount {
  id: number;
  name: string;
  balance: number;
  canTrade: boolean;
  isVisible: boolean;
  simulated: boolean;
  follower: boolean;
  bracketMode: BracketMode;
}

export interface BracketSpec {
  ticks: number;
  type: number;
}

export interface SimOrder {
  id: number;
  accountId: number;
  contract: ContractRuntime;
  created: number;
  updated: number;
  status: number;
  type: number;
  side: 0 | 1;
  size: number;
  limitPrice: number | null;
  stopPrice: number | null;
  fillVolume: number;
  fillCost: bigint;
  filledPrice: number | null;
  customTag: string | null;
  /** Trailing stops: distance in ticks. */
  trailTicks: number | null;
  parentOrderId: number | null;
  linkedOrderId: number | null;
  /** On an entry with brackets: the child ids. */
  children: number[];
  /** On a bracket child: its signed tick offset from the entry's fill price. */
  bracketTicks: number | null;
  /** A stop (or stop-limit) whose trigger has printed: it now fills as market (limit). */
  triggered: boolean;
  /** Set when a user modified a suspended child's price: the parent's fill no longer reprices it. */
  priceFixed: boolean;
  /** Resting Open until the fillDelayMs fault's timer puts it in the matching set. */
  deferred: boolean;
}

export interface SimPosition {
  id: number;
  accountId: number;
  contract: ContractRuntime;
  created: number;
  /** Signed: > 0 long, < 0 short. */
  size: number;
  avg: number;
}

export interface SimTrade {
  id: number;
  accountId: number;
  contractId: string;
  created: number;
  price: number;
  pnl: number | null;
  fees: number;
  side: 0 | 1;
  size: number;
  orderId: number;
}

export interface BrokerEvents {
  order(o: SimOrder): void;
  trade(t: SimTrade): void;
  position(p: SimPosition): void;
  account(a: SimAccount): void;
}

/** Fault hooks the simulator gives the broker (read at each use, so a fault set at run time applies at once). */
export interface BrokerFaults {
  /** ms a new order rests Open before it is matched (0 = on arrival). */
  fillDelayMs(): number;
  /** The order of one fill's events, or null for the default. */
  fillEventOrder(): readonly FillEventKind[] | null;
  /** Runs `fn` after `ms` (the simulator tracks the timer, to clear it on close). */
  defer(fn: () => void, ms: number): void;
}

const NO_FAULTS: BrokerFaults = { fillDelayMs: () => 0, fillEventOrder: () => null, defer: (fn, ms) => void setTimeout(fn, ms) };

interface Gate {
  dirty: boolean;
  /** Some order reacts to every trade (market remainder, trailing stop, triggered stop). */
  always: boolean;
  buyLimitMax: number;
  sellLimitMin: number;
  buyStopMin: number;
  sellStopMax: number;
}

export interface PlaceRequest {
  accountId: number;
  contractId: string;
  type: number;
  side: number;
  size: number;
  limitPrice: number | null;
  stopPrice: number | null;
  trailPrice: number | null;
  customTag: string | null;
  stopLossBracket: BracketSpec | null;
  takeProfitBracket: BracketSpec | null;
}

export interface Outcome {
  errorCode: number;
  errorMessage: string | null;
  orderId?: number | null;
}

const WORKING = new Set<number>([OrderStatus.Open, OrderStatus.Pending, OrderStatus.PendingCancellation, OrderStatus.Suspended]);
const TYPE_NAMES = ['Unknown', 'Limit', 'Market', 'StopLimit', 'Stop', 'TrailingStop', 'JoinBid', 'JoinAsk'];

const ok = (orderId?: number): Outcome => (orderId === undefined ? { errorCode: 0, errorMessage: null } : { errorCode: 0, errorMessage: null, orderId });
const fail = (errorCode: number, errorMessage: string | null, orderId?: number | null): Outcome =>
  orderId === undefined ? { errorCode, errorMessage } : { errorCode, errorMessage, orderId };

export class Broker {
  readonly accounts = new Map<number, SimAccount>();
  readonly orders = new Map<number, SimOrder>();
  readonly ordersByAccount = new Map<number, SimOrder[]>();
  readonly tradesByAccount = new Map<number, SimTrade[]>();
  readonly positions = new Map<number, Map<string, SimPosition>>();
  private readonly tags = new Map<number, Set<string>>();
  /** Working (not suspended) orders per contract, in arrival order: the matching set. */
  private readonly working = new Map<string, SimOrder[]>();
  /** Per contract: the price band inside which no working order can react, so most trades skip the loop. */
  private readonly gates = new Map<string, Gate>();
  private nextOrderId = 70_000_001;
  private nextTradeId = 90_000_001;
  private nextPositionId = 5_001;

  constructor(
    accounts: AccountSpec[],
    private readonly markets: Map<string, ContractMarket>,
    private readonly clock: () => number,
    private readonly chunks: number,
    private readonly events: BrokerEvents,
    private readonly faults: BrokerFaults = NO_FAULTS,
  ) {
    for (const a of accounts) {
      this.accounts.set(a.id, {
        id: a.id,
        name: a.name,
        balance: moneyUnits(a.balance ?? 50_000),
        canTrade: a.canTrade ?? true,
        isVisible: a.isVisible ?? true,
        simulated: a.simulated ?? true,
        follower: a.follower ?? false,
        bracketMode: a.bracketMode ?? 'autoOco',
      });
      this.ordersByAccount.set(a.id, []);
      this.tradesByAccount.set(a.id, []);
      this.positions.set(a.id, new Map());
      this.tags.set(a.id, new Set());
    }
  }

  // ---- place ---------------------------------------------------------------------------------

  place(r: PlaceRequest): Outcome {
    const account = this.accounts.get(r.accountId);
    if (!account) return fail(1, 'Account not found', null);
    if (!/^CON\.[A-Z]\.[A-Z0-9]+\.[A-Z0-9]+\.[A-Z0-9]+$/i.test(r.contractId)) {
      // An OrderRejected like every validation failure, so its tag is spent too (no contract: no order to store).
      if (r.customTag !== null) this.tags.get(account.id)!.add(r.customTag);
      return fail(2, 'Invalid symbol', null);
    }
    const m = this.markets.get(r.contractId);
    if (!m) return fail(8, 'Contract not found', null);
    if (!m.contract.active) return fail(9, 'Contract is not active', null);
    if (!account.canTrade) return fail(10, 'Account is not allowed to trade', null);

    const reject = (message: string, tag: string | null = r.customTag): Outcome => {
      const o = this.newOrder(account.id, m.contract, r, tag);
      o.status = OrderStatus.Rejected;
      this.store(o);
      if (tag !== null) this.tags.get(account.id)!.add(tag);
      this.events.order(o);
      return fail(2, message, o.id);
    };

    const tags = this.tags.get(account.id)!;
    if (r.customTag !== null && tags.has(r.customTag)) return reject('custom tag already in use', null);
    if (!(r.type in TYPE_NAMES) || r.type === OrderType.Unknown) return reject('Invalid order type');
    if (r.side !== OrderSide.Bid && r.side !== OrderSide.Ask) return reject('Invalid order side');
    if (!Number.isSafeInteger(r.size) || r.size <= 0) return reject('Invalid order size');
    const tick = m.contract.tick;
    const aligned = (p: number) => p % tick === 0;
    let limitPrice: number | null = null;
    let stopPrice: number | null = null;
    let trailTicks: number | null = null;
    switch (r.type) {
      case OrderType.Limit:
        if (r.limitPrice === null || Number.isNaN(r.limitPrice) || r.limitPrice <= 0) return reject('Invalid limit price');
        if (!aligned(r.limitPrice)) return reject('Invalid limit price. Price is not aligned to tick size.');
        limitPrice = r.limitPrice;
        break;
      case OrderType.Stop:
        if (r.stopPrice === null || Number.isNaN(r.stopPrice) || r.stopPrice <= 0) return reject('Invalid stop price');
        if (!aligned(r.stopPrice)) return reject('Invalid stop price. Price is not aligned to tick size.');
        stopPrice = r.stopPrice;
        break;
      case OrderType.StopLimit:
        if (r.stopPrice === null || Number.isNaN(r.stopPrice) || r.stopPrice <= 0) return reject('Invalid stop price');
        if (r.limitPrice === null || Number.isNaN(r.limitPrice) || r.limitPrice <= 0) return reject('Invalid limit price');
        if (!aligned(r.stopPrice)) return reject('Invalid stop price. Price is not aligned to tick size.');
        if (!aligned(r.limitPrice)) return reject('Invalid limit price. Price is not aligned to tick size.');
        stopPrice = r.stopPrice;
        limitPrice = r.limitPrice;
        break;
      case OrderType.TrailingStop: {
        if (r.trailPrice === null || Number.isNaN(r.trailPrice)) return reject('Trail Distance not set.');
        if (!aligned(r.trailPrice)) return reject('Invalid trail price. Price is not aligned to tick size.');
        if (m.lastTradeAt === 0 && m.volume === 0) return reject('Cannot trail without a last price');
        const ticks = Math.trunc(Math.abs(m.last - r.trailPrice) / tick);
        if (ticks <= 0) return reject('Trail Distance not set.');
        if (ticks > 1000) return reject('Trail Distance exceeds maximum (1000)');
        trailTicks = ticks;
        stopPrice = r.side === OrderSide.Ask ? m.last - ticks * tick : m.last + ticks * tick;
        break;
      }
      case OrderType.JoinBid:
        limitPrice = m.bid;
        break;
      case OrderType.JoinAsk:
        limitPrice = m.ask;
        break;
    }
    if (r.stopLossBracket || r.takeProfitBracket) {
      if (account.bracketMode !== 'autoOco') return reject('Brackets cannot be used with Position Brackets. You must enable Auto OCO Brackets.');
      const long = r.side === OrderSide.Bid;
      const sl = r.stopLossBracket;
      if (sl) {
        if (!Number.isSafeInteger(sl.ticks)) return reject(`Invalid stop loss ticks (${String(sl.ticks)}).`);
        if (sl.type !== OrderType.Stop && sl.type !== OrderType.TrailingStop) return reject(`Invalid stop loss type (${TYPE_NAMES[sl.type] ?? sl.type})`);
        if (long && sl.ticks >= 0) return reject(`Invalid stop loss ticks (${sl.ticks}). Ticks should be less than zero when longing.`);
        if (!long && sl.ticks <= 0) return reject(`Invalid stop loss ticks (${sl.ticks}). Ticks should be greater than zero when shorting.`);
        if (Math.abs(sl.ticks) < 4) return reject(`Invalid stop loss ticks (${sl.ticks}). Price should be at least 4 ticks away.`);
      }
      const tp = r.takeProfitBracket;
      if (tp) {
        if (!Number.isSafeInteger(tp.ticks)) return reject(`Invalid take profit ticks (${String(tp.ticks)}).`);
        if (tp.type !== OrderType.Limit) return reject(`Invalid take profit type (${TYPE_NAMES[tp.type] ?? tp.type})`);
        if (long && tp.ticks <= 0) return reject(`Invalid take profit ticks (${tp.ticks}). Ticks should be greater than zero when longing.`);
        if (!long && tp.ticks >= 0) return reject(`Invalid take profit ticks (${tp.ticks}). Ticks should be less than zero when shorting.`);
        if (Math.abs(tp.ticks) < 4) return reject(`Invalid take profit ticks (${tp.ticks}). Price should be at least 4 ticks away.`);
      }
    }

    const o = this.newOrder(account.id, m.contract, r, r.customTag);
    o.limitPrice = limitPrice;
    o.stopPrice = stopPrice;
    o.trailTicks = trailTicks;
    o.status = OrderStatus.Open;
    if (r.customTag !== null) tags.add(r.customTag);
    this.store(o);
    if (r.stopLossBracket || r.takeProfitBracket) this.attachBrackets(o, m, r.stopLossBracket, r.takeProfitBracket);
    this.events.order(o);
    const delay = this.faults.fillDelayMs();
    if (delay > 0) {
      // Rests Open outside the matching set (no trade can fill it early), then is matched as the market stands.
      o.deferred = true;
      this.faults.defer(() => {
        o.deferred = false;
        if (o.status === OrderStatus.Open) this.activate(o, m);
      }, delay);
    } else this.activate(o, m);
    return ok(o.id);
  }

  private newOrder(accountId: number, contract: ContractRuntime, r: PlaceRequest, tag: string | null): SimOrder {
    const now = this.clock();
    return {
      id: this.nextOrderId++,
      accountId,
      contract,
      created: now,
      updated: now,
      status: OrderStatus.Pending,
      type: Number.isSafeInteger(r.type) ? r.type : 0,
      side: r.side === 1 ? 1 : 0,
      size: Number.isSafeInteger(r.size) ? r.size : 0,
      limitPrice: r.limitPrice !== null && !Number.isNaN(r.limitPrice) ? r.limitPrice : null,
      stopPrice: r.stopPrice !== null && !Number.isNaN(r.stopPrice) ? r.stopPrice : null,
      fillVolume: 0,
      fillCost: 0n,
      filledPrice: null,
      customTag: tag,
      trailTicks: null,
      parentOrderId: null,
      linkedOrderId: null,
      children: [],
      bracketTicks: null,
      triggered: false,
      priceFixed: false,
      deferred: false,
    };
  }

  private store(o: SimOrder): void {
    this.orders.set(o.id, o);
    this.ordersByAccount.get(o.accountId)!.push(o);
  }

  /** Children are created now in status 8 Suspended, priced from a reference entry; repriced on the fill. */
  private attachBrackets(parent: SimOrder, m: ContractMarket, sl: BracketSpec | null, tp: BracketSpec | null): void {
    const ref = parent.limitPrice ?? parent.stopPrice ?? (parent.side === 0 ? m.ask : m.bid);
    const exitSide: 0 | 1 = parent.side === 0 ? 1 : 0;
    const make = (b: BracketSpec): SimOrder => {
      const now = this.clock();
      const child: SimOrder = {
        ...this.newOrder(parent.accountId, parent.contract, {
          accountId: parent.accountId,
          contractId: parent.contract.id,
          type: b.type,
          side: exitSide,
          size: parent.size,
          limitPrice: null,
          stopPrice: null,
          trailPrice: null,
          customTag: null,
          stopLossBracket: null,
          takeProfitBracket: null,
        }, null),
        created: now,
        updated: now,
        status: OrderStatus.Suspended,
        parentOrderId: parent.id,
        bracketTicks: b.ticks,
      };
      if (b.type === OrderType.Limit) child.limitPrice = ref + b.ticks * parent.contract.tick;
      else child.stopPrice = ref + b.ticks * parent.contract.tick;
      if (b.type === OrderType.TrailingStop) child.trailTicks = Math.abs(b.ticks);
      this.store(child);
      parent.children.push(child.id);
      return child;
    };
    const a = sl ? make(sl) : null;
    const b = tp ? make(tp) : null;
    if (a && b) {
      a.linkedOrderId = b.id;
      b.linkedOrderId = a.id;
    }
    for (const c of [a, b]) if (c) this.events.order(c);
  }

  /** Put a working order in the matching set and fill what is marketable now. */
  private activate(o: SimOrder, m: ContractMarket): void {
    let list = this.working.get(o.contract.id);
    if (!list) this.working.set(o.contract.id, (list = []));
    list.push(o);
    this.touch(o.contract.id);
    this.evaluate(o, m, null);
  }

  // ---- matching ------------------------------------------------------------------------------

  /** The market's per-trade hook. Cheap when the contract has no working order. */
  onTrade(m: ContractMarket, price: number): void {
    const list = this.working.get(m.contract.id);
    if (!list || list.length === 0) return;
    const g = this.gate(m.contract.id, list);
    if (!g.always && price < g.buyStopMin && price > g.sellStopMax && price > g.buyLimitMax && price < g.sellLimitMin) return;
    for (const o of list.slice()) {
      if (o.status !== OrderStatus.Open) continue;
      this.evaluate(o, m, price);
    }
  }

  /**
   * One matching step for a working order. `trade` is the printed price (null on placement/modify).
   * Market and triggered stops fill at the touch (buy at ask, sell at bid); limits fill at their price
   * when a trade prints through it, or at the touch when marketable on arrival; stops trigger when a
   * trade prints at or through them (or at once when already through on arrival).
   */
  private evaluate(o: SimOrder, m: ContractMarket, trade: number | null): void {
    const buy = o.side === OrderSide.Bid;
    const touch = buy ? m.ask : m.bid;
    const last = trade ?? m.last;
    if (o.type === OrderType.TrailingStop && !o.triggered && o.trailTicks !== null) {
      const dist = o.trailTicks * o.contract.tick;
      const level = buy ? last + dist : last - dist;
      if (o.stopPrice === null || (buy ? level < o.stopPrice : level > o.stopPrice)) o.stopPrice = level;
    }
    switch (o.type) {
      case OrderType.Market:
        this.fill(o, m, touch);
        return;
      case OrderType.Limit:
      case OrderType.JoinBid:
      case OrderType.JoinAsk:
        this.matchLimit(o, m, trade);
        return;
      case OrderType.Stop:
      case OrderType.TrailingStop:
      case OrderType.StopLimit: {
        if (!o.triggered) {
          const stop = o.stopPrice!;
          if (buy ? last >= stop : last <= stop) {
            o.triggered = true;
            this.touch(o.contract.id);
          }
          else return;
        }
        if (o.type === OrderType.StopLimit) this.matchLimit(o, m, trade);
        else this.fill(o, m, touch);
        return;
      }
    }
  }

  private touch(contractId: string): void {
    const g = this.gates.get(contractId);
    if (g) g.dirty = true;
  }

  private gate(contractId: string, list: SimOrder[]): Gate {
    let g = this.gates.get(contractId);
    if (!g) this.gates.set(contractId, (g = { dirty: true, always: false, buyLimitMax: 0, sellLimitMin: 0, buyStopMin: 0, sellStopMax: 0 }));
    if (!g.dirty) return g;
    g.dirty = false;
    g.always = false;
    g.buyLimitMax = Number.NEGATIVE_INFINITY;
    g.sellLimitMin = Number.POSITIVE_INFINITY;
    g.buyStopMin = Number.POSITIVE_INFINITY;
    g.sellStopMax = Number.NEGATIVE_INFINITY;
    for (const o of list) {
      const buy = o.side === OrderSide.Bid;
      if (o.type === OrderType.Market || o.type === OrderType.TrailingStop || o.triggered) g.always = true;
      else if (o.type === OrderType.Stop || o.type === OrderType.StopLimit) {
        if (buy) g.buyStopMin = Math.min(g.buyStopMin, o.stopPrice!);
        else g.sellStopMax = Math.max(g.sellStopMax, o.stopPrice!);
      } else if (buy) g.buyLimitMax = Math.max(g.buyLimitMax, o.limitPrice!);
      else g.sellLimitMin = Math.min(g.sellLimitMin, o.limitPrice!);
    }
    return g;
  }

  private matchLimit(o: SimOrder, m: ContractMarket, trade: number | null): void {
    const buy = o.side === OrderSide.Bid;
    const limit = o.limitPrice!;
    if (trade === null) {
      const touch = buy ? m.ask : m.bid;
      if (buy ? touch <= limit : touch >= limit) this.fill(o, m, touch);
    } else if (buy ? trade <= limit : trade >= limit) {
      this.fill(o, m, limit);
    }
  }

  private fill(o: SimOrder, m: ContractMarket, price: number): void {
    const remaining = o.size - o.fillVolume;
    if (remaining <= 0) return;
    const chunk = Math.max(1, Math.ceil(o.size / this.chunks));
    const qty = Math.min(chunk, remaining);
    const now = this.clock();
    o.fillVolume += qty;
    o.fillCost += BigInt(price) * BigInt(qty);
    o.filledPrice = Number(o.fillCost / BigInt(o.fillVolume));
    o.updated = now;
    if (o.fillVolume === o.size) {
      o.status = OrderStatus.Filled;
      this.unwork(o);
    }
    const booked = this.book(o, price, qty, now);
    for (const kind of this.faults.fillEventOrder() ?? DEFAULT_FILL_EVENT_ORDER) {
      if (kind === 'order') this.events.order(o);
      else if (kind === 'trade') this.events.trade(booked.trade);
      else if (kind === 'position') this.events.position(booked.position);
      else this.events.account(booked.account);
    }
    if (o.status === OrderStatus.Filled) this.completed(o, m);
  }

  /** After an order became Filled (by its last fill or by a modify down to its fill volume): brackets and OCO. */
  private completed(o: SimOrder, m: ContractMarket): void {
    if (o.children.length > 0) this.releaseChildren(o, m);
    if (o.parentOrderId !== null && o.linkedOrderId !== null) {
      const sibling = this.orders.get(o.linkedOrderId);
      if (sibling && WORKING.has(sibling.status)) this.finish(sibling, OrderStatus.Cancelled);
    }
  }

  private releaseChildren(parent: SimOrder, m: ContractMarket): void {
    const entry = parent.filledPrice!;
    for (const id of parent.children) {
      const c = this.orders.get(id);
      if (!c || c.status !== OrderStatus.Suspended) continue;
      if (!c.priceFixed && c.bracketTicks !== null) {
        const p = entry + c.bracketTicks * c.contract.tick;
        if (c.type === OrderType.Limit) c.limitPrice = p;
        else c.stopPrice = p;
      }
      c.size = parent.size;
      c.status = OrderStatus.Open;
      c.updated = this.clock();
      this.events.order(c);
      this.activate(c, m);
    }
  }

  private unwork(o: SimOrder): void {
    const list = this.working.get(o.contract.id);
    if (!list) return;
    this.touch(o.contract.id);
    const i = list.indexOf(o);
    if (i >= 0) list.splice(i, 1);
  }

  private finish(o: SimOrder, status: number): void {
    o.status = status;
    o.updated = this.clock();
    this.unwork(o);
    this.events.order(o);
    for (const id of o.children) {
      const c = this.orders.get(id);
      if (c && c.status === OrderStatus.Suspended) this.finish(c, status);
    }
  }

  /** Position, half-turn trade row and balance for one fill; the caller publishes them (fillEventOrder). */
  private book(o: SimOrder, price: number, qty: number, now: number): { trade: SimTrade; position: SimPosition; account: SimAccount } {
    const account = this.accounts.get(o.accountId)!;
    const positions = this.positions.get(o.accountId)!;
    const c = o.contract;
    const signed = o.side === OrderSide.Bid ? qty : -qty;
    let pos = positions.get(c.id);
    let pnl: number | null = null;
    if (!pos || pos.size === 0) {
      pos = { id: this.nextPositionId++, accountId: o.accountId, contract: c, created: now, size: signed, avg: price };
      positions.set(c.id, pos);
    } else if (Math.sign(pos.size) === Math.sign(signed)) {
      const total = Math.abs(pos.size) + qty;
      pos.avg = Number((BigInt(pos.avg) * BigInt(Math.abs(pos.size)) + BigInt(price) * BigInt(qty)) / BigInt(total));
      pos.size += signed;
    } else {
      const closing = Math.min(qty, Math.abs(pos.size));
      pnl = pos.size > 0 ? pnlUnits(pos.avg, price, closing, c.tick, c.tickValue) : pnlUnits(price, pos.avg, closing, c.tick, c.tickValue);
      const rest = qty - closing;
      pos.size += pos.size > 0 ? -closing : closing;
      if (pos.size === 0 && rest > 0) {
        // Flip: the remainder opens a new position at the fill price.
        pos = { id: this.nextPositionId++, accountId: o.accountId, contract: c, created: now, size: o.side === OrderSide.Bid ? rest : -rest, avg: price };
        positions.set(c.id, pos);
      }
    }
    const fees = c.fee * qty;
    const t: SimTrade = { id: this.nextTradeId++, accountId: o.accountId, contractId: c.id, created: now, price, pnl, fees, side: o.side, size: qty, orderId: o.id };
    this.tradesByAccount.get(o.accountId)!.push(t);
    account.balance += (pnl ?? 0) - fees;
    if (pos.size === 0) positions.delete(c.id);
    return { trade: t, position: pos, account };
  }

  // ---- modify / cancel -----------------------------------------------------------------------

  modify(accountId: number, orderId: number, size: number | null, limitPrice: number | null, stopPrice: number | null, trailPrice: number | null): Outcome {
    if (!this.accounts.has(accountId)) return fail(1, 'Account not found');
    const o = this.orders.get(orderId);
    if (!o || o.accountId !== accountId) return fail(2, 'Order not found');
    if (!WORKING.has(o.status)) return fail(3, 'Order is not working');
    const m = this.markets.get(o.contract.id);
    if (!m) return fail(7, 'Contract not found');
    const tick = o.contract.tick;
    if (size !== null && (!Number.isSafeInteger(size) || size <= 0 || size < o.fillVolume)) return fail(3, 'Invalid order size');
    for (const p of [limitPrice, stopPrice]) {
      if (p !== null && (Number.isNaN(p) || p <= 0)) return fail(3, 'Invalid price');
      if (p !== null && p % tick !== 0) return fail(3, 'Invalid price. Price is not aligned to tick size.');
    }
    let trailTicks: number | null = null;
    if (trailPrice !== null) {
      if (o.type !== OrderType.TrailingStop) return fail(3, 'Trail price only applies to trailing stops');
      if (Number.isNaN(trailPrice) || trailPrice % tick !== 0) return fail(3, 'Invalid trail price. Price is not aligned to tick size.');
      if (m.lastTradeAt === 0 && m.volume === 0) return fail(3, 'Cannot trail without a last price');
      // No 1000-tick guard on modify (topstepx-api.md §5.5).
      trailTicks = Math.trunc(Math.abs(m.last - trailPrice) / tick);
      if (trailTicks <= 0) return fail(3, 'Trail Distance not set.');
    }
    if (limitPrice !== null && o.type !== OrderType.Limit && o.type !== OrderType.StopLimit && o.type !== OrderType.JoinBid && o.type !== OrderType.JoinAsk) {
      return fail(3, 'Limit price only applies to limit orders');
    }
    if (stopPrice !== null && o.type !== OrderType.Stop && o.type !== OrderType.StopLimit && o.type !== OrderType.TrailingStop) {
      return fail(3, 'Stop price only applies to stop orders');
    }
    if (size !== null) o.size = size;
    if (limitPrice !== null) o.limitPrice = limitPrice;
    if (stopPrice !== null) o.stopPrice = stopPrice;
    if (trailTicks !== null) {
      o.trailTicks = trailTicks;
      o.stopPrice = o.side === OrderSide.Ask ? m.last - trailTicks * tick : m.last + trailTicks * tick;
    }
    this.touch(o.contract.id);
    if (o.status === OrderStatus.Suspended && (limitPrice !== null || stopPrice !== null || trailTicks !== null)) o.priceFixed = true;
    o.updated = this.clock();
    this.events.order(o);
    if (o.status === OrderStatus.Open && !o.deferred) {
      if (o.fillVolume >= o.size) {
        o.status = OrderStatus.Filled;
        this.unwork(o);
        this.events.order(o);
        this.completed(o, m);
      } else {
        this.evaluate(o, m, null);
      }
    }
    return ok();
  }

  cancel(accountId: number, orderId: number): Outcome {
    const account = this.accounts.get(accountId);
    if (!account) return fail(1, 'Account not found');
    if (account.follower) return fail(6, 'Follower accounts cannot cancel orders');
    if (!account.simulated) return fail(6, 'Live accounts not supported');
    const o = this.orders.get(orderId);
    if (!o || o.accountId !== accountId) return fail(2, 'Order not found');
    if (!WORKING.has(o.status)) return fail(3, 'Order is not working');
    this.finish(o, OrderStatus.Cancelled);
    return ok();
  }

  // ---- positions -----------------------------------------------------------------------------

  /** Flatten (size null) or reduce a position with a market order; other working orders stay alive. */
  close(accountId: number, contractId: string, size: number | null, partial: boolean): Outcome {
    if (!this.accounts.has(accountId)) return fail(1, 'Account not found');
    const m = this.markets.get(contractId);
    if (!m) return fail(3, 'Contract not found');
    const pos = this.positions.get(accountId)!.get(contractId);
    if (!pos || pos.size === 0) return fail(2, 'Position not found');
    if (!m.contract.active) return fail(4, 'Contract is not active');
    const held = Math.abs(pos.size);
    let qty = held;
    if (partial) {
      if (size === null || !Number.isSafeInteger(size) || size <= 0 || size > held) return fail(5, 'Invalid close size');
      qty = size;
    }
    const placed = this.place({
      accountId,
      contractId,
      type: OrderType.Market,
      side: pos.size > 0 ? OrderSide.Ask : OrderSide.Bid,
      size: qty,
      limitPrice: null,
      stopPrice: null,
      trailPrice: null,
      customTag: null,
      stopLossBracket: null,
      takeProfitBracket: null,
    });
    if (placed.errorCode !== 0) return fail(partial ? 6 : 5, null);
    return ok();
  }

  openPositions(accountId: number): SimPosition[] {
    return [...(this.positions.get(accountId)?.values() ?? [])].filter((p) => p.size !== 0);
  }
}

// ---- wire views ----------------------------------------------------------------------------

type PriceOut = (units: number | null) => unknown;
const decimalPrice: PriceOut = (u) => Decimal.price(u);
const numberPrice: PriceOut = (u) => (u === null ? null : u / 1e9);

export function orderView(o: SimOrder, numbers = false): Record<string, unknown> {
  const px = numbers ? numberPrice : decimalPrice;
  const trailing = o.type === OrderType.TrailingStop && o.trailTicks !== null;
  return {
    id: o.id,
    accountId: o.accountId,
    contractId: o.contract.id,
    symbolId: o.contract.symbolId,
    creationTimestamp: formatTimestamp(o.created),
    updateTimestamp: formatTimestamp(o.updated),
    status: o.status,
    type: o.type,
    side: o.side,
    size: o.size,
    limitPrice: px(o.limitPrice),
    stopPrice: px(o.stopPrice),
    fillVolume: o.fillVolume,
    filledPrice: px(o.filledPrice),
    customTag: o.customTag,
    // Read-back trailPrice is the trail distance in price units, not the submitted level.
    trailDistance: trailing ? o.trailTicks : null,
    trailPrice: trailing ? px(o.trailTicks! * o.contract.tick) : null,
    parentOrderId: o.parentOrderId,
    linkedOrderId: o.linkedOrderId,
  };
}

/** The GatewayUserOrder payload: the documented realtime fields only. */
export function userOrderView(o: SimOrder): Record<string, unknown> {
  return {
    id: o.id,
    accountId: o.accountId,
    contractId: o.contract.id,
    symbolId: o.contract.symbolId,
    creationTimestamp: formatTimestamp(o.created),
    updateTimestamp: formatTimestamp(o.updated),
    status: o.status,
    type: o.type,
    side: o.side,
    size: o.size,
    limitPrice: Decimal.price(o.limitPrice),
    stopPrice: Decimal.price(o.stopPrice),
    fillVolume: o.fillVolume,
    filledPrice: Decimal.price(o.filledPrice),
    customTag: o.customTag,
  };
}

export function positionView(p: SimPosition): Record<string, unknown> {
  return {
    id: p.id,
    accountId: p.accountId,
    contractId: p.contract.id,
    contractDisplayName: p.contract.spec.name,
    creationTimestamp: formatTimestamp(p.created),
    type: p.size > 0 ? PositionType.Long : p.size < 0 ? PositionType.Short : PositionType.Undefined,
    size: Math.abs(p.size),
    averagePrice: Decimal.price(p.avg),
  };
}

export function tradeView(t: SimTrade): Record<string, unknown> {
  return {
    id: t.id,
    accountId: t.accountId,
    contractId: t.contractId,
    creationTimestamp: formatTimestamp(t.created),
    price: Decimal.price(t.price),
    profitAndLoss: Decimal.money(t.pnl),
    fees: Decimal.money(t.fees),
    side: t.side,
    size: t.size,
    voided: false,
    orderId: t.orderId,
  };
}

export function accountView(a: SimAccount): Record<string, unknown> {
  return { id: a.id, name: a.name, balance: Decimal.money(a.balance), canTrade: a.canTrade, isVisible: a.isVisible, simulated: a.simulated };
}
