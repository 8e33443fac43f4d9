// The life of one order in the engine's order book, and how broker events move it.
//
//   NEW ──sent──▶ SENT ──accepted──▶ WORKING ──fill──▶ PARTIALLY_FILLED ──▶ FILLED
//    │             │  ╲                 │                     │
//    │             │   unknownOutcome   └──────────┬──────────┘
//    │             │        ▼                      ▼
//    │             │     UNKNOWN ──(broker/reconciliation)──▶ any later state
//    └──rejected───┴──────────────────────────────▶ REJECTED · CANCELLED · EXPIRED  (final)
//
// Events may arrive late or twice (REST answer vs user hub, hub reconnect replays). A status never
// moves backwards, a final status never changes, and the filled volume never decreases: such events
// are ignored and reported as an issue, and the record is returned unchanged.
//
// The size and the order's own price level follow a modify: the broker's success answer to it
// (`modified`) and every broker snapshot that carries them (the user hub's order event after a modify,
// made by the engine or anywhere else, and search rows). The last one applied wins: a snapshot read
// before a modify and applied after it shows the old values until the next event or refresh.

export const ORDER_STATES = [
  'NEW',
  'SENT',
  'WORKING',
  'PARTIALLY_FILLED',
  'FILLED',
  'CANCELLED',
  'REJECTED',
  'EXPIRED',
  'UNKNOWN',
] as const;
export type OrderState = (typeof ORDER_STATES)[number];

/** The proto `orders.OrderStatus` number of each state (pinned by a test against the generated enum). */
export const ORDER_STATE_NUMBER: Readonly<Record<OrderState, number>> = {
  NEW: 1,
  SENT: 2,
  WORKING: 3,
  PARTIALLY_FILLED: 4,
  FILLED: 5,
  CANCELLED: 6,
  REJECTED: 7,
  EXPIRED: 8,
  UNKNOWN: 9,
};

export const FINAL_ORDER_STATES: readonly OrderState[] = ['FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED'];

/**
 * Gateway OrderStatus numbers, the same integers as `OrderStatus` in @gateway/topstepx (a domain lib may
 * not import that io lib): 0 None, 1 Open, 2 Filled, 3 Cancelled, 4 Expired, 5 Rejected, 6 Pending,
 * 7 PendingCancellation, 8 Suspended (a bracket child waiting for its parent's fill).
 */
export const BrokerOrderStatus = {
  None: 0,
  Open: 1,
  Filled: 2,
  Cancelled: 3,
  Expired: 4,
  Rejected: 5,
  Pending: 6,
  PendingCancellation: 7,
  Suspended: 8,
} as const;
export type BrokerOrderStatus = (typeof BrokerOrderStatus)[keyof typeof BrokerOrderStatus];

/** Our state for a broker status and cumulative fill volume; undefined for None or an unknown number. */
export function mapBrokerStatus(status: number, fillVolume: number): OrderState | undefined {
  switch (status) {
    case BrokerOrderStatus.Open:
    case BrokerOrderStatus.PendingCancellation:
    case BrokerOrderStatus.Suspended:
      return fillVolume > 0 ? 'PARTIALLY_FILLED' : 'WORKING';
    case BrokerOrderStatus.Pending:
      return fillVolume > 0 ? 'PARTIALLY_FILLED' : 'SENT';
    case BrokerOrderStatus.Filled:
      return 'FILLED';
    case BrokerOrderStatus.Cancelled:
      return 'CANCELLED';
    case BrokerOrderStatus.Expired:
      return 'EXPIRED';
    case BrokerOrderStatus.Rejected:
      return 'REJECTED';
    default:
      return undefined;
  }
}

export interface OrderRecord {
  readonly orderId: string;
  readonly status: OrderState;
  /** The order's size: as placed, then as last modified. Never below filledQuantity. */
  readonly quantity: number;
  /**
   * The order's own price level in 1e-9 units (limit for LIMIT and JOIN orders, stop for STOP, the trail level
   * for TRAILING_STOP): as placed, then as last modified; undefined for market orders.
   */
  readonly priceUnits: number | undefined;
  /** Cumulative filled contracts; never decreases. */
  readonly filledQuantity: number;
  /** Average fill price in 1e-9 units, as the broker reports it. */
  readonly averageFillPriceUnits: number | undefined;
  readonly brokerOrderId: number | undefined;
  readonly reasonCode: string | undefined;
  readonly message: string | undefined;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  /** +1 on every applied change: the OrderUpdate.sequence of the stream. */
  readonly version: number;
}

