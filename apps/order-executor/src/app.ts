// The order-executor service inside one pool thread: risk gate (shared memory, atomic reservation) →
// a token from the shared rate budget, bound to this order (a RatePermit) → the intent journalled and
// fsync'd → Order/place, sent on that token, on this thread's keep-alive undici pool. The task's deadline is checked
// between these steps and handed to the broker client, which does not write the request past it either (a wait for a
// pool connection or a re-login after HTTP 401): every such refusal is the same not-sent DEADLINE. One task per order;
// many tasks run at once on the thread's event loop. The front door has validated the order and assigned its id and custom tag. The gate records its
// claims in the task's entry of the pool's reservation ledger (ledgerHold), so that the main thread can take
// them over if this thread dies before the answer carrying the reservation reaches it (ADR 0003 "Releasing").
import { threadId } from 'node:worker_threads';
import {
  JournalWriter,
  intentOf,
  type JournalResult,
  type JournalTask,
  type OutcomeRecord,
  type PlaceOutcome,
  type PlaceTask,
  type RestMethod,
  type RestNotSentDeadline,
  type RestResult,
  type RestTask,
  type ReservationRecord,
} from '@gateway/order-journal';
import { RiskGate } from '@gateway/risk-gate';
import type { ReservationLedger, SharedState } from '@gateway/shared-state';
import { riskGateOptions, type ExecutorFault, type LedgerTask, type Logger, type WorkerInit } from '@gateway/runtime';
import {
  AuthError,
  createLocalRateGate,
  DEFAULT_RATE_LIMITS,
  GatewayError,
  GatewayRestClient,
  HttpStatusError,
  RateLimitedError,
  RatePermit,
  RatePermitError,
  SendDeadlineError,
  TransportError,
  type PlaceOrderRequest,
  type RateGate,
  type SendDeadlineStage,
} from '@gateway/topstepx';
import { Counter, Histogram, type Registry } from 'prom-client';

export type ExecutorTask = PlaceTask | RestTask | JournalTask;

export interface ExecutorDeps {
  init: WorkerInit;
  state: SharedState;
  logger: Logger;
  registry: Registry;
  /** Epoch ms; default Date.now. */
  clock?: () => number;
  /** This thread's view of the pool's reservation ledger; required for tasks that carry a ledgerHold. */
  ledger?: ReservationLedger;
  /** Tests only (ExecutorPoolOptions.faults): faults this thread acts out on cue. */
  faults?: readonly ExecutorFault[];
}

/** A test fault acted out (ExecutorPoolOptions.faults): never raised unless a test asked for it. */
export class ExecutorFaultError extends Error {
  readonly code = 'TEST_FAULT';
  constructor(fault: ExecutorFault) {
    super(`test fault: executor thread dies ${fault.when} (${fault.how})`);
    this.name = 'ExecutorFaultError';
  }
}

export interface Executor {
  start(): Promise<void>;
  handle(task: ExecutorTask): Promise<PlaceOutcome | RestResult | JournalResult>;
  close(): Promise<void>;
}

/** Longest wait for a token of the shared rate budget before an order is answered ORDER_RATE (nothing sent). */
const RATE_WAIT_MAX_MS = 2_000;

/**
 * The broker client's per-request timeout, which also caps its own waits for a rate token; a broker call with a
 * deadline waits for its token here instead (to check the deadline after the wait), under the same cap.
 */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Where a broker method takes its CallOptions (its argument count), for a call with a deadline, which is sent on the
 * token the executor took for it and hands the deadline to the client. Undefined: the method sends several requests
 * (pages) and takes no deadline.
 */
const OPTIONS_ARG: Readonly<Record<RestMethod, number | undefined>> = {
  cancelOrder: 1,
  modifyOrder: 1,
  closeContract: 1,
  partialCloseContract: 1,
  searchOrders: 1,
  searchOpenOrders: 1,
  searchOpenPositions: 1,
  queryAllOrders: undefined,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Where a call with a deadline waited inside the broker client when the client refused to write it (SendDeadlineError):
 * after the executor's own last check, the client can still wait for a rate token (a resend), a login (a re-login
 * after HTTP 401) or a free keep-alive connection of its pool.
 */
