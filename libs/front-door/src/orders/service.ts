// The orders service on the engine's main thread: validation, idempotency, order ids and custom
// tags, the order book, the executor pool, reservation release, unknown-outcome resolution and the
// start-up replay of the journal. Both doors (gRPC and the REST twins) call it. Main thread only.
import {
  ClosesInFlight,
  CUSTOM_TAG_PREFIX,
  CustomTagFactory,
  MAX_CLIENT_ORDER_ID_LENGTH,
  ORDER_STATE_NUMBER,
  parseCustomTag,
  priceToUnits,
  unitsToPrice,
  validateOrderRequest,
  type OrderErrorCode,
  type OrderRequestInput,
  type OrderTypeName,
  type ValidatedOrder,
  type ContractInfo as OrderContractInfo,
} from '@gateway/orders';
import {
  JOURNAL_VERSION,
  JournalWriter,
  readJournal,
  type CloseIntentRecord,
  type CloseJournalRecord,
  type CloseOutcomeKind,
  type CloseOutcomeRecord,
  type CloseRequestRecord,
  type IntentRecord,
  type JournalResult,
  type JournalTask,
  type OutcomeRecord,
  type PlaceOutcome,
  type PlaceTask,
  type ReservationRecord,
  type RestMethod,
  type RestResult,
  type RestTask,
  isRestNotSentDeadline,
} from '@gateway/order-journal';
import type { orders } from '@gateway/proto';
import { RiskGate } from '@gateway/risk-gate';
import { newMark, newPositionRecord, type CloseLeaseView } from '@gateway/shared-state';
import { ExecutorTaskError, riskGateOptions, type ContractInfo } from '@gateway/runtime';
import type { GatewayUserOrder, Order as BrokerOrder, Position as BrokerPosition } from '@gateway/topstepx';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { FrontDoorDeps } from '../deps';
import { FrontDoorError } from '../errors';
import { DEFAULT_MAX_FINAL_RETAINED, OrderBook, brokerOrderEvent, clientKey, isFinal, modifiedPriceUnits, type OrderEntry, type OrderEntryInit } from './book';

export interface OrdersOptions {
  /** Largest quantity of one order (default 1000). */
  maxOrderQuantity?: number;
  /** Largest number of orders in one PlaceBatch (default 1000). */
  maxBatchSize?: number;
  /** A live unknown outcome is declared "never placed" only after this long without the tag at the broker (default 30 000 ms). */
  absentAfterMs?: number;
  /**
   * A full close (and each close of a FlattenAll) waits at most this long after the broker's answer for the position
   * to read flat before it cancels the contract's working orders (default 3 000 ms): the broker answers before the
   * exchange fills the close, and a sweep before the fill leaves a close that then fails without its stops.
   */
  closeFlatWaitMs?: number;
  /** A close not flat within that wait cancels the orders it kept once the position reads flat, if within this (default 120 000 ms). */
  deferredSweepMs?: number;
  /** Epoch ms; default Date.now. */
  clock?: () => number;
}

/** An order after prepare(): answered already, a repeat of an earlier client order id, or ready for the executor. */
type Prepared =
  | { readonly kind: 'answer'; readonly result: PlaceResult }
  | { readonly kind: 'repeat'; readonly first: OrderEntry }
  | { readonly kind: 'order'; readonly entry: OrderEntry; readonly task: PlaceTask; readonly startedMs: number };

export interface PlaceResult {
  response: orders.OrderResponse;
  /** Set when the call failed (the gRPC status / HTTP error); a batch turns it into a result instead. */
  error?: FrontDoorError;
}

const BROKER_TYPE: Readonly<Record<OrderTypeName, number>> = { LIMIT: 1, MARKET: 2, STOP: 4, TRAILING_STOP: 5, JOIN_BID: 6, JOIN_ASK: 7 };
/** Gateway OrderStatus numbers for our states (journal status records → broker snapshots on replay). */
const BROKER_STATUS_OF: Readonly<Record<string, number>> = { WORKING: 1, PARTIALLY_FILLED: 1, FILLED: 2, CANCELLED: 3, EXPIRED: 4, REJECTED: 5 };
const WORKING_BROKER_STATUSES = [1, 6, 7, 8];
/** Searches start this long before the earliest order they look for (clock skew with the broker). */
const SEARCH_SKEW_MS = 60_000;
const RESOLVE_FIRST_DELAY_MS = 250;
const RESOLVE_MAX_DELAY_MS = 5_000;
/** Non-final orders are refreshed from the broker this often when no user-hub event moved them (missed events). */
const REFRESH_EVERY_MS = 15_000;
const INT32_MAX = 2_147_483_647;
const DEFAULT_CLOSE_FLAT_WAIT_MS = 3_000;
/** ClosePosition / FlattenAll answers journaled this recently are replayed to a retry after a restart. */
const REQUEST_ID_REPLAY_MS = 86_400_000;
const DEFAULT_DEFERRED_SWEEP_MS = 120_000;
/** Shared memory is read this often while a close waits for flat (no I/O). */
const FLAT_POLL_MS = 50;
/** The broker's positions are read at most this often while shared memory reads flat or cannot tell (outside the directory)… */
const FLAT_REST_MS = 250;
/** …and this often while it reads open (its user hub may lag the broker). */
const FLAT_REST_SLOW_MS = 1_000;
/** A deferred sweep looks this often; it reads the broker's positions at most every FLAT_REST_SLOW_MS when shared memory reads flat, cannot tell or an order event of the contract came, else every DEFERRED_REST_SLOW_MS. */
const DEFERRED_POLL_MS = 250;
const DEFERRED_REST_SLOW_MS = 10_000;

export class OrdersService {
  readonly book: OrderBook;
  private readonly tagFactories = new Map<number, CustomTagFactory>();
  private readonly counterFloor = new Map<number, number>();
  private readonly gate: RiskGate;
  private readonly journal: JournalWriter;
  private readonly clock: () => number;
  /**
   * The engine's closes that may still work at the broker (it fills them after its answer), as leases in shared
   * memory that the risk-manager's enforcement claims too: the sweeps leave exactly those alone, and no second close
   * of a contract goes out over one, whichever thread sent it (both would fill).
   */
  private readonly closes: ClosesInFlight;
  private readonly maxQuantity: number;
  private readonly maxBatch: number;
  private readonly absentAfterMs: number;
  /** The journal's order lines, read once by the first recover() (which replays its closes at once). */
  private journalRecords: ReturnType<typeof readJournal> | undefined;
  private readonly closeFlatWaitMs: number;
  private readonly deferredSweepMs: number;
  /**
   * Closes answered but not flat within closeFlatWaitMs, by "account contract": the contract's working orders when the
   * wait ended (its stops and targets) are cancelled once the position reads flat, until `untilMs`. Orders placed
   * after that are the trader's new intent and are left alone.
   */
  private readonly deferredSweeps = new Map<string, { readonly accountId: number; readonly contractId: string; readonly ids: Set<number>; untilMs: number; nudged: boolean }>();
  private readonly positionScratch = newPositionRecord();
  private readonly runId: string;
  private seq = 0;
  private closeSeq = 0;
  private ready = false;
  private stopped = false;
  private readonly resolving = new Set<OrderEntry>();
  private resolveTimer: NodeJS.Timeout | undefined;
  private resolveDelay = RESOLVE_FIRST_DELAY_MS;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly markScratch = newMark();
  private readonly placed: Counter;
  private readonly latency: Histogram;
  private readonly onEvent = (app: string, topic: string, payload: unknown): void => {
    if (topic !== 'user.order') return;
    const o = payload as GatewayUserOrder;
    this.applyUserOrder(o);
    // A fill of the close may have made the position flat: a deferred sweep of the contract reads the broker soon.
    if (this.deferredSweeps.size > 0) {
      const d = this.deferredSweeps.get(`${o.accountId} ${o.contractId}`);
      if (d) d.nudged = true;
    }
  };

  constructor(
    private readonly deps: FrontDoorDeps,
    options: OrdersOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    // Over the close leases in shared memory, shared with the risk-manager's loss-limit enforcement.
    this.closes = new ClosesInFlight(deps.runtime.state.closes, (tag) => tag.startsWith(CUSTOM_TAG_PREFIX), this.clock, 'front-door');
    this.maxQuantity = options.maxOrderQuantity ?? 1000;
    this.maxBatch = options.maxBatchSize ?? 1000;
    this.absentAfterMs = options.absentAfterMs ?? 30_000;
    this.closeFlatWaitMs = options.closeFlatWaitMs ?? DEFAULT_CLOSE_FLAT_WAIT_MS;
    this.deferredSweepMs = options.deferredSweepMs ?? DEFAULT_DEFERRED_SWEEP_MS;
    this.runId = this.clock().toString(36);
    this.book = new OrderBook((issue, entry) => deps.logger.debug({ orderId: entry.orderId, issue }, 'order event ignored'));
    this.gate = new RiskGate(deps.runtime.state, { ...riskGateOptions(deps.config.risk), ...(options.clock ? { clock: options.clock } : {}) });
    this.journal = new JournalWriter(deps.config.dataDir, `${process.pid}-main`);
    this.placed = new Counter({
      name: 'front_door_orders_total',
      help: 'Orders answered by the front door, by outcome',
      labelNames: ['outcome'],
      registers: [deps.registry],
    });
    this.latency = new Histogram({
      name: 'front_door_place_seconds',
      help: 'PlaceOrder time inside the engine, validation to answer',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [deps.registry],
    });
    const executor = deps.executor;
    new Gauge({
      name: 'executor_queue_size',
      help: 'Order tasks waiting for an executor thread',
      registers: [deps.registry],
      collect() {
        this.set(executor.queueSize);
      },
    });
    const book = this.book;
    new Gauge({
      name: 'order_book_orders',
      help: 'Orders in the order book',
      registers: [deps.registry],
      collect() {
        this.set(book.size);
      },
    });
    deps.supervisor.on('event', this.onEvent);
  }

  get isReady(): boolean {
    return this.ready;
  }

  // ---- start-up: replay the journal, resolve what was in flight, then serve ----

  /** Replays the journal and reconciles with the broker; the module reports ready only afterwards. */
  async recover(): Promise<void> {
    // Synchronously, on the first call (from createOrdersModule, before any worker or port starts): the closes are
    // replayed before the risk-manager's enforcement or a client can send one. A retried recovery reuses the lines.
    if (this.journalRecords === undefined) {
      const closeRecords: CloseJournalRecord[] = [];
      this.journalRecords = readJournal(this.deps.config.dataDir, `${process.pid}-`, closeRecords);
      this.replayCloses(closeRecords);
    }
    const records = this.journalRecords;
    await this.waitForExecutor();
    const intents = new Map<string, IntentRecord>();
    const outcomes = new Map<string, OutcomeRecord[]>();
    for (const r of records) {
      if (r.t === 'intent') intents.set(r.orderId, r);
      else {
        let list = outcomes.get(r.orderId);
        if (!list) outcomes.set(r.orderId, (list = []));
        list.push(r);
      }
    }
    const pending: OrderEntry[] = [];
    // Oldest first (an account's tag counters only grow, across runs too), not in file-name order: a client
    // order id refused once and placed later must end up bound to the later order.
    for (const intent of [...intents.values()].sort((a, b) => a.counter - b.counter)) {
      const entry = this.restoreEntry(intent);
      if (!entry) continue;
      const outs = (outcomes.get(intent.orderId) ?? []).sort((a, b) => a.atMs - b.atMs);
      for (const o of outs) this.applyJournalOutcome(entry, o);
      entry.settle();
      if (!isFinal(entry.sm.record)) pending.push(entry);
      else this.forgetIfNeverPlaced(entry);
    }
    for (const [accountId, floor] of this.counterFloor) this.tagFactories.set(accountId, new CustomTagFactory(floor + 1));
    if (pending.length > 0) await this.reconcileAtStart(pending);
    await this.scanBrokerTags();
    this.ready = true;
    this.refreshTimer = setInterval(() => void this.refreshOpenOrders(), REFRESH_EVERY_MS);
    this.refreshTimer.unref();
    this.deps.logger.info({ orders: this.book.size, resolved: pending.length }, 'order book recovered from the journal');
  }

