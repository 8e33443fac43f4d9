// The messages between the orders module (engine main thread) and the order-executor threads: one
// structured-clonable task per order (one postMessage round trip through piscina), and the answer.
// Broker-shaped values (order type and side numbers, double prices) are computed on the main thread
// so the executor does no re-parsing on the hot path.
import type { Reservation } from '@gateway/risk-gate';

/** What the risk gate reserved for an in-flight order; the main thread releases it exactly once (ADR 0003). */
export type ReservationRecord = Reservation;

/** One order to place. Everything the journal needs to rebuild the book travels with it. */
export interface PlaceTask {
  readonly kind: 'place';
  readonly orderId: string;
  readonly accountId: number;
  readonly accountSlot: number;
  readonly contractId: string;
  readonly contractSlot: number;
  /** As the client sent it (root or contract id). */
  readonly symbol: string;
  /** 'BUY' | 'SELL' */
  readonly side: 'BUY' | 'SELL';
  readonly quantity: number;
  /** MARKET, LIMIT, STOP, TRAILING_STOP, JOIN_BID, JOIN_ASK */
  readonly orderType: string;
  /** Gateway OrderType number. */
  readonly brokerType: number;
  readonly limitPrice?: number;
  readonly stopPrice?: number;
  readonly trailPrice?: number;
  readonly stopLossTicks?: number;
  readonly takeProfitTicks?: number;
  readonly reduceOnly: boolean;
  readonly strategyName: string;
  readonly clientOrderId: string;
  /** Canonical parameters: a repeated client order id with other parameters is ALREADY_EXISTS. */
  readonly paramsKey: string;
  readonly customTag: string;
  readonly counter: number;
  readonly createdAtMs: number;
  /**
   * Epoch ms after which the order must not be sent (the gRPC deadline); 0 = none. The executor checks it before and
   * after its waits and hands it to the broker client, which does not write the order past it either (a wait for a
   * pool connection or a re-login): both answer `not-sent` DEADLINE.
   */
  readonly deadlineMs: number;
  /** Already gated (PlaceBatch all_or_none reserves the whole batch first): the executor skips the gate. */
  readonly reservation?: ReservationRecord;
  /**
   * The intent is on disk already (PlaceBatch commits every intent of the batch in one JournalTask before
   * any order is sent): the executor skips its append, and an order it then refuses to send (gate,
   * deadline, rate budget) gets a not-sent outcome line, so the replay knows it never left.
   */
  readonly journaled?: boolean;
}

/**
 * The intents of several orders appended and fdatasync'd together (one group commit): PlaceBatch sends it
 * before the batch's first order, so a batch costs one sync instead of one per executor turn.
 */
export interface JournalTask {
  readonly kind: 'journal';
  readonly tasks: readonly PlaceTask[];
}

/** Whether the intents of a JournalTask are durable (if not, none of its orders may be sent). */
export type JournalResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

export type PlaceOutcome =
  /** Order/place success:true. */
  | { readonly outcome: 'accepted'; readonly brokerOrderId: number; readonly reservation?: ReservationRecord }
  /** The risk gate refused it: nothing sent (nothing journaled either, unless the task was journaled). */
  | { readonly outcome: 'denied'; readonly reasonCode: string; readonly message: string }
  /** Order/place success:false: the broker's code name and text; a rejected place may carry an id. */
  | { readonly outcome: 'rejected'; readonly codeName: string; readonly message: string; readonly brokerOrderId?: number; readonly reservation?: ReservationRecord }
  /** Sent, no answer: resolve by custom tag, never resend. */
  | { readonly outcome: 'unknown'; readonly message: string; readonly sentAtMs: number; readonly reservation?: ReservationRecord }
  /** Not sent (deadline passed, rate budget exhausted, queue full, broker unreachable before sending). */
  | {
      readonly outcome: 'not-sent';
      readonly code: 'DEADLINE' | 'UNAVAILABLE' | 'ORDER_RATE' | 'QUEUE_FULL' | 'INTERNAL';
      readonly message: string;
      readonly reservation?: ReservationRecord;
    };

/** The broker calls other than place, run on an executor thread so they share its rate budget and pool. */
export type RestMethod =
  | 'cancelOrder'
  | 'modifyOrder'
  | 'closeContract'
  | 'partialCloseContract'
  | 'searchOrders'
  | 'searchOpenOrders'
  | 'searchOpenPositions'
  | 'queryAllOrders';

export interface RestTask {
  readonly kind: 'rest';
  readonly method: RestMethod;
  readonly args: readonly unknown[];
  /**
   * Epoch ms from which the request must not be sent (the client's deadline); absent or 0 = none. The executor
   * checks it on arrival and again right before the send, after any wait for a rate-budget token, so a call held in
   * the queue or the budget is answered RestNotSentDeadline instead of going out late; it also hands it to the broker
   * client, which does not write the request past it (a wait for a pool connection or a re-login after HTTP 401) and
   * is answered the same. Set by CancelOrder, ModifyOrder and ClosePosition's close; never by FlattenAll's calls
   * (checked on arrival only: once started it runs to the end) nor by reads.
   */
  readonly deadlineMs?: number;
}

/**
 * The executor's answer to a RestTask whose deadline passed before the request was sent (its own check, or the broker
 * client's refusal to write it): nothing was sent.
 */
export interface RestNotSentDeadline {
  readonly ok: false;
  readonly code: 'DEADLINE';
  /** Tells this answer from a broker error carrying the same code: only the executor sets it, never from a broker answer. */
  readonly notSent: true;
  readonly message: string;
}

/** A broker call's answer; errors travel as data (class identity does not survive postMessage). */
export type RestResult =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      /** The topstepx error code (GATEWAY_ERROR, UNKNOWN_OUTCOME, …). */
      readonly code: string;
      readonly codeName?: string;
      readonly message: string;
    }
  | RestNotSentDeadline;

/** Whether a RestResult is the executor's "not sent: deadline" (and not an error that may follow a send). */
export function isRestNotSentDeadline(r: RestResult): r is RestNotSentDeadline {
  return !r.ok && 'notSent' in r && r.notSent === true;
}

export type OrderTask = PlaceTask | RestTask | JournalTask;