const CLIENT_WAIT: Readonly<Record<SendDeadlineStage, string>> = {
  'rate-budget': 'waiting for the broker request budget',
  login: 'waiting for the broker login',
  connection: 'waiting for a free connection to the broker',
};

export function createExecutor(deps: ExecutorDeps): Executor {
  const { init, state, logger, registry } = deps;
  const clock = deps.clock ?? Date.now;
  const cfg = init.config;
  // The gate judges trading hours and micro weighting by the same RISK_* settings and risk clock as the
  // risk-manager; an injected clock (tests) replaces the risk clock.
  const gate = new RiskGate(state, { ...riskGateOptions(cfg.risk), ...(deps.clock ? { clock: deps.clock } : {}), ...(deps.ledger ? { ledger: deps.ledger } : {}) });
  const faults = deps.faults ?? [];
  // The client draws on the same gate as the permits taken here (it refuses a permit of another gate).
  const rateGate: RateGate = cfg.broker.rateLimit ? state.rate : createLocalRateGate(DEFAULT_RATE_LIMITS, false);
  const rest = new GatewayRestClient({
    baseUrl: init.broker.apiUrl,
    userName: cfg.broker.userName,
    apiKey: cfg.broker.apiKey,
    connections: cfg.broker.connections,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    rateGate,
    clock,
    logger,
  });
  const journal = new JournalWriter(cfg.dataDir, `${process.pid}-${threadId}`);

  const outcomes = new Counter({
    name: 'executor_orders_total',
    help: 'Orders handled by the executor threads, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const placeLatency = new Histogram({
    name: 'executor_place_seconds',
    help: 'Executor task time of one order: gate, rate token, journal fsync and Order/place',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });

  /** The fault cued for this point of this task's strategy, if a test set one. */
  function cued(when: ExecutorFault['when'], task: PlaceTask): ExecutorFault | undefined {
    return faults.length === 0 ? undefined : faults.find((f) => f.when === when && f.strategy === task.strategyName);
  }

  /** Ends this thread as the fault says: process.exit, or an exception nothing catches (on the next turn). */
  function die(fault: ExecutorFault): void {
    logger.warn({ fault }, 'test fault: executor thread dies');
    if (fault.how === 'exit') process.exit(70);
    else {
      setImmediate(() => {
        throw new ExecutorFaultError(fault);
      });
    }
  }

  const unusedTokens = new Counter({
    name: 'executor_rate_tokens_unused_total',
    help: 'Tokens of the shared broker rate budget taken for a request that was then not sent (counted until they leave the window)',
    registers: [registry],
  });

  /** The call a permit was taken for is over: a permit still held was not sent on, and its token stays counted. */
  function settle(permit: RatePermit): void {
    if (permit.drop()) unusedTokens.inc();
  }

  function done(out: PlaceOutcome, startedMs: number): PlaceOutcome {
    outcomes.inc({ outcome: out.outcome });
    placeLatency.observe((clock() - startedMs) / 1000);
    return out;
  }

  /**
   * Takes a token of the shared general budget for one request, as a permit only that request can spend, waiting at
   * most `maxWaitMs`. Without a token, says why: the wait would end past `deadlineMs` (0 = none) or past `maxWaitMs`;
   * nothing is taken then.
   */
  async function takeRateToken(deadlineMs: number, maxWaitMs: number): Promise<RatePermit | 'deadline' | 'budget'> {
    const limit = clock() + maxWaitMs;
    for (;;) {
      const now = clock();
      const taken = RatePermit.take(rateGate, 'general', now);
      if (typeof taken !== 'number') return taken;
      const wait = taken;
      if (deadlineMs > 0 && now + wait >= deadlineMs) return 'deadline';
      if (now + wait > limit) return 'budget';
      await sleep(wait);
    }
  }

  /** An answer before the send. A journaled intent gets its outcome line: the order never left. */
  function notSent(task: PlaceTask, out: PlaceOutcome, startedMs: number): PlaceOutcome {
    if (task.journaled) journal.appendOutcome(outcomeRecord(task.orderId, out, clock()));
    return done(out, startedMs);
  }

  async function journalIntents(task: JournalTask): Promise<JournalResult> {
    const at = clock();
    try {
      // Appended in the same tick: one write and one fdatasync for them all (JournalWriter's group commit).
      await Promise.all(task.tasks.map((t) => journal.appendIntent(intentOf(t, at))));
      return { ok: true };
    } catch (err) {
      logger.error({ err, orders: task.tasks.length }, 'journal write failed: batch not sent');
      return { ok: false, message: `journal write failed: ${(err as Error).message}` };
    }
  }

  async function place(task: PlaceTask & LedgerTask): Promise<PlaceOutcome> {
    const started = clock();
    let reservation: ReservationRecord | undefined = task.reservation;
    if (reservation === undefined) {
      const d = gate.check(
        {
          accountSlot: task.accountSlot,
          contractSlot: task.contractSlot,
          side: task.side === 'BUY' ? 0 : 1,
          size: task.quantity,
          reduceOnly: task.reduceOnly,
        },
        task.ledgerHold,
      );
      if (!d.allowed) return notSent(task, { outcome: 'denied', reasonCode: d.reason, message: d.detail }, started);
      reservation = d.reservation;
    }
    const fault = cued('after-claim', task);
    if (fault) {
      die(fault);
      // The thread ends before this settles: the order is neither journalled nor sent.
      return new Promise<never>(() => undefined);
    }
    if (task.deadlineMs > 0 && clock() >= task.deadlineMs) {
      return notSent(task, { outcome: 'not-sent', code: 'DEADLINE', message: 'deadline passed before the order was sent', reservation }, started);
    }
    const permit = await takeRateToken(task.deadlineMs, RATE_WAIT_MAX_MS);
    if (typeof permit === 'string') {
      return notSent(task, { outcome: 'not-sent', code: 'ORDER_RATE', message: 'broker request budget exhausted: nothing was sent, retry later', reservation }, started);
    }
    if (task.deadlineMs > 0 && clock() >= task.deadlineMs) {
      settle(permit);
      return notSent(task, { outcome: 'not-sent', code: 'DEADLINE', message: 'deadline passed before the order was sent', reservation }, started);
    }
    const sentAtMs = clock();
    if (!task.journaled) {
      try {
        await journal.appendIntent(intentOf(task, sentAtMs));
      } catch (err) {
        settle(permit);
        logger.error({ err, orderId: task.orderId }, 'journal write failed: order not sent');
        return done({ outcome: 'not-sent', code: 'INTERNAL', message: `journal write failed: ${(err as Error).message}`, reservation }, started);
      }
      // The deadline may pass during the fdatasync; the intent on disk gets its not-sent line.
      if (task.deadlineMs > 0 && clock() >= task.deadlineMs) {
        settle(permit);
        const out: PlaceOutcome = { outcome: 'not-sent', code: 'DEADLINE', message: 'deadline passed before the order was sent', reservation };
        journal.appendOutcome(outcomeRecord(task.orderId, out, clock()));
        return done(out, started);
      }
    }
    const req: PlaceOrderRequest = {
      accountId: task.accountId,
      contractId: task.contractId,
      type: task.brokerType as PlaceOrderRequest['type'],
      side: task.side === 'BUY' ? 0 : 1,
      size: task.quantity,
      customTag: task.customTag,
    };
    if (task.limitPrice !== undefined) req.limitPrice = task.limitPrice;
    if (task.stopPrice !== undefined) req.stopPrice = task.stopPrice;
    if (task.trailPrice !== undefined) req.trailPrice = task.trailPrice;
    // Bracket legs are the broker's own orders of the matching type: a stop for the loss, a limit for the target.
    if (task.stopLossTicks !== undefined) req.stopLossBracket = { ticks: task.stopLossTicks, type: 4 };
    if (task.takeProfitTicks !== undefined) req.takeProfitBracket = { ticks: task.takeProfitTicks, type: 1 };
    let out: PlaceOutcome;
    try {
      // Sent on its own token: no other call of this thread can spend it during the journal write above. The client
      // holds the deadline from here to the write (a wait for a pool connection or a re-login): SendDeadlineError.
      const brokerOrderId = await rest.placeOrder(req, { permit, deadlineMs: task.deadlineMs });
      out = { outcome: 'accepted', brokerOrderId, reservation };
      journal.appendOutcome({ t: 'outcome', v: 1, orderId: task.orderId, outcome: 'accepted', brokerOrderId, atMs: clock() });
    } catch (err) {
      out = classifyPlaceError(err, sentAtMs, reservation);
      journal.appendOutcome(outcomeRecord(task.orderId, out, clock()));
      if (out.outcome === 'unknown') logger.warn({ orderId: task.orderId, customTag: task.customTag, err }, 'order outcome unknown: resolving by custom tag');
    } finally {
      settle(permit);
    }
    return done(out, started);
  }

  function tooLate(task: RestTask, where: string): RestNotSentDeadline {
    return { ok: false, code: 'DEADLINE', notSent: true, message: `the deadline passed ${where} before ${task.method} was sent` };
  }

  async function restCall(task: RestTask): Promise<RestResult> {
    const fn = (rest as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[task.method];
    if (typeof fn !== 'function') return { ok: false, code: 'INTERNAL', message: `unknown broker method ${task.method}` };
    const deadlineMs = task.deadlineMs ?? 0;
    let args = task.args as unknown[];
    let permit: RatePermit | undefined;
    if (deadlineMs > 0) {
      const at = OPTIONS_ARG[task.method];
      if (at === undefined || args.length !== at) {
        return { ok: false, code: 'INTERNAL', message: `${task.method} with ${args.length} arguments cannot be sent on a token of its own: no deadline for it` };
      }
      // The task may have waited in the pool's queue past the deadline.
      if (clock() >= deadlineMs) return tooLate(task, 'in the executor queue');
      // The token is taken here rather than by the client, whose own wait could not look at the deadline.
      const token = await takeRateToken(deadlineMs, REQUEST_TIMEOUT_MS);
      if (token === 'deadline') return tooLate(task, 'waiting for the broker request budget');
      if (token === 'budget') return { ok: false, code: 'RATE_LIMITED', message: `${task.method}: broker request budget exhausted; nothing was sent, retry later` };
      if (clock() >= deadlineMs) {
        settle(token);
        return tooLate(task, 'waiting for the broker request budget');
      }
      permit = token;
      // The client holds the deadline from here to the write: a wait for a pool connection or a re-login after a 401.
      args = [...args, { permit, deadlineMs }];
    }
    try {
      const value = await fn.apply(rest, args);
      return { ok: true, value: value ?? null };
    } catch (err) {
      if (err instanceof SendDeadlineError) return tooLate(task, CLIENT_WAIT[err.stage]);
      const e = err as { code?: unknown; codeName?: unknown; message?: unknown };
      return {
        ok: false,
        code: typeof e.code === 'string' ? e.code : 'INTERNAL',
        ...(typeof e.codeName === 'string' ? { codeName: e.codeName } : {}),
        message: typeof e.message === 'string' ? e.message : String(err),
      };
    } finally {
      if (permit) settle(permit);
    }
  }

  return {
    async start() {
      await rest.login();
      logger.debug({ contracts: init.contracts.length }, 'executor thread started');
    },
    async handle(task) {
      switch (task.kind) {
        case 'place': {
          const out = await place(task);
          const fault = cued('after-answer', task);
          // After the answer has been posted to the main thread (piscina posts it on this turn).
          if (fault) setImmediate(() => die(fault));
          return out;
        }
        case 'rest':
          return restCall(task);
        case 'journal':
          return journalIntents(task);
      }
    },
    async close() {
      journal.close();
      await rest.close();
    },
  };
}

/** The journal line of an answer that was not a success. */
function outcomeRecord(orderId: string, out: PlaceOutcome, atMs: number): OutcomeRecord {
  switch (out.outcome) {
    case 'rejected':
      return { t: 'outcome', v: 1, orderId, outcome: 'rejected', reasonCode: 'BROKER_REJECTED', message: out.message, atMs, ...(out.brokerOrderId !== undefined ? { brokerOrderId: out.brokerOrderId } : {}) };
    case 'not-sent':
      return { t: 'outcome', v: 1, orderId, outcome: 'not-sent', reasonCode: out.code, message: out.message, atMs };
    case 'denied':
      return { t: 'outcome', v: 1, orderId, outcome: 'not-sent', reasonCode: out.reasonCode, message: out.message, atMs };
    case 'accepted':
      return { t: 'outcome', v: 1, orderId, outcome: 'accepted', brokerOrderId: out.brokerOrderId, atMs };
    default:
      return { t: 'outcome', v: 1, orderId, outcome: 'unknown', message: 'message' in out ? out.message : '', atMs };
  }
}

/** A failed Order/place as an outcome: only errors that prove nothing reached the broker are "not sent". */
export function classifyPlaceError(err: unknown, sentAtMs: number, reservation: ReservationRecord | undefined): PlaceOutcome {
  const withRes = <T extends object>(o: T): T => (reservation ? { ...o, reservation } : o);
  if (err instanceof GatewayError) {
    return withRes({
      outcome: 'rejected' as const,
      codeName: err.codeName,
      message: `${err.codeName}: ${err.errorMessage ?? err.message}`,
      ...(err.orderId !== undefined && err.orderId !== null ? { brokerOrderId: err.orderId } : {}),
    });
  }
  // The client refused to write it once the task's deadline had passed: the executor's own not-sent DEADLINE.
  if (err instanceof SendDeadlineError) {
    return withRes({ outcome: 'not-sent' as const, code: 'DEADLINE' as const, message: `deadline passed ${CLIENT_WAIT[err.stage]} before the order was sent` });
  }
  if (err instanceof RateLimitedError && !err.sent) {
    return withRes({ outcome: 'not-sent' as const, code: 'ORDER_RATE' as const, message: 'broker request budget exhausted: nothing was sent' });
  }
  // The client refused the order's rate permit before the send (a bug of the caller, never the broker's).
  if (err instanceof RatePermitError) return withRes({ outcome: 'not-sent' as const, code: 'INTERNAL' as const, message: err.message });
  if (err instanceof TransportError && !err.sent) {
    return withRes({ outcome: 'not-sent' as const, code: 'UNAVAILABLE' as const, message: `broker unreachable: ${err.message}` });
  }
  // A 401 after a fresh login is refused by the auth layer before the order is processed.
  if (err instanceof AuthError) return withRes({ outcome: 'not-sent' as const, code: 'UNAVAILABLE' as const, message: err.message });
  // 400/404 (ProblemDetails): the request was refused before it became an order.
  if (err instanceof HttpStatusError && err.code === 'HTTP_STATUS' && err.status >= 400 && err.status < 500 && err.status !== 429) {
    return withRes({ outcome: 'rejected' as const, codeName: `HTTP_${err.status}`, message: err.message });
  }
  const message = err instanceof Error ? err.message : String(err);
  return withRes({ outcome: 'unknown' as const, message, sentAtMs });
}