  private async waitForExecutor(): Promise<void> {
    while (!this.deps.executor.isReady && !this.stopped) await new Promise((r) => setTimeout(r, 50));
  }

  private restoreEntry(intent: IntentRecord): OrderEntry | undefined {
    const contract = this.deps.runtime.contracts.find((c) => c.contractId === intent.contractId);
    const account = this.deps.runtime.accounts.find((a) => a.accountId === intent.accountId);
    this.raiseCounterFloor(intent.accountId, intent.counter);
    if (this.book.get(intent.orderId)) return undefined;
    const entry = this.book.add(entryInitOf(intent, account?.slot ?? -1, contract?.slot ?? -1));
    entry.sentAtMs = intent.sentAtMs;
    this.book.apply(entry, { kind: 'sent', atMs: intent.sentAtMs });
    return entry;
  }

  private applyJournalOutcome(entry: OrderEntry, o: OutcomeRecord): void {
    switch (o.outcome) {
      case 'accepted':
        if (o.brokerOrderId !== undefined) this.book.apply(entry, { kind: 'accepted', brokerOrderId: o.brokerOrderId, atMs: o.atMs });
        return;
      case 'rejected':
      case 'not-sent':
      case 'absent':
        this.book.apply(entry, {
          kind: 'rejected',
          reasonCode: o.reasonCode ?? 'BROKER_REJECTED',
          message: o.message ?? '',
          atMs: o.atMs,
          ...(o.brokerOrderId !== undefined ? { brokerOrderId: o.brokerOrderId } : {}),
        });
        return;
      case 'unknown':
        this.book.apply(entry, { kind: 'unknownOutcome', message: o.message ?? 'outcome unknown', atMs: o.atMs });
        return;
      case 'status': {
        const status = o.status === undefined ? undefined : BROKER_STATUS_OF[o.status];
        const id = o.brokerOrderId ?? entry.sm.record.brokerOrderId;
        if (status === undefined || id === undefined) return;
        this.book.apply(entry, {
          kind: 'broker',
          brokerOrderId: id,
          status,
          fillVolume: o.filledQuantity ?? 0,
          ...(o.averageFillPrice !== undefined ? { filledPriceUnits: priceToUnits(o.averageFillPrice) } : {}),
          atMs: o.atMs,
        });
        return;
      }
    }
  }

  /**
   * Orders the previous run left unresolved or working: one search per account over their window, by
   * custom tag. The previous process is dead, so an order absent from two searches (the second at least
   * 2 s after the first and 5 s after it was sent) never reached the broker. Unresolved orders hold a
   * reservation again until resolved (ADR 0003).
   */
  private async reconcileAtStart(pending: OrderEntry[]): Promise<void> {
    for (const e of pending) {
      if (e.sm.record.brokerOrderId === undefined) this.reserveRecovered(e);
    }
    let unresolved = pending;
    for (let round = 0; round < 2 && unresolved.length > 0 && !this.stopped; round++) {
      if (round > 0) {
        const oldest = Math.max(...unresolved.map((e) => e.sentAtMs ?? 0));
        const wait = Math.max(2_000, oldest + 5_000 - this.clock());
        await new Promise((r) => setTimeout(r, wait));
      }
      const found = await this.searchByTag(unresolved);
      if (found === undefined) break;
      // Found at the broker: the risk-manager counts it from its own reconciliation (as resolveTick does).
      for (const e of found) this.releaseReservation(e);
      unresolved = unresolved.filter((e) => !found.has(e));
    }
    for (const e of unresolved) {
      if (e.sm.record.brokerOrderId !== undefined) continue;
      if (e.sm.record.status === 'SENT' || e.sm.record.status === 'UNKNOWN') {
        if (e.absentSearches >= 2) this.markAbsent(e);
        else this.scheduleResolve(e);
      }
    }
  }

  /** Tag counters continue above every tag of ours the broker saw in the last day (covers a lost journal). */
  private async scanBrokerTags(): Promise<void> {
    for (const a of this.deps.runtime.accounts) {
      try {
        const rows = await this.broker<BrokerOrder[] | null>('searchOrders', { accountId: a.accountId, startTimestamp: new Date(this.clock() - 86_400_000).toISOString() });
        for (const row of rows ?? []) {
          const parsed = row.customTag ? parseCustomTag(row.customTag) : undefined;
          if (parsed) this.raiseCounterFloor(a.accountId, parsed.counter);
        }
      } catch (err) {
        this.deps.logger.warn({ err, accountId: a.accountId }, 'order search for tag counters failed; the journal alone sets them');
      }
    }
  }

  private reserveRecovered(e: OrderEntry): void {
    if (e.accountSlot < 0 || e.contractSlot < 0 || e.reservation) return;
    const r = this.deps.runtime.state.reservations;
    const side = e.side === 'BUY' ? 0 : 1;
    const weight = this.deps.runtime.state.directory.weight(e.contractSlot);
    if (r.tryReserve(e.accountSlot, e.contractSlot, side, e.quantity, weight, INT32_MAX, 0)) {
      r.tryReserveOpenOrder(e.accountSlot, INT32_MAX, 0);
      e.reservation = { accountSlot: e.accountSlot, contractSlot: e.contractSlot, side, size: e.quantity, weight, reducing: false };
    }
  }

  /**
   * Searches the broker's orders of each account for the entries' tags and applies what it finds.
   * Returns the entries found, or undefined when every account's search failed (nothing is concluded).
   * An account whose search failed concludes nothing for its entries (no absence counted) and does not
   * hold back the others' (an old journal's account the broker no longer answers for).
   */
  private async searchByTag(entries: OrderEntry[]): Promise<Set<OrderEntry> | undefined> {
    const byAccount = new Map<number, OrderEntry[]>();
    for (const e of entries) {
      let list = byAccount.get(e.accountId);
      if (!list) byAccount.set(e.accountId, (list = []));
      list.push(e);
    }
    const found = new Set<OrderEntry>();
    let searched = 0;
    for (const [accountId, list] of byAccount) {
      const since = Math.min(...list.map((e) => e.sentAtMs ?? e.sm.record.createdAtMs)) - SEARCH_SKEW_MS;
      let rows: BrokerOrder[] | undefined;
      try {
        rows = await this.broker<BrokerOrder[] | null>('searchOrders', { accountId, startTimestamp: new Date(since).toISOString() }) ?? undefined;
      } catch (err) {
        this.deps.logger.warn({ err, accountId }, 'order search failed: resolution retried later');
        continue;
      }
      if (rows === undefined) continue;
      searched += 1;
      const byTag = new Map<string, BrokerOrder>();
      for (const row of rows) {
        if (row.customTag) {
          byTag.set(row.customTag, row);
          const parsed = parseCustomTag(row.customTag);
          if (parsed) this.raiseCounterFloor(accountId, parsed.counter);
        }
      }
      for (const e of list) {
        const row = byTag.get(e.customTag) ?? (e.sm.record.brokerOrderId !== undefined ? rows.find((r) => r.id === e.sm.record.brokerOrderId) : undefined);
        if (row) {
          found.add(e);
          this.applyBrokerOrder(e, row);
        } else {
          e.absentSearches += 1;
        }
      }
    }
    return searched > 0 ? found : undefined;
  }

  private raiseCounterFloor(accountId: number, counter: number): void {
    if (counter > (this.counterFloor.get(accountId) ?? -1)) this.counterFloor.set(accountId, counter);
    const f = this.tagFactories.get(accountId);
    // A running factory below a counter seen at the broker (a lost journal) jumps above it.
    if (f && f.lastCounter < counter) this.tagFactories.set(accountId, new CustomTagFactory(counter + 1));
  }

  // ---- events from the risk-manager (user hub), after it applied them to shared memory ----

  applyUserOrder(o: GatewayUserOrder): void {
    if (!o || typeof o.id !== 'number') return;
    const entry = this.book.byBroker(o.id) ?? (o.customTag ? this.book.byCustomTag(o.customTag) : undefined);
    if (!entry) return;
    this.applyBrokerOrder(entry, o);
    // The risk-manager counts the order in workingBuy/Sell (or the position) from now on.
    this.releaseReservation(entry);
  }

  private applyBrokerOrder(entry: OrderEntry, o: Pick<BrokerOrder, 'id' | 'status' | 'fillVolume' | 'filledPrice' | 'size' | 'limitPrice' | 'stopPrice'>): void {
    const wasFinal = isFinal(entry.sm.record);
    // With its size and price level: the user hub's order event is how a modify made anywhere shows here.
    const changed = this.book.apply(entry, brokerOrderEvent(entry, o, this.clock()));
    this.resolving.delete(entry);
    if (changed && !wasFinal && isFinal(entry.sm.record)) {
      const r = entry.sm.record;
      this.journal.appendOutcome({
        t: 'outcome',
        v: 1,
        orderId: entry.orderId,
        outcome: 'status',
        status: r.status,
        brokerOrderId: o.id,
        filledQuantity: r.filledQuantity,
        ...(r.averageFillPriceUnits !== undefined ? { averageFillPrice: unitsToPrice(r.averageFillPriceUnits) } : {}),
        atMs: this.clock(),
      });
      this.releaseReservation(entry);
    }
  }

  private releaseReservation(entry: OrderEntry): void {
    const res = entry.reservation;
    if (!res) return;
    entry.reservation = undefined;
    try {
      this.gate.release(res);
    } catch (err) {
      this.deps.logger.error({ err, orderId: entry.orderId }, 'reservation release failed');
    }
  }

  // ---- placing ----

  private resolveSymbol = (symbol: string): (OrderContractInfo & { info: ContractInfo }) | undefined => {
    const upper = symbol.toUpperCase();
    const c = this.deps.runtime.contracts.find((x) => x.contractId === symbol || x.root === upper || x.contractId === upper);
    return c ? { contractId: c.contractId, tickSizeUnits: c.tickSizeUnits, tickValueUnits: c.tickValueUnits, isMicro: c.isMicro, info: c } : undefined;
  };

  private markPriceUnits = (contractId: string): number | undefined => {
    const c = this.deps.runtime.contracts.find((x) => x.contractId === contractId);
    if (!c) return undefined;
    const m = this.deps.runtime.state.marks.read(c.slot, this.markScratch);
    if (m.last > 0) return m.last;
    if (m.bid > 0 && m.ask > 0) return Math.round((m.bid + m.ask) / 2 / c.tickSizeUnits) * c.tickSizeUnits;
    return undefined;
  };