export type OrderEvent =
  /** Intent journalled, request on the wire. */
  | { readonly kind: 'sent'; readonly atMs: number }
  /** Order/place answered success:true. */
  | { readonly kind: 'accepted'; readonly brokerOrderId: number; readonly atMs: number }
  /** Refused: by the risk gate (before sending), by the broker (success:false), or reconciliation found no order. */
  | {
      readonly kind: 'rejected';
      readonly reasonCode: string;
      readonly message: string;
      readonly brokerOrderId?: number;
      readonly atMs: number;
    }
  /** Sent and no answer (timeout, dropped connection): resolved later by custom tag. */
  | { readonly kind: 'unknownOutcome'; readonly message: string; readonly atMs: number }
  /** A modify the broker answered success:true: the new size and/or price level (absent: unchanged). */
  | { readonly kind: 'modified'; readonly quantity?: number; readonly priceUnits?: number; readonly atMs: number }
  /**
   * A broker snapshot of the order: user hub GatewayUserOrder or a REST search row. `size` and `priceUnits` (the
   * order's own level, see OrderRecord) when it carries them; the fill volume is bounded by `size` when given.
   */
  | {
      readonly kind: 'broker';
      readonly brokerOrderId: number;
      readonly status: number;
      readonly fillVolume: number;
      readonly filledPriceUnits?: number;
      readonly size?: number;
      readonly priceUnits?: number;
      readonly atMs: number;
    };

export interface ApplyResult {
  readonly record: OrderRecord;
  /** True when the record changed (and its version went up). */
  readonly applied: boolean;
  /** Why an event was ignored: an illegal transition, a fill regression, a foreign broker id. */
  readonly issue?: string;
}

/** `priceUnits`: the order's own price level (see OrderRecord); undefined for market orders. */
export function newOrderRecord(orderId: string, quantity: number, createdAtMs: number, priceUnits?: number): OrderRecord {
  if (!Number.isSafeInteger(quantity) || quantity < 1) {
    throw new RangeError(`newOrderRecord: quantity must be a positive integer, got ${quantity}`);
  }
  return {
    orderId,
    status: 'NEW',
    quantity,
    priceUnits,
    filledQuantity: 0,
    averageFillPriceUnits: undefined,
    brokerOrderId: undefined,
    reasonCode: undefined,
    message: undefined,
    createdAtMs,
    updatedAtMs: createdAtMs,
    version: 0,
  };
}

export function isFinalOrderState(state: OrderState): boolean {
  return FINAL_ORDER_STATES.includes(state);
}

// Progress order: a transition must move forward. SENT and UNKNOWN share a rank (both "on the wire").
const RANK: Readonly<Record<OrderState, number>> = {
  NEW: 0,
  SENT: 1,
  UNKNOWN: 1,
  WORKING: 2,
  PARTIALLY_FILLED: 3,
  FILLED: 4,
  CANCELLED: 4,
  REJECTED: 4,
  EXPIRED: 4,
};

/** Whether a record in `from` may move to `to` (a different state). */
export function isLegalTransition(from: OrderState, to: OrderState): boolean {
  if (from === to || isFinalOrderState(from) || to === 'NEW') return false;
  if (to === 'UNKNOWN') return from === 'SENT';
  if (from === 'UNKNOWN') return true;
  return RANK[to] > RANK[from];
}

function ignored(record: OrderRecord, issue?: string): ApplyResult {
  return issue === undefined ? { record, applied: false } : { record, applied: false, issue };
}

function changed(record: OrderRecord, patch: Partial<OrderRecord>, atMs: number): ApplyResult {
  return { record: { ...record, ...patch, updatedAtMs: Math.max(record.updatedAtMs, atMs), version: record.version + 1 }, applied: true };
}

