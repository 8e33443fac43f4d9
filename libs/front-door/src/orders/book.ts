// The order book of record: one state machine per order, indexed by our id, the broker's id, the
// custom tag and (account, client order id). Fed by the executor's answers, the risk-manager's
// user-hub events and reconciliation. Main thread only.
import { OrderStateMachine, newOrderRecord, priceToUnits, type OrderEvent, type OrderRecord, isFinalOrderState } from '@gateway/orders';
import type { PlaceTask, ReservationRecord } from '@gateway/order-journal';

/** The fields an entry shares with the executor's task (documented there). */
type TaskFields =
  | 'orderId'
  | 'accountId'
  | 'accountSlot'
  | 'contractId'
  | 'contractSlot'
  | 'symbol'
  | 'side'
  | 'quantity'
  | 'orderType'
  | 'strategyName'
  | 'clientOrderId'
  | 'paramsKey'
  | 'customTag'
  | 'counter';

/**
 * `quantity` is the size placed: the bound of a modify and of the reservation. The order's size and price level now
 * (after a modify) are `sm.record.quantity` and `sm.record.priceUnits`.
 */
export interface OrderEntry extends Pick<PlaceTask, TaskFields> {
  /** Bracket ticks as sent; 0 = none. */
  readonly stopLossTicks: number;
  readonly takeProfitTicks: number;
  readonly sm: OrderStateMachine;
  /** Held in shared memory until the risk-manager has applied the order (ADR 0003). */
  reservation: ReservationRecord | undefined;
  /** Epoch ms the intent was journalled (the resolver searches from there). */
  sentAtMs: number | undefined;
  /** Resolves when the first answer is known (a duplicate request waits for it). */
  settled: Promise<void>;
  settle: () => void;
  /** Background resolution of an unknown outcome: searches done while the order was absent. */
  absentSearches: number;
}

export type OrderEntryInit = Omit<OrderEntry, 'sm' | 'reservation' | 'sentAtMs' | 'settled' | 'settle' | 'absentSearches'> & {
  createdAtMs: number;
  /** The order's own price level placed (limit, stop or trail start) as a double; undefined for market/join orders. */
  price: number | undefined;
};

export type BookListener = (entry: OrderEntry) => void;

/**
 * Final orders kept in memory (GetOrderStatus, duplicates); older final orders without a client order id
 * are forgotten. An entry costs about 1.6 KB of heap, so orders without a client order id hold the book near
 * 3 MB whatever the order rate: 2,000 is about 7 minutes at a steady 5 orders/s, days of a typical strategy's
 * orders. Orders with a client order id are kept for the life of the process (the idempotency record).
 */
export const DEFAULT_MAX_FINAL_RETAINED = 2_000;

export class OrderBook {
  private readonly byId = new Map<string, OrderEntry>();
  private readonly byBrokerId = new Map<number, OrderEntry>();
  private readonly byTag = new Map<string, OrderEntry>();
  private readonly byClientId = new Map<string, OrderEntry>();
  private readonly listeners = new Set<BookListener>();
  /** Final orders in the order they became final: the oldest are evicted past maxFinalRetained. */
  private finals: OrderEntry[] = [];
  private finalsHead = 0;
  private readonly queuedFinal = new WeakSet<OrderEntry>();