  private validate(input: OrderRequestInput): ValidatedOrder {
    const accounts = this.deps.runtime.accounts;
    const v = validateOrderRequest(input, {
      resolveSymbol: this.resolveSymbol,
      maxQuantity: this.maxQuantity,
      ...(accounts[0] ? { defaultAccountId: accounts[0].accountId } : {}),
      isKnownAccount: (id) => accounts.some((a) => a.accountId === id),
      markPriceUnits: this.markPriceUnits,
    });
    if (!v.ok) throw new FrontDoorError(v.code, v.message, v.field);
    return v.value;
  }

  /** Places one order. Never throws for an order-level failure: the error travels in the result. */
  async place(input: unknown, deadlineMs: number, preReservation?: ReservationRecord, validated?: ValidatedOrder): Promise<PlaceResult> {
    return this.run(this.prepare(input, deadlineMs, preReservation, validated), preReservation);
  }

  /**
   * Carries out a prepared order: the answer already known, a repeat's wait, or the executor's task
   * (`journaled`: its intent is on disk already; `startedMs`: where its latency starts, default the prepare).
   */
  private async run(p: Prepared, preReservation: ReservationRecord | undefined, journaled = false, startedMs?: number): Promise<PlaceResult> {
    if (p.kind === 'answer') return p.result;
    if (p.kind === 'repeat') {
      if (preReservation) this.gate.release(preReservation);
      await p.first.settled;
      this.placed.inc({ outcome: 'duplicate' });
      return this.replay(p.first);
    }
    return this.execute(p.entry, journaled ? { ...p.task, journaled: true } : p.task, startedMs ?? p.startedMs);
  }

  /**
   * Everything before the executor, synchronously: validation, idempotency, the order id and custom tag,
   * the book entry and the executor's task. PlaceBatch prepares every order first, so it can journal all
   * their intents in one commit.
   */
  private prepare(input: unknown, deadlineMs: number, preReservation?: ReservationRecord, validated?: ValidatedOrder): Prepared {
    const started = this.clock();
    let v: ValidatedOrder;
    try {
      if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new FrontDoorError('INVALID_ARGUMENT', 'body: a JSON object is required', 'body');
      v = validated ?? this.validate(input as OrderRequestInput);
    } catch (err) {
      this.placed.inc({ outcome: 'invalid' });
      return { kind: 'answer', result: { response: emptyResponse(input, err), error: FrontDoorError.from(err) } };
    }
    if (!this.ready) {
      const err = new FrontDoorError('UNAVAILABLE', 'orders: the engine is recovering its order book; nothing was sent, retry shortly');
      return { kind: 'answer', result: { response: emptyResponse(input, err), error: err } };
    }
    const paramsKey = paramsKeyOf(v, input as OrderRequestInput);
    if (v.clientOrderId !== '') {
      const first = this.book.byClientOrderId(v.accountId, v.clientOrderId);
      if (first) {
        if (first.paramsKey !== paramsKey) {
          const err = new FrontDoorError(
            'ALREADY_EXISTS',
            `client_order_id: ${JSON.stringify(v.clientOrderId)} was already used for order ${first.orderId} with different parameters`,
            'client_order_id',
            { 'order-id': first.orderId },
          );
          return { kind: 'answer', result: { response: this.response(first, false, err.message), error: err } };
        }
        return { kind: 'repeat', first };
      }
    }
    const account = this.deps.runtime.accounts.find((a) => a.accountId === v.accountId)!;
    const contract = this.resolveSymbol(v.contract.contractId)!.info;
    let factory = this.tagFactories.get(v.accountId);
    if (!factory) this.tagFactories.set(v.accountId, (factory = new CustomTagFactory((this.counterFloor.get(v.accountId) ?? -1) + 1)));
    const now = this.clock();
    const tag = factory.next(v.strategyName, v.orderType, now);
    const orderId = `${this.runId}-${++this.seq}`;
    const task: PlaceTask = {
      kind: 'place',
      orderId,
      accountId: v.accountId,
      accountSlot: account.slot,
      contractId: contract.contractId,
      contractSlot: contract.slot,
      symbol: v.symbol,
      side: v.side,
      quantity: v.quantity,
      orderType: v.orderType,
      brokerType: BROKER_TYPE[v.orderType],
      ...(v.limitPriceUnits !== undefined ? { limitPrice: unitsToPrice(v.limitPriceUnits) } : {}),
      ...(v.stopPriceUnits !== undefined ? { stopPrice: unitsToPrice(v.stopPriceUnits) } : {}),
      ...(v.trailPriceUnits !== undefined ? { trailPrice: unitsToPrice(v.trailPriceUnits) } : {}),
      ...(v.stopLoss ? { stopLossTicks: v.stopLoss.ticks } : {}),
      ...(v.takeProfit ? { takeProfitTicks: v.takeProfit.ticks } : {}),
      reduceOnly: v.reduceOnly,
      strategyName: v.strategyName,
      clientOrderId: v.clientOrderId,
      paramsKey,
      customTag: tag.tag,
      counter: tag.counter,
      createdAtMs: now,
      deadlineMs,
      ...(preReservation ? { reservation: preReservation } : {}),
    };
    const entry = this.book.add(entryInitOf(task, account.slot, contract.slot));
    return { kind: 'order', entry, task, startedMs: started };
  }

  private async execute(entry: OrderEntry, task: PlaceTask, startedMs: number): Promise<PlaceResult> {
    let outcome: PlaceOutcome;
    try {
      outcome = await this.deps.executor.runReserving<PlaceOutcome>(task);
    } catch (err) {
      const e = FrontDoorError.from(err);
      // The batch's pre-taken reservation, or what the failed task's gate had claimed and not handed over, taken
      // back from the pool's ledger (ADR 0003 "Releasing"): this order holds it now and releases it once.
      const held = task.reservation ?? (err instanceof ExecutorTaskError ? err.held : undefined);
      const reservation = held ? { reservation: held } : {};
      if (e.code === 'QUEUE_FULL') {
        // The task never ran: nothing was sent. A batch journalled its intent already: the outcome line
        // tells the replay it never left.
        outcome = { outcome: 'not-sent', code: 'QUEUE_FULL', message: e.message, ...reservation };
        if (task.journaled) this.journal.appendOutcome({ t: 'outcome', v: 1, orderId: entry.orderId, outcome: 'not-sent', reasonCode: 'QUEUE_FULL', message: e.message, atMs: this.clock() });
      } else {
        // Anything else (the thread died or was terminated with the task on it) may have come after the
        // send: resolved by custom tag like any unknown outcome, never answered "not sent".
        outcome = { outcome: 'unknown', message: `executor task failed: ${e.message}`, sentAtMs: this.clock(), ...reservation };
        if (task.journaled) this.journal.appendOutcome({ t: 'outcome', v: 1, orderId: entry.orderId, outcome: 'unknown', message: outcome.message, atMs: this.clock() });
      }
    }
    const result = this.applyOutcome(entry, outcome);
    this.placed.inc({ outcome: outcome.outcome });
    this.latency.observe((this.clock() - startedMs) / 1000);
    return result;
  }

  /** The answer to a repeated client order id: the order as it stands, refused or unresolved ones with their error. */
  private replay(first: OrderEntry): PlaceResult {
    const r = first.sm.record;
    const meta = { 'order-id': first.orderId };
    let error: FrontDoorError | undefined;
    if (r.status === 'REJECTED') {
      const code = (r.reasonCode ?? 'BROKER_REJECTED') as OrderErrorCode;
      error = new FrontDoorError(code, code === 'BROKER_REJECTED' ? `BROKER_REJECTED: ${r.message ?? ''}` : (r.message ?? code), undefined, meta);
    } else if (r.status === 'NEW' || r.status === 'SENT' || r.status === 'UNKNOWN') {
      error = new FrontDoorError('UNKNOWN_OUTCOME', `order ${first.orderId} is still being resolved by its custom tag`, undefined, meta);
    }
    const response = { ...this.response(first, error === undefined, error?.message), duplicate: true };
    if (error) response.reasonCode = error.code;
    return error ? { response, error } : { response };
  }

  private applyOutcome(entry: OrderEntry, out: PlaceOutcome): PlaceResult {
    const at = this.clock();
    const meta = { 'order-id': entry.orderId };
    let error: FrontDoorError | undefined;
    switch (out.outcome) {
      case 'accepted': {
        entry.reservation = out.reservation;
        entry.sentAtMs ??= at;
        this.book.apply(entry, { kind: 'sent', atMs: at });
        // Events may have arrived first (matched by tag) and already released the reservation's due.
        const seenBefore = entry.sm.record.status !== 'SENT' && entry.sm.record.status !== 'UNKNOWN' && entry.sm.record.status !== 'NEW';
        this.book.apply(entry, { kind: 'accepted', brokerOrderId: out.brokerOrderId, atMs: at });
        if (seenBefore || isFinal(entry.sm.record)) this.releaseReservation(entry);
        break;
      }
      case 'denied':
        this.book.apply(entry, { kind: 'rejected', reasonCode: out.reasonCode, message: out.message, atMs: at });
        // Nothing reached the broker: a retry with the same client order id is judged afresh.
        this.book.releaseClientId(entry);
        error = new FrontDoorError(out.reasonCode as OrderErrorCode, `${out.reasonCode}: ${out.message}`, undefined, meta);
        break;
      case 'rejected':
        entry.reservation = out.reservation;
        this.book.apply(entry, { kind: 'sent', atMs: at });
        this.book.apply(entry, {
          kind: 'rejected',
          reasonCode: 'BROKER_REJECTED',
          message: out.message,
          atMs: at,
          ...(out.brokerOrderId !== undefined ? { brokerOrderId: out.brokerOrderId } : {}),
        });
        this.releaseReservation(entry);
        error = new FrontDoorError('BROKER_REJECTED', `BROKER_REJECTED: ${out.message}`, undefined, meta);
        break;
      case 'unknown':
        entry.reservation = out.reservation;
        entry.sentAtMs = out.sentAtMs;
        this.book.apply(entry, { kind: 'sent', atMs: at });
        this.book.apply(entry, { kind: 'unknownOutcome', message: out.message, atMs: at });
        if (!isFinal(entry.sm.record) && entry.sm.record.brokerOrderId === undefined) this.scheduleResolve(entry);
        else this.releaseReservation(entry);
        // The user hub's events of its custom tag already showed the broker holding the order (it answered them
        // before its REST answer, which never came in time): the outcome is known, and the order is answered as it
        // stands rather than UNKNOWN_OUTCOME.
        if (entry.sm.record.brokerOrderId !== undefined) {
          if (entry.sm.record.status === 'REJECTED') {
            error = new FrontDoorError('BROKER_REJECTED', `BROKER_REJECTED: ${entry.sm.record.message ?? ''}`, undefined, meta);
          }
          break;
        }
        error = new FrontDoorError(
          'UNKNOWN_OUTCOME',
          `order ${entry.orderId} was sent and no answer came (${out.message}); it is not retried and is being resolved by its custom tag`,
          undefined,
          meta,
        );
        break;
      case 'not-sent': {
        if (out.reservation) {
          entry.reservation = out.reservation;
          this.releaseReservation(entry);
        }
        const code = out.code as OrderErrorCode;
        this.book.apply(entry, { kind: 'rejected', reasonCode: code, message: out.message, atMs: at });
        // Nothing reached the broker for a transient reason: the same client order id may be retried.
        this.book.releaseClientId(entry);
        error = new FrontDoorError(code, out.message, undefined, meta);
        break;
      }
    }
    entry.settle();
    const response = this.response(entry, error === undefined, error?.message);
    if (error) response.reasonCode = error.code;
    return error ? { response, error } : { response };
  }