/** Applies one event to a record; pure, the input record is never modified. */
export function applyOrderEvent(record: OrderRecord, event: OrderEvent): ApplyResult {
  switch (event.kind) {
    case 'sent':
      if (record.status !== 'NEW') return ignored(record, `sent: order ${record.orderId} is already ${record.status}`);
      return changed(record, { status: 'SENT' }, event.atMs);

    case 'accepted': {
      if (record.brokerOrderId !== undefined && record.brokerOrderId !== event.brokerOrderId) {
        return ignored(record, `accepted: broker id ${event.brokerOrderId} differs from ${record.brokerOrderId}`);
      }
      // The user hub may have reported the order (even its fill) before the REST answer: keep the
      // later state and only learn the broker id.
      if (RANK[record.status] >= RANK.WORKING) {
        if (record.brokerOrderId === event.brokerOrderId) return ignored(record);
        return changed(record, { brokerOrderId: event.brokerOrderId }, event.atMs);
      }
      if (record.status === 'NEW') return ignored(record, `accepted: order ${record.orderId} was never sent`);
      return changed(record, { status: 'WORKING', brokerOrderId: event.brokerOrderId }, event.atMs);
    }

    case 'rejected': {
      if (!isLegalTransition(record.status, 'REJECTED')) {
        return ignored(record, `rejected: order ${record.orderId} is already ${record.status}`);
      }
      const patch: Partial<OrderRecord> = { status: 'REJECTED', reasonCode: event.reasonCode, message: event.message };
      return changed(record, event.brokerOrderId === undefined ? patch : { ...patch, brokerOrderId: event.brokerOrderId }, event.atMs);
    }

    case 'unknownOutcome':
      if (!isLegalTransition(record.status, 'UNKNOWN')) {
        return ignored(record, `unknownOutcome: order ${record.orderId} is already ${record.status}`);
      }
      return changed(record, { status: 'UNKNOWN', message: event.message }, event.atMs);

    case 'modified':
      return applyModified(record, event);

    case 'broker':
      return applyBrokerSnapshot(record, event);

    default: {
      const unreachable: never = event;
      return ignored(record, `unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

/** The size and price level of a modify or snapshot where they differ from the record's (undefined: not carried). */
function sizePatch(record: OrderRecord, quantity: number | undefined, priceUnits: number | undefined): Partial<OrderRecord> {
  const patch: { quantity?: number; priceUnits?: number } = {};
  if (quantity !== undefined && quantity !== record.quantity) patch.quantity = quantity;
  if (priceUnits !== undefined && priceUnits !== record.priceUnits) patch.priceUnits = priceUnits;
  return patch;
}

function applyModified(record: OrderRecord, event: Extract<OrderEvent, { kind: 'modified' }>): ApplyResult {
  if (isFinalOrderState(record.status)) return ignored(record, `modified: order ${record.orderId} is already ${record.status}`);
  if (record.status === 'NEW') return ignored(record, `modified: order ${record.orderId} was never sent`);
  const { quantity, priceUnits } = event;
  if (quantity !== undefined) {
    if (!Number.isSafeInteger(quantity) || quantity < 1) return ignored(record, `modified: quantity ${quantity} is no positive integer`);
    if (quantity < record.filledQuantity) return ignored(record, `modified: quantity ${quantity} below the ${record.filledQuantity} already filled`);
  }
  if (priceUnits !== undefined && !Number.isSafeInteger(priceUnits)) return ignored(record, `modified: price units ${priceUnits} are no integer`);
  const patch = sizePatch(record, quantity, priceUnits);
  return Object.keys(patch).length === 0 ? ignored(record) : changed(record, patch, event.atMs);
}

function applyBrokerSnapshot(record: OrderRecord, event: Extract<OrderEvent, { kind: 'broker' }>): ApplyResult {
  if (record.brokerOrderId !== undefined && record.brokerOrderId !== event.brokerOrderId) {
    return ignored(record, `broker: event for broker order ${event.brokerOrderId}, record has ${record.brokerOrderId}`);
  }
  const { fillVolume, size, priceUnits } = event;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 1 || (Number.isSafeInteger(fillVolume) && size < fillVolume))) {
    return ignored(record, `broker: size ${size} is no positive integer at least the fill volume ${fillVolume}`);
  }
  if (priceUnits !== undefined && !Number.isSafeInteger(priceUnits)) return ignored(record, `broker: price units ${priceUnits} are no integer`);
  const quantity = size ?? record.quantity;
  if (!Number.isSafeInteger(fillVolume) || fillVolume < 0 || fillVolume > quantity) {
    return ignored(record, `broker: fill volume ${fillVolume} outside 0..${quantity}`);
  }
  if (fillVolume < record.filledQuantity) {
    return ignored(record, `broker: fill volume ${fillVolume} below the ${record.filledQuantity} already filled`);
  }
  const target = mapBrokerStatus(event.status, fillVolume);
  if (target === undefined) return ignored(record, `broker: unknown status ${event.status}`);

  const fillPatch: Partial<OrderRecord> =
    fillVolume > record.filledQuantity
      ? { filledQuantity: fillVolume, averageFillPriceUnits: event.filledPriceUnits ?? record.averageFillPriceUnits }
      : {};
  const idPatch: Partial<OrderRecord> = record.brokerOrderId === undefined ? { brokerOrderId: event.brokerOrderId } : {};
  const modifyPatch = sizePatch(record, size, priceUnits);

  if (target === record.status) {
    // A repeat, a modify, a further fill while PARTIALLY_FILLED, or a final state reported again with a
    // larger fill (a cancel that raced a fill): the fill grows, the state stays.
    const patch = { ...fillPatch, ...idPatch, ...modifyPatch };
    return Object.keys(patch).length === 0 ? ignored(record) : changed(record, patch, event.atMs);
  }
  if (!isLegalTransition(record.status, target)) {
    return ignored(record, `broker: ${record.status} cannot move to ${target} (status ${event.status}, fill ${fillVolume})`);
  }
  return changed(record, { status: target, ...fillPatch, ...idPatch, ...modifyPatch }, event.atMs);
}

/** One order's current record; a thin stateful wrapper over applyOrderEvent that reports ignored events. */
export class OrderStateMachine {
  private current: OrderRecord;
  private readonly onIssue: ((issue: string, event: OrderEvent) => void) | undefined;

  constructor(record: OrderRecord, onIssue?: (issue: string, event: OrderEvent) => void) {
    this.current = record;
    this.onIssue = onIssue;
  }

  get record(): OrderRecord {
    return this.current;
  }

  apply(event: OrderEvent): ApplyResult {
    const result = applyOrderEvent(this.current, event);
    this.current = result.record;
    if (result.issue !== undefined) this.onIssue?.(result.issue, event);
    return result;
  }
}