  /**
   * @param maxFinalRetained Final orders kept in memory. Beyond it the oldest final orders are forgotten
   *   (their journal lines stay on disk), so a long-running engine's memory does not grow with every
   *   order. Orders carrying a client order id are never forgotten: they are the idempotency record.
   */
  constructor(
    private readonly onIssue?: (issue: string, entry: OrderEntry, event: OrderEvent) => void,
    private readonly maxFinalRetained = DEFAULT_MAX_FINAL_RETAINED,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  add(init: OrderEntryInit): OrderEntry {
    const { createdAtMs } = init;
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    // Field by field on purpose: `{ createdAtMs, ...rest } = init` then `{ ...rest, … }` took V8's slow path
    // (a dictionary-mode object), about 15–25 µs per order on the main thread against 0.2 µs for this.
    const entry: OrderEntry = {
      orderId: init.orderId,
      accountId: init.accountId,
      accountSlot: init.accountSlot,
      contractId: init.contractId,
      contractSlot: init.contractSlot,
      symbol: init.symbol,
      side: init.side,
      quantity: init.quantity,
      orderType: init.orderType,
      strategyName: init.strategyName,
      clientOrderId: init.clientOrderId,
      paramsKey: init.paramsKey,
      customTag: init.customTag,
      counter: init.counter,
      stopLossTicks: init.stopLossTicks,
      takeProfitTicks: init.takeProfitTicks,
      sm: undefined as unknown as OrderStateMachine,
      reservation: undefined,
      sentAtMs: undefined,
      settled,
      settle,
      absentSearches: 0,
    };
    const priceUnits = init.price === undefined ? undefined : priceToUnits(init.price);
    (entry as { sm: OrderStateMachine }).sm = new OrderStateMachine(newOrderRecord(init.orderId, init.quantity, createdAtMs, priceUnits), (issue, ev) =>
      this.onIssue?.(issue, entry, ev),
    );
    this.byId.set(entry.orderId, entry);
    this.byTag.set(entry.customTag, entry);
    if (entry.clientOrderId !== '') this.byClientId.set(clientKey(entry.accountId, entry.clientOrderId), entry);
    return entry;
  }

  /** Forget the client order id of an order that was never sent for a transient reason, so a retry places anew. */
  releaseClientId(entry: OrderEntry): void {
    const key = clientKey(entry.accountId, entry.clientOrderId);
    if (this.byClientId.get(key) === entry) this.byClientId.delete(key);
  }

  get(orderId: string): OrderEntry | undefined {
    return this.byId.get(orderId);
  }

  /** Our id, or the broker's id in decimal. */
  find(id: string): OrderEntry | undefined {
    const own = this.byId.get(id);
    if (own) return own;
    if (/^\d{1,15}$/.test(id)) return this.byBrokerId.get(Number(id));
    return undefined;
  }

  byBroker(brokerOrderId: number): OrderEntry | undefined {
    return this.byBrokerId.get(brokerOrderId);
  }

  byCustomTag(tag: string): OrderEntry | undefined {
    return this.byTag.get(tag);
  }

  byClientOrderId(accountId: number, clientOrderId: string): OrderEntry | undefined {
    return this.byClientId.get(clientKey(accountId, clientOrderId));
  }

  entries(): IterableIterator<OrderEntry> {
    return this.byId.values();
  }

  /** Applies an event; listeners hear every applied change, in order. Returns whether the record changed. */
  apply(entry: OrderEntry, event: OrderEvent): boolean {
    const r = entry.sm.apply(event);
    if (!r.applied) return false;
    const id = r.record.brokerOrderId;
    if (id !== undefined && this.byBrokerId.get(id) !== entry) this.byBrokerId.set(id, entry);
    for (const l of this.listeners) l(entry);
    if (isFinal(r.record) && !this.queuedFinal.has(entry)) this.retire(entry);
    return true;
  }

  private retire(entry: OrderEntry): void {
    this.queuedFinal.add(entry);
    this.finals.push(entry);
    while (this.finals.length - this.finalsHead > this.maxFinalRetained) this.forget(this.finals[this.finalsHead++]!);
    if (this.finalsHead > 1024 && this.finalsHead * 2 > this.finals.length) {
      this.finals = this.finals.slice(this.finalsHead);
      this.finalsHead = 0;
    }
  }

  private forget(entry: OrderEntry): void {
    if (entry.clientOrderId !== '') return;
    if (this.byId.get(entry.orderId) === entry) this.byId.delete(entry.orderId);
    if (this.byTag.get(entry.customTag) === entry) this.byTag.delete(entry.customTag);
    const id = entry.sm.record.brokerOrderId;
    if (id !== undefined && this.byBrokerId.get(id) === entry) this.byBrokerId.delete(id);
  }

  subscribe(listener: BookListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function clientKey(accountId: number, clientOrderId: string): string {
  return `${accountId}\u0000${clientOrderId}`;
}

export function isFinal(record: OrderRecord): boolean {
  return isFinalOrderState(record.status);
}

/** The fields of a broker order (user hub GatewayUserOrder or REST search row) the book reads. */
export interface BrokerOrderSnapshot {
  readonly id: number;
  readonly status: number;
  readonly fillVolume?: number | null;
  readonly filledPrice?: number | null;
  readonly size?: number | null;
  readonly limitPrice?: number | null;
  readonly stopPrice?: number | null;
}

/** The broker price field that is the order's own level, by order type (see OrderRecord.priceUnits). */
function ownLevel(orderType: string): 'limit' | 'stop' | 'trail' | undefined {
  switch (orderType) {
    case 'LIMIT':
    case 'JOIN_BID':
    case 'JOIN_ASK':
      return 'limit';
    case 'STOP':
      return 'stop';
    case 'TRAILING_STOP':
      return 'trail';
    default:
      return undefined;
  }
}

const unitsOf = (price: number | null | undefined): number | undefined => (typeof price === 'number' ? priceToUnits(price) : undefined);

/**
 * The book event of a broker order: status, fills, its size and its own price level. A trailing stop's broker
 * stopPrice moves with the market, so its level comes only from what was placed or modified.
 */
export function brokerOrderEvent(entry: OrderEntry, o: BrokerOrderSnapshot, atMs: number): OrderEvent {
  const filled = unitsOf(o.filledPrice);
  const level = ownLevel(entry.orderType);
  const price = level === 'limit' ? unitsOf(o.limitPrice) : level === 'stop' ? unitsOf(o.stopPrice) : undefined;
  return {
    kind: 'broker',
    brokerOrderId: o.id,
    status: o.status,
    fillVolume: o.fillVolume ?? 0,
    ...(filled !== undefined ? { filledPriceUnits: filled } : {}),
    ...(typeof o.size === 'number' ? { size: o.size } : {}),
    ...(price !== undefined ? { priceUnits: price } : {}),
    atMs,
  };
}

/** The new price level of a ModifyOrder the broker accepted: the one of its fields that is the order type's own level. */
export function modifiedPriceUnits(orderType: string, req: { readonly price?: number; readonly stopPrice?: number; readonly trailPrice?: number }): number | undefined {
  const level = ownLevel(orderType);
  return unitsOf(level === 'limit' ? req.price : level === 'stop' ? req.stopPrice : level === 'trail' ? req.trailPrice : undefined);
}