  // ---- unknown outcomes: resolved by custom tag, never resent ----

  private scheduleResolve(entry: OrderEntry): void {
    this.resolving.add(entry);
    if (this.resolveTimer || this.stopped) return;
    this.resolveTimer = setTimeout(() => void this.resolveTick(), this.resolveDelay);
    this.resolveTimer.unref();
  }

  private async resolveTick(): Promise<void> {
    this.resolveTimer = undefined;
    const list = [...this.resolving].filter((e) => !isFinal(e.sm.record) && e.sm.record.brokerOrderId === undefined);
    this.resolving.clear();
    if (list.length === 0 || this.stopped) {
      this.resolveDelay = RESOLVE_FIRST_DELAY_MS;
      return;
    }
    const found = await this.searchByTag(list);
    const now = this.clock();
    for (const e of list) {
      if (found?.has(e)) {
        this.releaseReservation(e);
        continue;
      }
      if (found !== undefined && e.absentSearches >= 3 && now - (e.sentAtMs ?? now) >= this.absentAfterMs) this.markAbsent(e);
      else this.resolving.add(e);
    }
    this.resolveDelay = Math.min(this.resolveDelay * 2, RESOLVE_MAX_DELAY_MS);
    if (this.resolving.size > 0 && !this.stopped) {
      this.resolveTimer = setTimeout(() => void this.resolveTick(), this.resolveDelay);
      this.resolveTimer.unref();
    } else {
      this.resolveDelay = RESOLVE_FIRST_DELAY_MS;
    }
  }

  /** An order that never reached the broker keeps no hold on its client order id (a retry places anew). */
  private forgetIfNeverPlaced(e: OrderEntry): void {
    const r = e.sm.record;
    if (r.status === 'REJECTED' && r.reasonCode !== 'BROKER_REJECTED') this.book.releaseClientId(e);
  }

  private markAbsent(e: OrderEntry): void {
    const message = 'not found at the broker by its custom tag: the order was never placed';
    this.book.apply(e, { kind: 'rejected', reasonCode: 'UNAVAILABLE', message, atMs: this.clock() });
    this.journal.appendOutcome({ t: 'outcome', v: 1, orderId: e.orderId, outcome: 'absent', reasonCode: 'UNAVAILABLE', message, atMs: this.clock() });
    this.resolving.delete(e);
    this.releaseReservation(e);
    this.forgetIfNeverPlaced(e);
  }

  /** Safety net for missed user-hub events: non-final orders untouched for a while are read back from the broker. */
  private async refreshOpenOrders(): Promise<void> {
    if (this.stopped) return;
    const now = this.clock();
    const stale = [...this.book.entries()].filter(
      (e) => !isFinal(e.sm.record) && e.sm.record.brokerOrderId !== undefined && now - e.sm.record.updatedAtMs >= REFRESH_EVERY_MS,
    );
    if (stale.length > 0) await this.searchByTag(stale);
  }

  // ---- the other calls ----

  status(id: string): OrderEntry {
    const e = typeof id === 'string' && id !== '' ? this.book.find(id) : undefined;
    if (!e) {
      throw new FrontDoorError(
        'NOT_FOUND',
        `order_id: unknown order ${JSON.stringify(String(id ?? '').slice(0, 80))} (the engine keeps working orders, orders with a client_order_id and the last ${DEFAULT_MAX_FINAL_RETAINED} final orders; older ones are in the journal)`,
        'order_id',
      );
    }
    return e;
  }

  /** `deadlineMs`: the client's deadline (epoch ms, 0 = none), checked before the cancel is sent. */
  async cancel(id: string, deadlineMs = 0): Promise<orders.CancelOrderResponse> {
    const e = this.status(id);
    const r = e.sm.record;
    const base = { orderId: e.orderId, orderStatus: ORDER_STATE_NUMBER[r.status] };
    if (isFinal(r)) return { ...base, success: false, message: `order is already ${r.status}`, reasonCode: '' };
    if (r.brokerOrderId === undefined) return { ...base, success: false, message: `order is ${r.status}: no broker order to cancel yet`, reasonCode: 'NOT_FOUND' };
    this.refuseIfExpired(deadlineMs, 'CancelOrder');
    const res = await this.brokerBefore(deadlineMs, 'CancelOrder', 'cancelOrder', { accountId: e.accountId, orderId: r.brokerOrderId });
    if (!res.ok) return { ...base, success: false, message: res.message, reasonCode: mutationFailure(res).reasonCode };
    return { ...base, success: true, message: 'cancel requested', reasonCode: '' };
  }

  /** `deadlineMs`: as cancel. */
  async modify(req: orders.ModifyOrderRequest, deadlineMs = 0): Promise<orders.ModifyOrderResponse> {
    const e = this.status(req.orderId);
    const r = e.sm.record;
    const c = this.deps.runtime.contracts.find((x) => x.contractId === e.contractId);
    const args: Record<string, unknown> = { accountId: e.accountId, orderId: r.brokerOrderId ?? 0 };
    if (req.quantity !== undefined) {
      if (!Number.isInteger(req.quantity) || req.quantity < 1 || req.quantity > this.maxQuantity) {
        throw new FrontDoorError('INVALID_ARGUMENT', `quantity: must be an integer from 1 to ${this.maxQuantity}, got ${req.quantity}`, 'quantity');
      }
      // A modify is not gated: more than the size the risk gate passed would bypass it (and the order's
      // record bounds its fills by that size). More size is a new order.
      if (req.quantity > e.quantity) {
        throw new FrontDoorError('INVALID_ARGUMENT', `quantity: ${req.quantity} is above the ${e.quantity} this order was placed with; place a new order for more`, 'quantity');
      }
      args.size = req.quantity;
    }
    for (const [field, key, value] of [
      ['price', 'limitPrice', req.price],
      ['stop_price', 'stopPrice', req.stopPrice],
      ['trail_price', 'trailPrice', req.trailPrice],
    ] as const) {
      if (value === undefined) continue;
      const units = typeof value === 'number' && Number.isFinite(value) && value > 0 ? priceToUnits(value) : undefined;
      if (units === undefined) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: must be a finite price > 0, got ${value}`, field);
      if (c && units % c.tickSizeUnits !== 0) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: ${value} is not a multiple of the tick size ${c.tickSizeUnits / 1e9}`, field);
      args[key] = value;
    }
    const base = { orderId: e.orderId, orderStatus: ORDER_STATE_NUMBER[r.status] };
    if (isFinal(r)) return { ...base, success: false, message: `order is already ${r.status}`, reasonCode: '' };
    if (r.brokerOrderId === undefined) return { ...base, success: false, message: `order is ${r.status}: no broker order to modify yet`, reasonCode: 'NOT_FOUND' };
    this.refuseIfExpired(deadlineMs, 'ModifyOrder');
    const res = await this.brokerBefore(deadlineMs, 'ModifyOrder', 'modifyOrder', args);
    if (!res.ok) return { ...base, success: false, message: res.message, reasonCode: mutationFailure(res).reasonCode };
    // The broker took it: GetOrderStatus and StreamOrderUpdates show the new values now, whether or not the user
    // hub's order event (which carries them too) has arrived. A refused modify changes nothing.
    const priceUnits = modifiedPriceUnits(e.orderType, req);
    this.book.apply(e, {
      kind: 'modified',
      ...(req.quantity !== undefined ? { quantity: req.quantity } : {}),
      ...(priceUnits !== undefined ? { priceUnits } : {}),
      atMs: this.clock(),
    });
    return { ...base, success: true, message: 'modify requested', reasonCode: '' };
  }

  /**
   * DEADLINE before anything is sent. Checked on the main thread before the broker call is handed to the
   * executor; a call already handed over is never taken back (cancel, modify and closes have no custom tag
   * to resolve an aborted send by).
   */
  private refuseIfExpired(deadlineMs: number, rpc: string): void {
    if (deadlineMs > 0 && this.clock() >= deadlineMs) throw new FrontDoorError('DEADLINE', `${rpc}: the deadline passed before anything was sent; nothing was sent`);
  }

  /**
   * A cancel, modify or close on the executor with the client's deadline in its task: the executor checks it again
   * right before the send, after any wait in its queue or for a rate-budget token, and its "not sent: deadline"
   * answer throws DEADLINE here (nothing was sent). Any other answer is returned as it came.
   */
  private async brokerBefore(deadlineMs: number, rpc: string, method: RestMethod, arg: object): Promise<RestResult> {
    let res: RestResult;
    try {
      res = await this.deps.executor.run<RestResult>({ kind: 'rest', method, args: [arg], ...(deadlineMs > 0 ? { deadlineMs } : {}) } satisfies RestTask);
    } catch (err) {
      const e = FrontDoorError.from(err);
      return { ok: false, code: e.code, message: e.message };
    }
    if (isRestNotSentDeadline(res)) throw new FrontDoorError('DEADLINE', `${rpc}: ${res.message}; nothing was sent`);
    return res;
  }

  private accountOf(raw: number, field = 'account_id'): number {
    if (raw === 0 || raw === undefined) {
      const a = this.deps.runtime.accounts[0];
      if (!a) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: is required (no default account configured)`, field);
      return a.accountId;
    }
    if (!this.deps.runtime.accounts.some((a) => a.accountId === raw)) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: unknown account ${raw}`, field);
    return raw;
  }

  // ---- ClosePosition / FlattenAll: client_request_id ----

  /** Settled request ids kept at most (the oldest are forgotten first; one in flight never is). */
  private static readonly MAX_REQUEST_IDS = 10_000;

  /**
   * Closes and flattens by client_request_id ("rpc account id" → the first call). In memory only: the
   * journal records orders, not position closes, and the broker's close endpoints take no custom tag to
   * find one by (orders.proto says what a client does across a restart). A key is held only by a call
   * that may have sent something; `sent` is that call's own flag, read when it settles.
   */
  private readonly requestIds = new Map<string, { readonly paramsKey: string; readonly outcome: Promise<RequestOutcome>; settled: boolean }>();

  private requestKey(rpc: string, accountId: number, raw: unknown): { readonly key: string; readonly raw: string } | undefined {
    if (raw === undefined || raw === '') return undefined;
    if (typeof raw !== 'string') throw new FrontDoorError('INVALID_ARGUMENT', 'client_request_id: must be a string', 'client_request_id');
    if (raw.length > MAX_CLIENT_ORDER_ID_LENGTH) {
      throw new FrontDoorError('INVALID_ARGUMENT', `client_request_id: must be at most ${MAX_CLIENT_ORDER_ID_LENGTH} characters, got ${raw.length}`, 'client_request_id');
    }
    if (!/^[\x21-\x7e]+$/.test(raw)) throw new FrontDoorError('INVALID_ARGUMENT', 'client_request_id: may only contain printable ASCII characters without spaces', 'client_request_id');
    // No spaces in any part: the key is unambiguous.
    return { key: `${rpc} ${accountId} ${raw}`, raw };
  }

  /**
   * Runs `run` once per key: a repeat with the same parameters waits for the first call and replays its
   * answer (duplicate = true); with other parameters it is ALREADY_EXISTS. A first call that sent nothing
   * (`flag.sent` false when it settled) lets go of the key, and a repeat waiting on it runs afresh.
   */
  private async onceById<T extends { duplicate: boolean }>(
    id: { readonly key: string; readonly raw: string } | undefined,
    paramsKey: string,
    run: (flag: { sent: boolean }) => Promise<T>,
  ): Promise<T> {
    const flag = { sent: false };
    if (id === undefined) return run(flag);
    const key = id.key;
    for (let prior = this.requestIds.get(key); prior; prior = this.requestIds.get(key)) {
      if (prior.paramsKey !== paramsKey) {
        throw new FrontDoorError('ALREADY_EXISTS', `client_request_id: ${JSON.stringify(id.raw)} was already used with different parameters`, 'client_request_id');
      }
      const first = await prior.outcome;
      if (!first.sent) continue;
      if (first.error) throw first.error;
      return { ...(first.response as T), duplicate: true };
    }
    let settle!: (o: RequestOutcome) => void;
    const record = { paramsKey, outcome: new Promise<RequestOutcome>((r) => (settle = r)), settled: false };
    this.requestIds.set(key, record);
    try {
      const response = await run(flag);
      settle({ sent: flag.sent, response });
      if (flag.sent) this.journalRequest(key, paramsKey, { response });
      return response;
    } catch (err) {
      const error = FrontDoorError.from(err);
      settle({ sent: flag.sent, error });
      if (flag.sent) this.journalRequest(key, paramsKey, { error: { code: error.code, message: error.message } });
      throw error;
    } finally {
      // Synchronously after settle: a waiter resumes (a microtask later) with the key already let go.
      record.settled = true;
      if (!flag.sent) {
        if (this.requestIds.get(key) === record) this.requestIds.delete(key);
      } else if (this.requestIds.size > OrdersService.MAX_REQUEST_IDS) {
        for (const [k, r] of this.requestIds) {
          if (this.requestIds.size <= OrdersService.MAX_REQUEST_IDS) break;
          if (r.settled) this.requestIds.delete(k);
        }
      }
    }
  }

  /**
   * Closes one contract's position, then (for a full close) cancels the contract's remaining working orders once the
   * position reads flat: the broker answers before the exchange fills the close, so the stops and targets stay until
   * then (a close rejected or never filled keeps its protection). Not flat within closeFlatWaitMs after the answer:
   * answered success ("close sent … kept"), and a deferred sweep cancels the orders it kept once flat. The answer
   * takes at most about closeFlatWaitMs (3 s) plus two broker reads longer than the close itself.
   * `deadlineMs` (epoch ms, 0 = none) is checked on arrival and right before the close is sent; after that
   * the close and its sweep run to the end (a close without its sweep leaves orphan stops).
   */
  async closePosition(req: orders.ClosePositionRequest, deadlineMs = 0): Promise<orders.ClosePositionResponse> {
    const c = typeof req.symbol === 'string' && req.symbol !== '' ? this.resolveSymbol(req.symbol) : undefined;
    if (!c) throw new FrontDoorError('INVALID_ARGUMENT', `symbol: unknown symbol ${JSON.stringify(String(req.symbol ?? '').slice(0, 80))}`, 'symbol');
    const accountId = this.accountOf(req.accountId);
    if (!Number.isInteger(req.quantity) || req.quantity < 0 || req.quantity > INT32_MAX) {
      throw new FrontDoorError('INVALID_ARGUMENT', `quantity: must be an integer ≥ 0, got ${req.quantity}`, 'quantity');
    }
    const id = this.requestKey('close', accountId, req.clientRequestId);
    this.refuseIfExpired(deadlineMs, 'ClosePosition');
    const paramsKey = `${c.contractId}|${req.quantity}`;
    return this.onceById(id, paramsKey, async (flag) => {
      const positions = (await this.broker<BrokerPosition[] | null>('searchOpenPositions', accountId)) ?? [];
      const pos = positions.find((p) => p.contractId === c.contractId && p.size > 0);
      if (!pos) throw new FrontDoorError('NOT_FOUND', `symbol: no open position in ${c.contractId}`, 'symbol');
      const full = req.quantity === 0 || req.quantity >= pos.size;
      const closed = full ? pos.size : req.quantity;
      // The position read may have taken the rest of the client's time.
      this.refuseIfExpired(deadlineMs, 'ClosePosition');
      // Claimed before the send, in the leases shared with the risk-manager: of two closes of the position, one goes.
      const side = ClosesInFlight.closingSide(pos.type === 2 ? -pos.size : pos.size);
      const go = await this.closes.acquire(accountId, c.contractId, side, closed, (m) => this.closeStillWorking(accountId, c.contractId, m), full ? 'WHOLE' : 'PARTIAL');
      if (!go.send) {
        // Nothing sent: the key is given back (flag.sent stays false).
        const by = ClosesInFlight.senderName(go.holder);
        return {
          success: false,
          message:
            go.reason === 'IN_FLIGHT' && go.stuck !== undefined
              ? `a close of ${c.contractId} sent by ${by} is stuck: still working at the broker more than 30 s after it was sent (a halted or locked market?); not sent again. FlattenAll cancels it, then closes on its retry`
              : go.reason === 'IN_FLIGHT'
                ? `a close of ${c.contractId} sent by ${by} is still working at the broker; not sent again`
                : `a close of ${c.contractId} sent by ${by} may still be working at the broker (its working orders could not be read); not sent`,
          contractId: c.contractId,
          closedQuantity: 0,
          cancelledOrders: 0,
          orderId: '',
          reasonCode: 'CLOSE_IN_FLIGHT',
          duplicate: false,
        };
      }
      if (go.lease === undefined) this.deps.logger.error({ accountId, contractId: c.contractId }, 'close lease table full of sends in progress: closing without a lease');
      let closeId: string;
      try {
        closeId = await this.journalCloseIntent(accountId, c.contractId, side, closed, full, id === undefined ? undefined : { requestKey: id.key, paramsKey });
      } catch (err) {
        this.closes.release(go);
        throw err;
      }
      // The executor checks the deadline again before the send; its DEADLINE (thrown) leaves flag.sent false, so the
      // key is given back, and the lease too (nothing was sent). Any answer it returns may follow the send.
      let res: RestResult;
      try {
        res = full
          ? await this.brokerBefore(deadlineMs, 'ClosePosition', 'closeContract', { accountId, contractId: c.contractId })
          : await this.brokerBefore(deadlineMs, 'ClosePosition', 'partialCloseContract', { accountId, contractId: c.contractId, size: closed });
      } catch (err) {
        this.journalCloseOutcome(closeId, 'not-sent');
        this.closes.release(go);
        throw err;
      }
      flag.sent = true;
      if (!res.ok) {
        const failure = mutationFailure(res);
        flag.sent = failure.sent;
        this.journalCloseOutcome(closeId, closeOutcomeOf(res));
        // Certainly not sent: the lease goes. Refused by the broker: answered (its orders tell whether anything works).
        // Otherwise the outcome is unknown: the lease stays claimed until its TTL, and no close goes over it.
        if (!failure.sent) this.closes.release(go);
        else if (res.code === 'GATEWAY_ERROR') this.closes.markSent(go);
        return { success: false, message: res.message, contractId: c.contractId, closedQuantity: 0, cancelledOrders: 0, orderId: '', reasonCode: failure.reasonCode, duplicate: false };
      }
      this.journalCloseOutcome(closeId, 'accepted');
      this.closes.markSent(go);
      // A partial close keeps the rest of the position, and with it its protective orders.
      if (!full) return { success: true, message: 'position closed', contractId: c.contractId, closedQuantity: closed, cancelledOrders: 0, orderId: '', reasonCode: '', duplicate: false };
      // The broker answered before the exchange fills the close: the stops and targets stay until the position is flat.
      const flat = (await this.waitFlat(accountId, [c.contractId], this.clock() + this.closeFlatWaitMs)).has(c.contractId);
      if (!flat) {
        return {
          success: true,
          message: `close sent; ${c.contractId} not flat yet ${this.closeFlatWaitMs} ms after the answer: ${await this.keepUntilFlat(accountId, c.contractId)}`,
          contractId: c.contractId,
          closedQuantity: closed,
          cancelledOrders: 0,
          orderId: '',
          reasonCode: '',
          duplicate: false,
        };
      }
      let sweep = { cancelled: 0, failed: 0, note: '' };
      try {
        sweep = { ...(await this.cancelWorking(accountId, c.contractId)), note: '' };
      } catch (err) {
        // The close went out: an error status here would read "nothing was sent".
        sweep = { cancelled: 0, failed: 0, note: `position closed; its working orders could not be listed for cancelling: ${FrontDoorError.from(err).message}` };
      }
      const ok = sweep.failed === 0 && sweep.note === '';
      return {
        success: ok,
        message: ok ? 'position closed' : sweep.note || `position closed; ${sweep.failed} working orders could not be cancelled`,
        contractId: c.contractId,
        closedQuantity: closed,
        cancelledOrders: sweep.cancelled,
        orderId: '',
        reasonCode: '',
        duplicate: false,
      };
    });
  }

  // ---- the journal of closes (ADR 0004): they carry no custom tag to recover them by ----

  /**
   * The intent of a close, on disk (fdatasync) before it is sent; returns its close id. A restart re-seeds the close's
   * lease from it, and the client_request_id of a ClosePosition (`request`). A failed write throws UNAVAILABLE: nothing
   * is sent without its intent on disk.
   */
  private async journalCloseIntent(
    accountId: number,
    contractId: string,
    side: 0 | 1,
    size: number,
    full: boolean,
    request: { readonly requestKey: string; readonly paramsKey: string } | undefined,
  ): Promise<string> {
    const closeId = `${this.runId}-c${++this.closeSeq}`;
    const record: CloseIntentRecord = { t: 'close-intent', v: JOURNAL_VERSION, closeId, accountId, contractId, side, size, full, ...(request ?? {}), atMs: this.clock() };
    try {
      await this.journal.appendIntent(record);
    } catch (err) {
      throw new FrontDoorError('UNAVAILABLE', `the close of ${contractId} could not be journaled (${(err as Error).message}); nothing was sent`);
    }
    return closeId;
  }

  /** After the close's answer (no fsync: a lost line replays as a close of unknown outcome, which is held as sent). */
  private journalCloseOutcome(closeId: string, outcome: CloseOutcomeKind): void {
    this.journal.appendOutcome({ t: 'close-outcome', v: JOURNAL_VERSION, closeId, outcome, atMs: this.clock() } satisfies CloseOutcomeRecord);
  }

  /** A ClosePosition / FlattenAll with a client_request_id settled having sent something: its answer, for a retry after a restart. */
  private journalRequest(requestKey: string, paramsKey: string, answer: Pick<CloseRequestRecord, 'response' | 'error'>): void {
    this.journal.appendOutcome({ t: 'close-request', v: JOURNAL_VERSION, requestKey, paramsKey, ...answer, atMs: this.clock() } satisfies CloseRequestRecord);
  }

  /**
   * Start-up, before anything is served: the journal's closes re-seed (1) a close lease for each position's newest close
   * of the last day that may have been sent (answered, or its answer lost) — live when sent within the TTL, else expired,
   * which the next claim checks with the broker — so that neither a retry nor a FlattenAll nor the risk-manager's
   * enforcement sends a second close over one that may still work at the broker (a stuck one included), and (2) the client_request_ids of the last day: a
   * settled call answers its retry with its journaled answer; a ClosePosition cut short by the restart answers with what
   * its close's journal lines tell (accepted, refused, or UNKNOWN_OUTCOME: read the position).
   */
  private replayCloses(records: readonly CloseJournalRecord[]): void {
    if (records.length === 0) return;
    const now = this.clock();
    const intents = new Map<string, CloseIntentRecord>();
    const outcomes = new Map<string, CloseOutcomeRecord>();
    const answers = new Map<string, CloseRequestRecord>();
    for (const r of records) {
      if (r.t === 'close-intent') intents.set(r.closeId, r);
      else if (r.t === 'close-outcome') outcomes.set(r.closeId, r);
      else {
        const prior = answers.get(r.requestKey);
        if (!prior || prior.atMs <= r.atMs) answers.set(r.requestKey, r);
      }
    }
    let leases = 0;
    const cutShort = new Map<string, { readonly paramsKey: string; readonly intent: CloseIntentRecord; readonly outcome: CloseOutcomeKind | undefined }>();
    /** Per position, its newest close that may have been sent (within the request-id day). */
    const newest = new Map<string, { intent: CloseIntentRecord; sentMs: number }>();
    for (const intent of intents.values()) {
      const out = outcomes.get(intent.closeId);
      if (out?.outcome === 'not-sent') continue;
      // Unanswered: held from its intent, as sent then; acquire() asks the broker whether it still works.
      const sentMs = out?.atMs ?? intent.atMs;
      const key = `${intent.accountId} ${intent.contractId}`;
      if (now - sentMs < REQUEST_ID_REPLAY_MS && (newest.get(key)?.sentMs ?? -Infinity) < sentMs) newest.set(key, { intent, sentMs });
      if (intent.requestKey !== undefined && intent.paramsKey !== undefined && !answers.has(intent.requestKey) && now - intent.atMs < REQUEST_ID_REPLAY_MS) {
        cutShort.set(intent.requestKey, { paramsKey: intent.paramsKey, intent, outcome: out?.outcome });
      }
    }
    // One lease per position, for its newest close: live when sent within the TTL; older, an expired lease, which the
    // next claim of the position checks with the broker (a close stuck past 30 s before the restart is not closed over).
    for (const { intent, sentMs } of newest.values()) {
      if (this.closes.seed(intent.accountId, intent.contractId, intent.side, intent.size, sentMs, intent.full ? 'WHOLE' : 'PARTIAL')) leases += 1;
    }
    const recent = [...answers.values()].filter((a) => now - a.atMs < REQUEST_ID_REPLAY_MS).sort((a, b) => a.atMs - b.atMs);
    for (const a of recent.slice(-OrdersService.MAX_REQUEST_IDS)) {
      const outcome: RequestOutcome = a.error ? { sent: true, error: new FrontDoorError(a.error.code as OrderErrorCode, a.error.message) } : { sent: true, response: a.response };
      this.requestIds.set(a.requestKey, { paramsKey: a.paramsKey, outcome: Promise.resolve(outcome), settled: true });
    }
    for (const [key, u] of cutShort) {
      this.requestIds.set(key, { paramsKey: u.paramsKey, outcome: Promise.resolve({ sent: true, response: cutShortAnswer(u.intent, u.outcome) }), settled: true });
    }
    this.deps.logger.info({ leases, requests: recent.length + cutShort.size }, 'closes replayed from the journal');
  }

  // ---- after a close: flat, then sweep ----

  /** Shared memory's position (the risk-manager's, from the user hub's fills): flat or not; undefined outside the directory. */
  private flatHint(accountId: number, contractId: string): boolean | undefined {
    const a = this.deps.runtime.accounts.find((x) => x.accountId === accountId);
    const c = this.deps.runtime.contracts.find((x) => x.contractId === contractId);
    if (!a || !c) return undefined;
    return this.deps.runtime.state.accounts.readPosition(a.slot, c.slot, this.positionScratch).netSize === 0;
  }

  /** The contracts of the account with an open position at the broker (one REST read); undefined when unreadable. */
  private async openContracts(accountId: number): Promise<Set<string> | undefined> {
    try {
      const rows = (await this.broker<BrokerPosition[] | null>('searchOpenPositions', accountId)) ?? [];
      return new Set(rows.filter((p) => p.size > 0).map((p) => p.contractId));
    } catch (err) {
      this.deps.logger.debug({ err, accountId }, 'positions read for a close failed');
      return undefined;
    }
  }

  /**
   * Waits until `untilMs` for the positions of `contracts` to be flat; returns the contracts that are. Flat is the
   * broker's word (its positions, REST); shared memory only paces the reads: every FLAT_REST_MS while it reads flat or
   * cannot tell (a contract outside the directory), every FLAT_REST_SLOW_MS while it reads open. The first read is
   * immediate (a close the exchange filled at once costs one read).
   */
  private async waitFlat(accountId: number, contracts: readonly string[], untilMs: number): Promise<Set<string>> {
    const flat = new Set<string>();
    const left = new Set(contracts);
    let lastRestMs = -Infinity;
    while (left.size > 0 && !this.stopped) {
      const now = this.clock();
      let hinted = false;
      for (const c of left) if (this.flatHint(accountId, c) !== false) hinted = true;
      if (now - lastRestMs >= (hinted ? FLAT_REST_MS : FLAT_REST_SLOW_MS)) {
        lastRestMs = now;
        const open = await this.openContracts(accountId);
        if (open) {
          for (const c of left) {
            if (open.has(c)) continue;
            left.delete(c);
            flat.add(c);
          }
        }
      }
      if (left.size === 0 || this.clock() >= untilMs) break;
      await new Promise((r) => setTimeout(r, FLAT_POLL_MS));
    }
    return flat;
  }

  /**
   * A close answered but not flat: the contract's working orders of now (not a close in flight) stay, and are
   * cancelled once the position reads flat within deferredSweepMs. Returns the answer's words for it.
   */
  private async keepUntilFlat(accountId: number, contractId: string): Promise<string> {
    let rows: BrokerOrder[];
    try {
      rows = (await this.broker<BrokerOrder[] | null>('queryAllOrders', { accountId, statuses: WORKING_BROKER_STATUSES, contractId })) ?? [];
    } catch (err) {
      this.deps.logger.warn({ err, accountId, contractId }, 'close not flat yet and its working orders could not be listed: nothing is swept for it');
      return `its working orders (stops, targets) kept; they could not be listed (${FrontDoorError.from(err).message}), so cancel them once it is flat`;
    }
    const ids = new Set<number>();
    for (const o of rows) {
      if (o.contractId !== contractId || !WORKING_BROKER_STATUSES.includes(o.status)) continue;
      if (this.closes.isOurs({ accountId, contractId, type: o.type, side: o.side, size: o.size, customTag: o.customTag })) continue;
      ids.add(o.id);
    }
    if (ids.size === 0) return 'no working order of the contract to keep';
    const key = `${accountId} ${contractId}`;
    const untilMs = this.clock() + this.deferredSweepMs;
    const prior = this.deferredSweeps.get(key);
    if (prior) {
      for (const id of ids) prior.ids.add(id);
      prior.untilMs = Math.max(prior.untilMs, untilMs);
    } else {
      this.deferredSweeps.set(key, { accountId, contractId, ids, untilMs, nudged: false });
      void this.runDeferredSweep(key);
    }
    return `its ${ids.size} working orders (stops, targets) kept; they are cancelled once it is flat (within ${Math.round(this.deferredSweepMs / 1000)} s)`;
  }

  /** The loop of one deferred sweep (main thread): ends when it swept, at its deadline, or when the service stops. */
  private async runDeferredSweep(key: string): Promise<void> {
    let lastRestMs = this.clock();
    for (;;) {
      await new Promise((r) => setTimeout(r, DEFERRED_POLL_MS).unref());
      const d = this.deferredSweeps.get(key);
      if (!d) return;
      const now = this.clock();
      if (this.stopped || now >= d.untilMs) {
        this.deferredSweeps.delete(key);
        if (!this.stopped) this.deps.logger.warn({ accountId: d.accountId, contractId: d.contractId, kept: d.ids.size }, 'a close did not make the position flat in time: its working orders were kept');
        return;
      }
      const quick = d.nudged || this.flatHint(d.accountId, d.contractId) !== false;
      if (now - lastRestMs < (quick ? FLAT_REST_SLOW_MS : DEFERRED_REST_SLOW_MS)) continue;
      lastRestMs = now;
      d.nudged = false;
      const open = await this.openContracts(d.accountId);
      if (open === undefined || open.has(d.contractId) || this.deferredSweeps.get(key) !== d) continue;
      this.deferredSweeps.delete(key);
      try {
        const r = await this.cancelWorking(d.accountId, d.contractId, d.ids);
        this.deps.logger.info({ accountId: d.accountId, contractId: d.contractId, cancelled: r.cancelled, failed: r.failed }, 'position flat after its close: the working orders it kept are cancelled');
      } catch (err) {
        this.deps.logger.warn({ err, accountId: d.accountId, contractId: d.contractId }, 'position flat after its close, but its working orders could not be listed for cancelling');
      }
      return;
    }
  }

  /**
   * True when a working order of the contract satisfies `matches`: the close that holds the position's lease (the
   * risk-manager's or an earlier one of ours) still works at the broker. One REST read; ClosesInFlight.acquire asks
   * it only when a lease holds the position.
   */
  private async closeStillWorking(accountId: number, contractId: string, matches: (o: BrokerOrder) => boolean): Promise<boolean> {
    const rows = await this.broker<BrokerOrder[]>('queryAllOrders', { accountId, statuses: WORKING_BROKER_STATUSES, contractId });
    return (rows ?? []).some((o) => o.contractId === contractId && WORKING_BROKER_STATUSES.includes(o.status) && matches({ ...o, accountId }));
  }

  /** Cancels the working orders of the contract that can be the stuck close `stuck` records; returns how many. */
  private async cancelStuckClose(accountId: number, contractId: string, stuck: CloseLeaseView): Promise<number> {
    const rows = await this.broker<BrokerOrder[]>('queryAllOrders', { accountId, statuses: WORKING_BROKER_STATUSES, contractId });
    let cancelled = 0;
    for (const o of rows ?? []) {
      if (o.contractId !== contractId || !WORKING_BROKER_STATUSES.includes(o.status) || !this.closes.isCloseOf(stuck, { ...o, accountId })) continue;
      if ((await this.brokerResult('cancelOrder', { accountId, orderId: o.id })).ok) cancelled += 1;
    }
    return cancelled;
  }

  /**
   * Cancels the working orders of an account (one contract, or all but `skipContracts`), bracket children included;
   * with `only`, just those of its ids that still work.
   */
  private async cancelWorking(
    accountId: number,
    contractId?: string,
    only?: ReadonlySet<number>,
    skipContracts?: ReadonlySet<string>,
  ): Promise<{ cancelled: number; failed: number; failedContracts: Set<string> }> {
    const rows = await this.broker<BrokerOrder[]>('queryAllOrders', { accountId, statuses: WORKING_BROKER_STATUSES, ...(contractId ? { contractId } : {}) });
    let cancelled = 0;
    let failed = 0;
    const failedContracts = new Set<string>();
    for (const o of rows ?? []) {
      if (contractId !== undefined && o.contractId !== contractId) continue;
      if (skipContracts?.has(o.contractId) || (only !== undefined && !only.has(o.id))) continue;
      if (!WORKING_BROKER_STATUSES.includes(o.status)) continue;
      // One of the engine's closes in flight, ours or the risk-manager's (the broker fills it after its answer):
      // cancelling it leaves the position open behind a "position closed" / "flat" answer, or a loss limit
      // unenforced. Another tool's untagged market order is cancelled like any order.
      if (this.closes.isOurs({ accountId, contractId: o.contractId, type: o.type, side: o.side, size: o.size, customTag: o.customTag })) continue;
      const r = await this.brokerResult('cancelOrder', { accountId, orderId: o.id });
      if (r.ok) cancelled += 1;
      else {
        failed += 1;
        failedContracts.add(o.contractId);
      }
    }
    return { cancelled, failed, failedContracts };
  }

  /**
   * Halts (on request), closes every position, cancels the working orders of every contract without a position, then
   * waits (at most closeFlatWaitMs for all) for the closed positions to read flat and cancels their orders; a position
   * not flat by then keeps its stops and targets (deferred sweep, as ClosePosition) and the answer is not "flat"
   * (success false: retrying it sends no second close over one in flight). `deadlineMs` is checked on
   * arrival only: a flatten left half done is worse than a late one, so its broker calls go to the executor without
   * a deadline (as do a full close's sweep and every read).
   */
  async flattenAll(req: orders.FlattenAllRequest, deadlineMs = 0): Promise<orders.FlattenAllResponse> {
    const accountId = this.accountOf(req.accountId);
    const id = this.requestKey('flatten', accountId, req.clientRequestId);
    this.refuseIfExpired(deadlineMs, 'FlattenAll');
    return this.onceById(id, req.halt ? 'halt' : 'no-halt', async (flag) => {
      const notes: string[] = [];
      if (req.halt) {
        try {
          await this.deps.supervisor.request('risk-manager', 'halt', { accountId, reason: 'FlattenAll' });
        } catch (err) {
          notes.push(`halt failed: ${(err as Error).message}`);
        }
      }
      const positions = (await this.broker<BrokerPosition[] | null>('searchOpenPositions', accountId)) ?? [];
      // Closes and cancels go out from here (the halt repeats harmlessly): the key is held.
      flag.sent = true;
      let closedPositions = 0;
      const failed = new Set<string>();
      /** Contracts with a position: their stops and targets stay until it reads flat. */
      const open = new Set<string>();
      /** Contracts whose close was sent now or still works (another sender's): swept once flat. */
      const closing: string[] = [];
      for (const p of positions) {
        if (p.size <= 0) continue;
        open.add(p.contractId);
        const side = ClosesInFlight.closingSide(p.type === 2 ? -p.size : p.size);
        const go = await this.closes.acquire(accountId, p.contractId, side, p.size, (m) => this.closeStillWorking(accountId, p.contractId, m));
        if (!go.send) {
          const by = ClosesInFlight.senderName(go.holder);
          if (go.reason === 'IN_FLIGHT' && go.stuck !== undefined) {
            // A close past its lease still working (a halted or locked market): never closed over. It is cancelled
            // here, and the contract counts as not flat: the retry (the key is let go) closes once it is gone.
            const n = await this.cancelStuckClose(accountId, p.contractId, go.stuck).catch(() => -1);
            notes.push(
              n > 0
                ? `a close of ${p.contractId} sent by ${by} was stuck (still working more than 30 s after it was sent): cancelled; flatten again to close`
                : `a close of ${p.contractId} sent by ${by} is stuck (still working more than 30 s after it was sent) and could not be cancelled; not sent again`,
            );
            failed.add(p.contractId);
            continue;
          }
          // An earlier close (a retried flatten, a ClosePosition, the risk-manager's loss-limit flatten) still works,
          // or may: a second would fill too.
          notes.push(
            go.reason === 'IN_FLIGHT'
              ? `a close of ${p.contractId} sent earlier by ${by} is still working at the broker; not sent again`
              : `a close of ${p.contractId} sent earlier by ${by} may still be working at the broker (its working orders could not be read); not sent`,
          );
          if (go.reason === 'IN_FLIGHT') closing.push(p.contractId);
          continue;
        }
        if (go.lease === undefined) this.deps.logger.error({ accountId, contractId: p.contractId }, 'close lease table full of sends in progress: closing without a lease');
        let closeId: string;
        try {
          // No request key in a flatten's intents: a flatten cut short by a crash is run afresh by its retry, which the
          // leases re-seeded from these intents keep from closing twice.
          closeId = await this.journalCloseIntent(accountId, p.contractId, side, p.size, true, undefined);
        } catch (err) {
          this.closes.release(go);
          notes.push(`${p.contractId}: ${FrontDoorError.from(err).message}`);
          failed.add(p.contractId);
          continue;
        }
        const r = await this.brokerResult('closeContract', { accountId, contractId: p.contractId });
        this.journalCloseOutcome(closeId, r.ok ? 'accepted' : closeOutcomeOf(r));
        if (r.ok) {
          closedPositions += 1;
          this.closes.markSent(go);
          closing.push(p.contractId);
        } else {
          // As in closePosition: released only when certainly not sent; a broker refusal counts as answered.
          if (!mutationFailure(r).sent) this.closes.release(go);
          else if (r.code === 'GATEWAY_ERROR') this.closes.markSent(go);
          failed.add(p.contractId);
        }
      }
      let cancelledOrders = 0;
      // The orders of contracts without a position go at once (an entry would open one again); a position's stops and
      // targets stay until it reads flat (a close that fails must not leave it naked).
      try {
        const sweep = await this.cancelWorking(accountId, undefined, undefined, open);
        cancelledOrders = sweep.cancelled;
        for (const c of sweep.failedContracts) failed.add(c);
      } catch (err) {
        // Closes went out: an error status here would read "nothing was sent".
        notes.push(`working orders could not be listed for cancelling: ${FrontDoorError.from(err).message}`);
      }
      if (closing.length > 0) {
        const flat = await this.waitFlat(accountId, closing, this.clock() + this.closeFlatWaitMs);
        const notFlat: string[] = [];
        for (const contractId of closing) {
          if (!flat.has(contractId)) {
            notFlat.push(`${contractId} (${await this.keepUntilFlat(accountId, contractId)})`);
            continue;
          }
          try {
            const sweep = await this.cancelWorking(accountId, contractId);
            cancelledOrders += sweep.cancelled;
            for (const c of sweep.failedContracts) failed.add(c);
          } catch (err) {
            notes.push(`${contractId} is flat; its working orders could not be listed for cancelling: ${FrontDoorError.from(err).message}`);
          }
        }
        if (notFlat.length > 0) notes.push(`closes sent, not flat yet ${this.closeFlatWaitMs} ms after the answer: ${notFlat.join('; ')}`);
      }
      const ok = failed.size === 0 && notes.length === 0;
      // A flatten that failed does not hold its key: the trader retrying it with the same id wants another try at
      // being flat, not a replay of the failure (what it did close stays closed; a second pass finds it flat).
      if (!ok) flag.sent = false;
      return {
        success: ok,
        message: ok ? 'flat' : [...notes, failed.size > 0 ? `could not flatten ${[...failed].join(', ')}` : ''].filter(Boolean).join('; '),
        cancelledOrders,
        closedPositions,
        failedContracts: [...failed],
        duplicate: false,
      };
    });
  }

  // ---- PlaceBatch ----

  async placeBatch(req: { orders?: unknown; maxConcurrency?: unknown; allOrNone?: unknown }, deadlineMs: number): Promise<orders.BatchOrderResponse> {
    const list = req.orders;
    if (!Array.isArray(list) || list.length === 0) throw new FrontDoorError('INVALID_ARGUMENT', 'orders: at least one order is required', 'orders');
    if (list.length > this.maxBatch) throw new FrontDoorError('INVALID_ARGUMENT', `orders: at most ${this.maxBatch} orders per batch, got ${list.length}`, 'orders');
    const mc = req.maxConcurrency ?? 0;
    if (typeof mc !== 'number' || !Number.isInteger(mc) || mc < 0 || mc > 1000) {
      // Only a number is echoed: String() of a deeply nested JSON array overflows the stack (a 500).
      throw new FrontDoorError('INVALID_ARGUMENT', `max_concurrency: must be an integer from 0 to 1000, got ${typeof mc === 'number' ? mc : `a ${typeof mc}`}`, 'max_concurrency');
    }
    const allOrNone = req.allOrNone ?? false;
    if (typeof allOrNone !== 'boolean') throw new FrontDoorError('INVALID_ARGUMENT', 'all_or_none: must be a boolean', 'all_or_none');
    const concurrency = mc === 0 ? this.deps.config.batchConcurrency : mc;
    const results: orders.OrderResponse[] = new Array(list.length);
    let validated: Array<ValidatedOrder | undefined> | undefined;
    let reservations: Array<ReservationRecord | undefined> | undefined;
    if (allOrNone) {
      const pre = this.precheck(list);
      if ('failed' in pre) return tally(pre.failed);
      validated = pre.validated;
      reservations = pre.reservations;
    }
    const prepared = list.map((input, i) => this.prepare(input, deadlineMs, reservations?.[i], validated?.[i]));
    const journaled = await this.journalBatch(prepared);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= list.length) return;
        const r = await this.run(prepared[i]!, reservations?.[i], journaled, this.clock());
        results[i] = r.response;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
    return tally(results);
  }

  /**
   * The intents of a batch's new orders in one journal commit (one fdatasync) before any is sent. Otherwise
   * the orders reach the executor a few at a time as the concurrency window moves, each group with its own
   * sync blocking that thread (about 35 syncs per 100 orders). False (each order then journals itself, as a
   * single PlaceOrder does) for fewer than two orders or when the commit failed: nothing is sent without its
   * intent on disk either way.
   */
  private async journalBatch(prepared: readonly Prepared[]): Promise<boolean> {
    const tasks: PlaceTask[] = [];
    for (const p of prepared) if (p.kind === 'order') tasks.push(p.task);
    if (tasks.length < 2) return false;
    try {
      const r = await this.deps.executor.run<JournalResult>({ kind: 'journal', tasks } satisfies JournalTask);
      if (r.ok) return true;
      this.deps.logger.warn({ orders: tasks.length, message: r.message }, 'batch journal commit failed: each order journals on its own');
    } catch (err) {
      this.deps.logger.warn({ err, orders: tasks.length }, 'batch journal commit not run: each order journals on its own');
    }
    return false;
  }

  /**
   * all_or_none: every order is validated and passes the risk gate (reserving its size) before any is
   * sent; one failure releases every reservation and fails the whole batch, nothing sent.
   */
  private precheck(list: unknown[]): { validated: ValidatedOrder[]; reservations: Array<ReservationRecord | undefined> } | { failed: orders.OrderResponse[] } {
    const validated: ValidatedOrder[] = [];
    let failure: { index: number; code: string; message: string } | undefined;
    for (let i = 0; i < list.length && !failure; i++) {
      try {
        const input = list[i];
        if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new FrontDoorError('INVALID_ARGUMENT', 'orders: each order must be an object', 'orders');
        validated.push(this.validate(input as OrderRequestInput));
      } catch (err) {
        const e = FrontDoorError.from(err);
        failure = { index: i, code: e.code, message: e.message };
      }
    }
    if (!failure && !this.ready) failure = { index: 0, code: 'UNAVAILABLE', message: 'orders: the engine is recovering its order book' };
    const reservations: Array<ReservationRecord | undefined> = [];
    if (!failure) {
      // A client order id bound (on the book or earlier in this batch) to other parameters is ALREADY_EXISTS:
      // a failure of the whole batch, found before anything is reserved.
      const seen = new Map<string, string>();
      for (let i = 0; i < validated.length && !failure; i++) {
        const v = validated[i]!;
        if (v.clientOrderId === '') continue;
        const key = clientKey(v.accountId, v.clientOrderId);
        const bound = this.book.byClientOrderId(v.accountId, v.clientOrderId)?.paramsKey ?? seen.get(key);
        const params = paramsKeyOf(v, list[i] as OrderRequestInput);
        if (bound !== undefined && bound !== params) {
          failure = { index: i, code: 'ALREADY_EXISTS', message: `client_order_id: ${JSON.stringify(v.clientOrderId)} was already used with different parameters` };
        } else seen.set(key, params);
      }
    }
    if (!failure) {
      for (let i = 0; i < validated.length; i++) {
        const v = validated[i]!;
        // A repeat of an earlier order reserves nothing: it will be answered from the book.
        if (v.clientOrderId !== '' && this.book.byClientOrderId(v.accountId, v.clientOrderId)) {
          reservations.push(undefined);
          continue;
        }
        const c = this.resolveSymbol(v.contract.contractId)!.info;
        const account = this.deps.runtime.accounts.find((a) => a.accountId === v.accountId)!;
        const d = this.gate.check({ accountSlot: account.slot, contractSlot: c.slot, side: v.side === 'BUY' ? 0 : 1, size: v.quantity, reduceOnly: v.reduceOnly });
        if (!d.allowed) {
          failure = { index: i, code: d.reason, message: `${d.reason}: ${d.detail}` };
          break;
        }
        reservations.push(d.reservation);
      }
      if (failure) for (const r of reservations) if (r) this.gate.release(r);
    }
    if (!failure) return { validated, reservations };
    const f = failure;
    return {
      failed: list.map((input, i) => ({
        ...emptyResponse(input, undefined),
        reasonCode: f.code,
        message: i === f.index ? f.message : `not sent: order ${f.index} of this all_or_none batch failed (${f.message})`,
      })),
    };
  }

  // ---- broker calls on the executor pool (shared rate budget and keep-alive pools) ----

  private async brokerResult(method: RestMethod, ...args: unknown[]): Promise<RestResult> {
    try {
      return await this.deps.executor.run<RestResult>({ kind: 'rest', method, args });
    } catch (err) {
      const e = FrontDoorError.from(err);
      return { ok: false, code: e.code, message: e.message };
    }
  }

  private async broker<T>(method: RestMethod, ...args: unknown[]): Promise<T> {
    const r = await this.brokerResult(method, ...args);
    if (!r.ok) {
      throw new FrontDoorError(r.code === 'QUEUE_FULL' ? 'QUEUE_FULL' : 'UNAVAILABLE', `broker ${method} failed: ${r.message}`);
    }
    return r.value as T;
  }

  // ---- answers ----

  response(e: OrderEntry, success: boolean, message?: string): orders.OrderResponse {
    const r = e.sm.record;
    return {
      success,
      orderId: e.orderId,
      message: message ?? r.message ?? '',
      status: r.status,
      brokerOrderId: r.brokerOrderId ?? 0,
      customTag: e.customTag,
      clientOrderId: e.clientOrderId,
      reasonCode: success ? '' : (r.reasonCode ?? ''),
      orderStatus: ORDER_STATE_NUMBER[r.status],
      contractId: e.contractId,
      filledQuantity: r.filledQuantity,
      ...(r.averageFillPriceUnits !== undefined ? { averageFillPrice: unitsToPrice(r.averageFillPriceUnits) } : {}),
      duplicate: false,
      stopLossTicks: e.stopLossTicks,
      takeProfitTicks: e.takeProfitTicks,
    };
  }

  statusResponse(e: OrderEntry): orders.OrderStatusResponse {
    const r = e.sm.record;
    return {
      found: true,
      orderId: e.orderId,
      status: r.status,
      orderStatus: ORDER_STATE_NUMBER[r.status],
      brokerOrderId: r.brokerOrderId ?? 0,
      customTag: e.customTag,
      clientOrderId: e.clientOrderId,
      symbol: e.symbol,
      contractId: e.contractId,
      side: e.side,
      // As last modified (e.quantity is the size placed).
      quantity: r.quantity,
      filledQuantity: r.filledQuantity,
      ...(r.averageFillPriceUnits !== undefined ? { averageFillPrice: unitsToPrice(r.averageFillPriceUnits) } : {}),
      ...(r.priceUnits !== undefined ? { price: unitsToPrice(r.priceUnits) } : {}),
      orderType: e.orderType,
      strategyName: e.strategyName,
      reasonCode: r.reasonCode ?? '',
      message: r.message ?? '',
      createdAtMs: r.createdAtMs,
      updatedAtMs: r.updatedAtMs,
    };
  }

  update(e: OrderEntry): orders.OrderUpdate {
    const r = e.sm.record;
    return {
      orderId: e.orderId,
      orderStatus: ORDER_STATE_NUMBER[r.status],
      status: r.status,
      brokerOrderId: r.brokerOrderId ?? 0,
      customTag: e.customTag,
      clientOrderId: e.clientOrderId,
      strategyName: e.strategyName,
      symbol: e.symbol,
      contractId: e.contractId,
      side: e.side,
      quantity: r.quantity,
      filledQuantity: r.filledQuantity,
      ...(r.averageFillPriceUnits !== undefined ? { averageFillPrice: unitsToPrice(r.averageFillPriceUnits) } : {}),
      reasonCode: r.reasonCode ?? '',
      message: r.message ?? '',
      timestampMs: r.updatedAtMs,
      sequence: r.version,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.supervisor.off('event', this.onEvent);
    if (this.resolveTimer) clearTimeout(this.resolveTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.deferredSweeps.clear();
    this.journal.close();
  }
}

/** The book entry of an order, from its task or from its journalled intent (a subset of the task's fields). */
function entryInitOf(t: IntentRecord | PlaceTask, accountSlot: number, contractSlot: number): OrderEntryInit {
  return {
    orderId: t.orderId,
    accountId: t.accountId,
    accountSlot,
    contractId: t.contractId,
    contractSlot,
    symbol: t.symbol,
    side: t.side,
    quantity: t.quantity,
    orderType: t.orderType,
    price: t.limitPrice ?? t.stopPrice ?? t.trailPrice,
    strategyName: t.strategyName,
    clientOrderId: t.clientOrderId,
    paramsKey: t.paramsKey,
    customTag: t.customTag,
    counter: t.counter,
    stopLossTicks: t.stopLossTicks ?? 0,
    takeProfitTicks: t.takeProfitTicks ?? 0,
    createdAtMs: t.createdAtMs,
  };
}

/** Canonical order parameters. Bracket levels as requested (not ticks, which move with the mark). */
function paramsKeyOf(v: ValidatedOrder, input: OrderRequestInput): string {
  const level = (camel: keyof OrderRequestInput, snake: keyof OrderRequestInput): string => {
    const x = input[camel] ?? input[snake];
    return typeof x === 'number' ? String(priceToUnits(x)) : '';
  };
  return [
    v.contract.contractId,
    v.side,
    v.quantity,
    v.orderType,
    v.limitPriceUnits ?? '',
    v.stopPriceUnits ?? '',
    v.trailPriceUnits ?? '',
    level('stopLoss', 'stop_loss'),
    level('takeProfit', 'take_profit'),
    v.strategyName,
    v.reduceOnly ? 1 : 0,
  ].join('|');
}

/** The answer for an order that never entered the book (refused input). */
function emptyResponse(input: unknown, err: unknown): orders.OrderResponse {
  const e = err === undefined ? undefined : FrontDoorError.from(err);
  const cid = input && typeof input === 'object' ? ((input as OrderRequestInput).clientOrderId ?? (input as OrderRequestInput).client_order_id) : undefined;
  return {
    success: false,
    orderId: '',
    message: e?.message ?? '',
    status: 'REJECTED',
    brokerOrderId: 0,
    customTag: '',
    clientOrderId: typeof cid === 'string' ? cid : '',
    reasonCode: e?.code ?? '',
    orderStatus: ORDER_STATE_NUMBER.REJECTED,
    contractId: '',
    filledQuantity: 0,
    duplicate: false,
    stopLossTicks: 0,
    takeProfitTicks: 0,
  };
}

function tally(results: orders.OrderResponse[]): orders.BatchOrderResponse {
  let succeeded = 0;
  for (const r of results) if (r.success) succeeded += 1;
  return { results, succeeded, failed: results.length - succeeded };
}

/** The journal's word for a close's failed answer (see mutationFailure). */
function closeOutcomeOf(res: Extract<RestResult, { ok: false }>): CloseOutcomeKind {
  if (!mutationFailure(res).sent) return 'not-sent';
  return res.code === 'GATEWAY_ERROR' ? 'refused' : 'unknown';
}

/** The answer replayed to the retry of a ClosePosition that a restart cut short (its answer never journaled). */
function cutShortAnswer(intent: CloseIntentRecord, outcome: CloseOutcomeKind | undefined): orders.ClosePositionResponse {
  const base = { contractId: intent.contractId, cancelledOrders: 0, orderId: '', duplicate: false };
  if (outcome === 'accepted') {
    return {
      ...base,
      success: true,
      closedQuantity: intent.size,
      reasonCode: '',
      message: `close of ${intent.contractId} accepted by the broker before an engine restart; its working orders were not swept: read the position and its orders`,
    };
  }
  if (outcome === 'refused') {
    return { ...base, success: false, closedQuantity: 0, reasonCode: 'BROKER_REJECTED', message: `the broker refused this close of ${intent.contractId} before an engine restart` };
  }
  return {
    ...base,
    success: false,
    closedQuantity: 0,
    reasonCode: 'UNKNOWN_OUTCOME',
    message: `the engine restarted while this close of ${intent.contractId} was in flight: it may have reached the broker; read the position before closing again`,
  };
}

/** How a ClosePosition / FlattenAll call with a client_request_id ended, for the repeats that wait on it. */
interface RequestOutcome {
  /** Something may have reached the broker: the key stays held. */
  readonly sent: boolean;
  readonly response?: unknown;
  readonly error?: FrontDoorError;
}

/**
 * A failed broker mutation (cancel, modify, close) as a reason code, and whether it may have reached the
 * broker. Only errors that prove nothing was sent say it was not: the executor queue full or not ready,
 * the rate budget (the client refuses a mutation it has no token for), no connection, a refused login.
 */
function mutationFailure(res: Extract<RestResult, { ok: false }>): { reasonCode: OrderErrorCode; sent: boolean } {
  switch (res.code) {
    case 'GATEWAY_ERROR':
    case 'HTTP_STATUS':
      return { reasonCode: 'BROKER_REJECTED', sent: true };
    case 'QUEUE_FULL':
      return { reasonCode: 'QUEUE_FULL', sent: false };
    case 'RATE_LIMITED':
      return { reasonCode: 'ORDER_RATE', sent: false };
    case 'TRANSPORT_ERROR':
    case 'AUTH_FAILED':
    case 'UNAVAILABLE':
      return { reasonCode: 'UNAVAILABLE', sent: false };
    default:
      return { reasonCode: 'UNKNOWN_OUTCOME', sent: true };
  }
}
