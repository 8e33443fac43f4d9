// The risk-manager service (issue 6): user hub → positions, P&L and the trading state per account in
// shared memory; TopStepX loss limits enforced by cancel / flatten / sweep. Runs in its own thread; it is
// the single writer of the account and position records and of the accounts' ready flags (ADR 0003).
//
// Start: log in, subscribe the user hub (events wait in the queue), rebuild the day from REST
// (Account/search, Position/searchOpen, Order/v2/query working statuses, Trade/search since 17:00 CT),
// publish, then set the ready flag — until then the gate answers RISK_NOT_READY (fail closed).
// Every hub event is applied → published; order events are then emitted to the main thread as user.order,
// so the main thread releases a reservation only once the order is counted in shared memory.
// A timer re-marks positions from the shared marks and runs the state machine; its events go out as
// `risk.event` and a log line, its actions (cancel all, closeContract, sweep) run through REST.
// A second, slower timer (RISK_RECONCILE_INTERVAL_MS) compares each book with the broker's open positions and
// refreshes the balance: a hub event lost while the socket stays up is otherwise noticed only at a reconnect.
// Its REST reads run outside the queue, so a fill never waits behind them (only a repair that events raced
// reads again inside it).
// A position in a contract outside CONTRACTS has no shared mark: this thread opens its own market-hub
// connection (lazily, for exactly those contracts) and prices it from there; until it is priced (and while its
// price is stale) the account is REDUCING, UNPRICED_POSITION (outside-feed.ts, outside-prices.ts).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Histogram } from 'prom-client';
import { limitsFromConfig, RISK_MANAGER_RATE_LIMIT, type ServiceApp, type WorkerContext } from '@gateway/runtime';
import { ClosesInFlight, CUSTOM_TAG_PREFIX, type WorkingOrderView } from '@gateway/orders';
import { countsAsTenthOfMini, type Clock, type RiskAction, type RiskEvent } from '@gateway/risk';
import { isSessionOpen, tradingDayOf } from '@gateway/session';
import { PRICE_SCALE, MONEY_SCALE, parseDecimalToUnits } from '@gateway/shared-state';
import {
  AuthError,
  createLocalRateGate,
  GatewayError,
  GatewayRestClient,
  RateLimitedError,
  TransportError,
  UserHubClient,
  WORKING_ORDER_STATUSES,
  type GatewayUserAccount,
  type GatewayUserOrder,
  type GatewayUserTrade,
} from '@gateway/topstepx';
import { AccountRisk, type ContractEntry, type PersistedRisk, type PositionDrift, type PositionRow, type TradeRow, type VersionedOrderRow } from './account-risk';
import { readDayWithBalance } from './account-risk-reads';
import { OutsideFeed } from './outside-feed';
import { OutsidePrices } from './outside-prices';

/**
 * How long a drift is given to go away before the day is rebuilt: a fill whose hub events are merely in flight
 * (the broker's REST answer can be ahead of its hub push) matches by then.
 */
const DRIFT_RECHECK_MS = 1_000;


/** The day as REST tells it, for one account (read first, applied in one step). */
interface DayRows {
  dayId: number;
  positions: readonly PositionRow[];
  orders: readonly VersionedOrderRow[];
  trades: readonly TradeRow[];
  /** Undefined when Account/search did not list the account. */
  balance: number | undefined;
  /** The balance read before the other rows equals the one after (no fill in between): it may trail the MLL floor. */
  balanceSettled: boolean;
}

/** A request failed for a stable reason (serialised to the caller with its code). */
class RiskRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RiskRequestError';
  }
}

export function createApp(ctx: WorkerContext): ServiceApp {
  const { init, state, logger, channel, registry } = ctx;
  const cfg = init.config;
  const limits = limitsFromConfig(cfg.risk);
  let offsetMs = cfg.risk.clockOffsetMs;
  const clock: Clock = { now: () => Date.now() + offsetMs };
  // Its own share of the broker's budget (RISK_MANAGER_RATE_LIMIT), not the shared one: enforcement must not wait
  // behind orders, and the shared bucket leaves this share free so that together they stay under the broker's limit.
  const rest = new GatewayRestClient({
    baseUrl: init.broker.apiUrl,
    userName: cfg.broker.userName,
    apiKey: cfg.broker.apiKey,
    connections: 4,
    rateGate: createLocalRateGate(RISK_MANAGER_RATE_LIMIT, cfg.broker.rateLimit),
    logger,
  });
  const hub = new UserHubClient({ url: init.broker.userHubUrl, accessTokenFactory: () => rest.token ?? init.broker.token, logger });
  const contracts = new Map<string, ContractEntry>();
  for (const c of init.contracts) {
    contracts.set(c.contractId, { slot: c.slot, root: c.root, spec: { contractId: c.contractId, tickSizeUnits: c.tickSizeUnits, tickValueMoneyUnits: c.tickValueUnits, isMicro: c.isMicro } });
  }
  const accounts = new Map<number, AccountRisk>();
  const enforcing = new Set<number>();
  const markToPnl = new Histogram({
    name: 'risk_mark_to_pnl_seconds',
    help:
      "Mark written to shared memory by market-data (the mark's updatedMs, wall clock, 1 ms resolution) → the P&L computed from it " +
      'published by the risk-manager (account record written, wall clock). One observation per new mark version per account and ' +
      'contract with an open position, at the first publish that reads it; covers the wait for the next evaluation (the ' +
      'RISK_EVAL_INTERVAL_MS timer, or an earlier fill, order or balance event), the risk-manager queue, evaluate and publish. A mark ' +
      'overwritten before an evaluation is never published and not observed, so under a fast feed this is the age of the newest ' +
      'price in the published P&L, not how long each mark change waited (up to one interval). Whole milliseconds (0 = same ms).',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.25, 0.5, 1],
    registers: [registry],
  });
  const reconcileChecks = new Counter({
    name: 'risk_reconcile_checks_total',
    help:
      'Periodic drift checks completed (RISK_RECONCILE_INTERVAL_MS), one per account per interval: Position/searchOpen compared ' +
      'with the book and the balance refreshed from Account/search. A check whose REST reads failed is not counted here ' +
      '(risk_reconcile_failures_total).',
    registers: [registry],
  });
  const reconcileDrift = new Counter({
    name: 'risk_reconcile_drift_total',
    help:
      'Drift the periodic check found and still saw on its re-check 1 s later (a lost user-hub event), per contract; each ' +
      "is followed by a full REST rebuild of the account's day. kind=position: the broker's net size differed from the book's.",
    labelNames: ['kind'],
    registers: [registry],
  });
  reconcileDrift.inc({ kind: 'position' }, 0);
  const reconcileFailures = new Counter({
    name: 'risk_reconcile_failures_total',
    help: 'REST reads of the periodic drift check (check, re-check or rebuild) that failed; retried at the next interval.',
    registers: [registry],
  });
  let timer: NodeJS.Timeout | undefined;
  let tickQueued = false;
  let stopped = false;

  // ---- contracts outside CONTRACTS: the thread's own market-hub feed (outside-feed.ts) ---------------------------
  // Opened on the first open position in a contract without a directory slot, subscribed for exactly the
  // contracts some account holds; its prices are read by AccountRisk.markOf.
  const outside = new OutsidePrices({ staleAfterMs: cfg.staleAfterMs, now: Date.now, sessionOpen: () => isSessionOpen(clock.now()) });
  const outsideFeed = new OutsideFeed({
    url: init.broker.marketHubUrl,
    accessTokenFactory: () => rest.token ?? init.broker.token,
    prices: outside,
    logger,
    rootOf: (id) => contracts.get(id)?.root,
  });
  new Gauge({
    name: 'risk_unpriced_positions',
    help:
      'Open positions, all accounts, in contracts outside CONTRACTS (no shared mark) without a usable price from the ' +
      "risk-manager's own market-hub feed: none yet, or none for longer than STALE_AFTER_MS while the session is open. " +
      'Each keeps its account REDUCING (UNPRICED_POSITION). Nonzero: add the contract root to CONTRACTS.',
    registers: [registry],
    collect() {
      let n = 0;
      for (const ar of accounts.values()) n += ar.unpriced.size;
      this.set(n);
    },
  });

  /** Watches exactly the contracts outside the directory that some account holds open. */
  function syncOutsideFeeds(): void {
    if (stopped) return;
    const held = new Set<string>();
    for (const ar of accounts.values()) for (const id of ar.outsideOpen) held.add(id);
    outsideFeed.sync(held);
  }

  /** One log line per change of an account's unpriced positions. */
  function reportUnpriced(ar: AccountRisk): void {
    for (const ch of ar.unpricedChanges) {
      const root = contracts.get(ch.contractId)?.root ?? ch.contractId;
      const line = { accountId: ar.accountId, contractId: ch.contractId, root };
      if (ch.change === 'unpriced') {
        logger.warn(
          line,
          `account ${ar.accountId}: open position in ${ch.contractId}, a contract outside CONTRACTS, has no usable price (none yet, or older than STALE_AFTER_MS): ` +
            `its loss is not in the limits, so the account is REDUCING (UNPRICED_POSITION) until it is priced. Add ${root} to CONTRACTS`,
        );
      } else if (ch.change === 'priced') {
        logger.info(line, `account ${ar.accountId}: position in ${ch.contractId} priced again from the risk-manager's own feed; add ${root} to CONTRACTS to have market-data mark it`);
      } else {
        logger.info(line, `account ${ar.accountId}: unpriced position in ${ch.contractId} closed`);
      }
    }
  }

  // Every state change runs through this queue, one job at a time, in arrival order.
  let queue: Promise<void> = Promise.resolve();
  // Jobs that apply the broker's events (fills, orders, positions, the evaluation tick) must not fail:
  // one that does leaves the books unknown. Requests (halt, resume, state) may fail on bad input and
  // only answer with the error.
  // The drift check catches its REST failures itself: what reaches here from it failed while applying.
  const EVENT_JOBS = new Set(['tick', 'order', 'trade', 'position', 'account', 'reconcile', 'drift-check']);
  const enqueue = (what: string, job: () => Promise<void> | void): Promise<void> => {
    const run = queue.then(job);
    queue = run.catch((err: unknown) => {
      if (stopped) return;
      if (!EVENT_JOBS.has(what)) {
        logger.warn({ err, job: what }, 'risk-manager request failed');
        return;
      }
      // Fail closed and start over: drop readiness (the gate answers RISK_NOT_READY), tell the
      // supervisor, and exit the thread; the supervisor restarts it and the new thread rebuilds the
      // day from REST, where the event that failed is included.
      logger.error({ err, job: what }, 'risk-manager event job failed: restarting the thread to rebuild from the broker');
      for (const a of init.accounts) state.accounts.setReady(a.slot, false);
      channel.fatal(err);
      logger.flush();
      setImmediate(() => process.exit(1));
    });
    return run;
  };

  for (const a of init.accounts) state.accounts.setReady(a.slot, false);

  const stateFile = (accountId: number): string => join(cfg.dataDir, `risk-state-${accountId}.json`);
  const loadPersisted = (accountId: number): PersistedRisk | undefined => {
    try {
      return JSON.parse(readFileSync(stateFile(accountId), 'utf8')) as PersistedRisk;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err, accountId }, 'risk state file unreadable: starting the machine fresh');
      return undefined;
    }
  };
  // Atomic: a crash mid-write leaves the previous file, never a torn one.
  const persist = (ar: AccountRisk): void => {
    mkdirSync(cfg.dataDir, { recursive: true });
    const file = stateFile(ar.accountId);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(ar.persisted()));
    renameSync(tmp, file);
  };

  async function ensureContract(contractId: string): Promise<void> {
    if (contracts.has(contractId)) return;
    const c = await rest.contractById(contractId);
    if (c === undefined) throw new Error(`contractId ${contractId}: unknown to Contract/searchById`);
    const root = /^([A-Z0-9]+?)[FGHJKMNQUVXZ]\d{1,2}$/.exec(c.name)?.[1] ?? c.name;
    contracts.set(contractId, {
      slot: state.directory.slotOf(contractId),
      root,
      spec: {
        contractId,
        tickSizeUnits: parseDecimalToUnits(String(c.tickSize), PRICE_SCALE, 'tickSize'),
        tickValueMoneyUnits: parseDecimalToUnits(String(c.tickValue), MONEY_SCALE, 'tickValue'),
        // The weight table the engine's bootstrap also uses (@gateway/risk): MBT, MET and SIL count as full lots.
        isMicro: countsAsTenthOfMini(root),
      },
    });
  }

  /** The day from REST, for one account: balance, trades since 17:00 CT, open positions, working orders. */
  async function rebuild(ar: AccountRisk): Promise<void> {
    applyDay(ar, await fetchDay(ar));
  }

  /** The REST reads of a rebuild. Changes nothing but the contracts known (a failure leaves the book as it was). */
  async function fetchDay(ar: AccountRisk): Promise<DayRows> {
    const day = tradingDayOf(clock.now());
    // The balance is read before and after the other rows: the start-of-day balance (balance − the replay's realised
    // net) trails the MLL floor only when both reads agree, i.e. no fill landed between the balance and the trades
    // (ADR 0007). A second attempt only when a fill moved the balance meanwhile (account-risk-reads.ts).
    const read = await readDayWithBalance({
      balance: async () => ((await rest.searchAccounts(true)) ?? []).find((x) => x.id === ar.accountId)?.balance,
      rows: () =>
        Promise.all([
          rest.searchOpenPositions(ar.accountId),
          rest.queryAllOrders({ accountId: ar.accountId, statuses: [...WORKING_ORDER_STATUSES] }),
          rest.searchTrades({ accountId: ar.accountId, startTimestamp: new Date(day.startMs).toISOString() }),
        ]),
    });
    const [positions, orders, trades] = read.rows;
    if (read.balance === undefined && !accounts.has(ar.accountId)) throw new Error(`accountId ${ar.accountId}: not among the active accounts (Account/search)`);
    if (read.balance !== undefined && !read.balanceSettled) {
      logger.warn(
        { accountId: ar.accountId, attempts: read.attempts },
        'rebuild: the balance moved during every read of the day (fills landing): the MLL floor is not trailed from this rebuild',
      );
    }
    for (const id of new Set([...(positions ?? []), ...orders, ...(trades ?? [])].map((r) => r.contractId))) await ensureContract(id);
    return { dayId: day.id, positions: positions ?? [], orders, trades: trades ?? [], balance: read.balance, balanceSettled: read.balanceSettled };
  }

  function applyDay(ar: AccountRisk, d: DayRows): void {
    if (d.balance !== undefined) ar.setBalance(d.balance);
    ar.rebuild(d.dayId, d.trades, d.positions, d.orders);
    ar.beginDayFromRebuild(d.dayId, d.balanceSettled);
  }

  /**
   * Times the new marks the publish just carried into P&L. Wall clock on both ends (market-data stamps its
   * writes with Date.now()), not the risk clock, which RISK_CLOCK_OFFSET_MS may move. A write time ahead of
   * this clock (the wall clock stepped back, or a test writing marks on its own clock) is not observed.
   */
  function observeMarkToPnl(writtenMs: readonly number[]): void {
    if (writtenMs.length === 0) return;
    const nowMs = Date.now();
    for (const t of writtenMs) if (nowMs >= t) markToPnl.observe((nowMs - t) / 1000);
  }

  function report(ar: AccountRisk, events: readonly RiskEvent[]): void {
    for (const e of events) {
      const line = { accountId: e.accountId, type: e.type, from: e.from, to: e.to, reason: e.reason };
      if (e.to === 'HALTED' || e.type === 'AUTO_FLATTEN' || e.type === 'ENFORCEMENT_RETRY') logger.warn(line, e.message);
      else logger.info(line, e.message);
      channel.emit('risk.event', e);
    }
    if (events.length > 0) persist(ar);
  }

  /** evaluate → publish → report → enforce. Returns after publishing (enforcement runs on its own). */
  function evaluateAndPublish(ar: AccountRisk): void {
    const ev = ar.evaluate(state);
    ar.publish(state);
    observeMarkToPnl(ar.publishedMarkTimes);
    if (ar.unpricedChanges.length > 0) reportUnpriced(ar);
    report(ar, ev.events);
    // Only when a contract outside the directory is (or was) involved: the usual path allocates nothing here.
    if (ar.outsideOpen.size > 0 || outsideFeed.size > 0) syncOutsideFeeds();
    if (ev.actions.length > 0) void enforce(ar, ev.actions);
  }

  /**
   * The engine's closes that may still work at the broker (it fills them after its answer), the front door's and this
   * thread's, through the close leases in shared memory: a close is claimed before it is sent, the sweeps leave
   * exactly those alone, and no second close goes over one. An untagged market order that matches none (another
   * tool's entry, or a close stuck past the TTL) is cancelled like any other: a stuck close is cancelled by the
   * CANCEL_ALL_ORDERS sweep, never closed over (its FLATTEN checks it first), and the close goes once it is gone.
   * Wall clock, as the front door's.
   */
  const closes = new ClosesInFlight(state.closes, (tag) => tag.startsWith(CUSTOM_TAG_PREFIX), Date.now, 'risk-manager');

  /** One REST read: whether a working order of the contract satisfies `matches` (a close of the position still working). */
  async function closeStillWorking(accountId: number, contractId: string, matches: (o: WorkingOrderView) => boolean): Promise<boolean> {
    const rows = await rest.queryAllOrders({ accountId, statuses: [...WORKING_ORDER_STATUSES], contractId });
    return rows.some((o) => o.contractId === contractId && matches(o));
  }

  /** Cancels the working orders (of one contract, or all) except closes in flight; returns the contracts those close. */
  async function cancelWorking(accountId: number, contractId?: string): Promise<{ cancelled: number; closing: Set<string> }> {
    const rows = await rest.queryAllOrders({ accountId, statuses: [...WORKING_ORDER_STATUSES], ...(contractId ? { contractId } : {}) });
    let cancelled = 0;
    const closing = new Set<string>();
    for (const o of rows) {
      if (closes.isOurs(o)) {
        closing.add(o.contractId);
        continue;
      }
      try {
        await rest.cancelOrder({ accountId, orderId: o.id });
        cancelled++;
      } catch (err) {
        // Filled or cancelled in the meantime: what matters is that it no longer works.
        logger.warn({ err, accountId, orderId: o.id }, 'cancel during enforcement failed');
      }
    }
    return { cancelled, closing };
  }

  /**
   * Waits up to 2 s for the book (fed by the user hub's fills) to show the contract flat. It reads no REST: a REST
   * poll here spent about 20 of the thread's 30 requests a minute on every pass, and a close that then ended unfilled
   * could not be replaced for most of a minute (rate limited). A book that lags (hub down) only ends the wait.
   */
  async function waitFlat(ar: AccountRisk, contractId: string): Promise<boolean> {
    for (let i = 0; i < 20; i++) {
      if (ar.book.netSize(contractId) === 0) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /**
   * Executes the machine's actions in order: cancel every working order, close each position, then (after
   * the close has filled) cancel whatever still works on the contract — closeContract leaves stops alive.
   * Closes in flight (ClosesInFlight: the engine's, of either sender, recent, still working) are neither cancelled nor
   * sent again: a contract whose close still works (the broker fills it after its answer; a retry, or a trader's
   * FlattenAll, comes while it works) is not closed a second time. A close is claimed before it is sent.
   * One enforcement per account at a time; the machine repeats it while the account stays exposed.
   */
  async function enforce(ar: AccountRisk, actions: readonly RiskAction[]): Promise<void> {
    if (enforcing.has(ar.accountId) || stopped) return;
    enforcing.add(ar.accountId);
    const closing = new Set<string>();
    // The CANCEL_ALL_ORDERS listing failed: which closes still work is unknown this pass.
    let listingFailed = false;
    try {
      for (const a of actions) {
        try {
          if (a.type === 'CANCEL_ALL_ORDERS') {
            listingFailed = true;
            const r = await cancelWorking(a.accountId);
            listingFailed = false;
            for (const c of r.closing) closing.add(c);
            logger.warn({ accountId: a.accountId, reason: a.reason, cancelled: r.cancelled, closesInFlight: r.closing.size }, 'enforcement: working orders cancelled');
          } else if (a.type === 'FLATTEN') {
            const line = { accountId: a.accountId, contractId: a.contractId, reason: a.reason };
            if (closing.has(a.contractId)) {
              logger.warn(line, 'enforcement: a close of the contract is still working; not sent again');
              continue;
            }
            if (listingFailed && closes.pending(a.accountId, a.contractId)) {
              logger.warn(line, 'enforcement: a close of the contract may still work and the working orders could not be listed; not sent this pass');
              continue;
            }
            const net = ar.book.netSize(a.contractId);
            // Flat in the book since the machine asked: nothing to close.
            if (net === 0) continue;
            // The broker's position may differ from the book's (a fill not seen yet), and closeContract closes the
            // broker's: the lease is the whole position's, so any untagged market order on the closing side is this
            // close while it lives (a second close over it would fill too).
            const go = await closes.acquire(a.accountId, a.contractId, ClosesInFlight.closingSide(net), Math.abs(net), (m) => closeStillWorking(a.accountId, a.contractId, m), 'WHOLE');
            if (!go.send) {
              // A stuck close (past its lease) that still works: this pass's sweep missed it (its cancel failed or
              // came too early); the next pass's sweep cancels it, then closes.
              logger.warn(
                { ...line, holder: ClosesInFlight.senderName(go.holder), check: go.reason, stuck: go.stuck !== undefined },
                go.reason === 'IN_FLIGHT'
                  ? 'enforcement: a close of the contract is in flight; not sent again'
                  : 'enforcement: a close of the contract may still work and its orders could not be read; not sent this pass',
              );
              continue;
            }
            if (go.lease === undefined) logger.error(line, 'enforcement: close lease table full of sends in progress; closing without a lease');
            try {
              await rest.closeContract({ accountId: a.accountId, contractId: a.contractId });
            } catch (err) {
              if (certainlyNotSent(err)) closes.release(go);
              else if (err instanceof GatewayError) closes.markSent(go);
              // Otherwise the outcome is unknown: the lease stays claimed until its TTL, and no close goes over it.
              throw err;
            }
            closes.markSent(go);
            logger.warn(line, 'enforcement: position closed');
          } else {
            const flat = await waitFlat(ar, a.contractId);
            const r = await cancelWorking(a.accountId, a.contractId);
            logger.warn({ accountId: a.accountId, contractId: a.contractId, reason: a.reason, flat, swept: r.cancelled, closesInFlight: r.closing.size }, 'enforcement: contract swept');
          }
        } catch (err) {
          logger.error({ err, action: a }, 'enforcement action failed (retried while exposed)');
        }
      }
    } finally {
      enforcing.delete(ar.accountId);
    }
  }

  function accountOf(params: unknown): AccountRisk {
    const id = Number((params as { accountId?: unknown } | null)?.accountId ?? 0);
    const ar = id === 0 ? accounts.values().next().value : accounts.get(id);
    if (ar === undefined) throw new RiskRequestError('NOT_FOUND', `accountId: ${id} is not an account of this engine`);
    return ar;
  }

  function tick(): void {
    if (tickQueued || stopped) return;
    tickQueued = true;
    void enqueue('tick', () => {
      tickQueued = false;
      for (const ar of accounts.values()) evaluateAndPublish(ar);
    });
  }

  hub.onOrder((o: GatewayUserOrder) =>
    void enqueue('order', async () => {
      const ar = accounts.get(o.accountId);
      if (ar !== undefined) {
        await ensureContract(o.contractId);
        ar.applyOrderEvent(o);
        evaluateAndPublish(ar);
      }
      channel.emit('user.order', o);
    }),
  );
  hub.onTrade((t: GatewayUserTrade) =>
    void enqueue('trade', async () => {
      const ar = accounts.get(t.accountId);
      if (ar !== undefined) {
        await ensureContract(t.contractId);
        ar.applyTrade(t);
        evaluateAndPublish(ar);
      }
    }),
  );
  // Position events are not applied: size comes from the fills, and the broker's positions are read back
  // from REST on a reconnect (reconcile). Trades and positions are not forwarded to the main thread, which
  // only needs orders: each forwarded event was a structured clone and a dispatch on the gRPC thread.
  hub.onAccount((a: GatewayUserAccount) =>
    void enqueue('account', () => {
      const ar = accounts.get(a.id);
      if (ar === undefined) return;
      ar.setBalance(a.balance);
      evaluateAndPublish(ar);
    }),
  );
  // While the user hub's socket is down its events are lost (no replay, topstepx-api.md §9.1): the published
  // state is stale from the drop until a reconcile that started after the reconnect has rebuilt the day, so
  // the gate fails closed (RISK_NOT_READY) in between. `hubEpoch` counts drops: a rebuild sets ready only if
  // no drop happened since it began.
  let hubUp = true;
  let hubEpoch = 0;
  const setReadyIfCurrent = (epoch: number, slot: number): void => {
    if (hubUp && epoch === hubEpoch) state.accounts.setReady(slot, true);
  };
  hub.connection.on('reconnecting', () => {
    hubUp = false;
    hubEpoch++;
    for (const a of init.accounts) state.accounts.setReady(a.slot, false);
    logger.warn('user hub lost: risk state not ready until the day is reconciled');
  });
  hub.connection.on('reconnected', () => {
    hubUp = true;
    const epoch = hubEpoch;
    void enqueue('reconcile', async () => {
      logger.warn('user hub reconnected: reconciling the day from REST');
      for (const ar of accounts.values()) {
        await rebuild(ar);
        evaluateAndPublish(ar);
        setReadyIfCurrent(epoch, ar.slot);
      }
    });
  });

  // ---- periodic drift check ----------------------------------------------------------------------------------
  // The REST reads run outside the queue, so hub events (a fill that reaches a loss limit) are applied while a
  // read is in flight; only the comparison and the repair are queue jobs. Before a read, a job notes the
  // account's change count once the events received so far are applied (the read sees at least those). The
  // comparison then leaves out what changed meanwhile, which the read may or may not have seen: a balance set
  // by an account event is not replaced by the read's, and a size difference on a contract a fill moved is not
  // taken as proof (it is re-checked 1 s later, as any difference). The 1 s pause runs outside the queue too.
  let reconcileTimer: NodeJS.Timeout | undefined;
  let wakeReconcile: (() => void) | undefined;
  /** Waits `ms`, or less when stop() wakes it. */
  const reconcilePause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wakeReconcile = resolve;
      reconcileTimer = setTimeout(resolve, ms);
    });

  /**
   * A REST read of the drift check; undefined when it failed (logged and counted: the next interval retries)
   * or when the thread is stopping (its answer is dropped, nothing more is read or applied).
   */
  async function driftRead<T>(ar: AccountRisk, step: string, read: () => Promise<T>): Promise<T | undefined> {
    try {
      const v = await read();
      return stopped ? undefined : v;
    } catch (err) {
      if (stopped) return undefined;
      reconcileFailures.inc();
      logger.warn({ err, accountId: ar.accountId, step }, 'drift check: REST read failed, retried at the next interval');
      return undefined;
    }
  }

  /** The account's change count once the events queued before this call are applied (a read starts after it). */
  async function changesNow(ar: AccountRisk): Promise<number> {
    let n = 0;
    await enqueue('drift-check', () => {
      n = ar.changes;
    });
    return n;
  }

  /**
   * The check: balance refreshed (unless an event set it during the read) and published; returns whether any
   * contract's size differs from the broker's (undefined when REST failed or nothing was read).
   */
  async function checkDrift(ar: AccountRisk): Promise<boolean | undefined> {
    if (stopped || !hubUp) return undefined;
    const since = await changesNow(ar);
    const rows = await driftRead(ar, 'Position/searchOpen + Account/search', () => Promise.all([rest.searchOpenPositions(ar.accountId), rest.searchAccounts(true)]));
    if (rows === undefined) return undefined;
    let drifted: boolean | undefined;
    await enqueue('drift-check', () => {
      // A drop since: the reconcile that follows the reconnect rebuilds the day.
      if (stopped || !hubUp) return;
      const [positions, accountRows] = rows;
      const row = (accountRows ?? []).find((x) => x.id === ar.accountId);
      if (row !== undefined && !ar.balanceChangedSince(since)) ar.setBalance(row.balance);
      evaluateAndPublish(ar);
      // A reply without a position list says nothing about the positions: not compared, not counted.
      if (positions === undefined) return;
      drifted = ar.positionDrift(positions, since).length > 0;
      reconcileChecks.inc();
    });
    return drifted;
  }

  /**
   * The re-check: a difference on a contract that did not change during this read is a lost event: logged,
   * counted, and repaired by a full rebuild of the day. One on a contract a fill moved meanwhile is left to the
   * next interval.
   */
  async function recheckDrift(ar: AccountRisk): Promise<void> {
    if (stopped || !hubUp) return;
    const since = await changesNow(ar);
    const positions = await driftRead(ar, 'Position/searchOpen (re-check)', () => rest.searchOpenPositions(ar.accountId));
    if (positions === undefined) return;
    let lost: PositionDrift[] = [];
    await enqueue('drift-check', () => {
      if (stopped || !hubUp) return;
      lost = ar.positionDrift(positions, since).filter((d) => !d.changedDuringRead);
    });
    if (lost.length === 0) return;
    for (const d of lost) {
      reconcileDrift.inc({ kind: 'position' });
      logger.warn(
        { accountId: ar.accountId, contractId: d.contractId, brokerSize: d.brokerNet, bookSize: d.bookNet },
        'position drift from the broker (a user-hub event was lost): rebuilding the day from REST',
      );
    }
    await repairDrift(ar);
  }

  /**
   * The rebuild after a lost event (trades are idempotent by id: it adds the lost fills and forces sizes and
   * working orders to the broker's). Read outside the queue and applied only if nothing at all changed on the
   * account meanwhile, since forcing the read's sizes and orders would undo an event applied after the read.
   * Otherwise it is read again inside the queue, as the reconnect's rebuild is: events then wait behind it, but
   * this is rare, and a book known to be wrong is repaired at once rather than raced again.
   */
  async function repairDrift(ar: AccountRisk): Promise<void> {
    if (stopped || !hubUp) return;
    const since = await changesNow(ar);
    const day = await driftRead(ar, 'rebuild', () => fetchDay(ar));
    if (day === undefined) return;
    await enqueue('drift-check', async () => {
      if (stopped || !hubUp) return;
      let rows: DayRows | undefined = day;
      if (ar.changes !== since) {
        logger.info({ accountId: ar.accountId }, 'drift repair: events applied during the read; reading the day again inside the queue');
        rows = await driftRead(ar, 'rebuild (in queue)', () => fetchDay(ar));
        if (rows === undefined) return;
      }
      applyDay(ar, rows);
      evaluateAndPublish(ar);
    });
  }

  /**
   * Every `intervalMs` (counted from the end of the previous round, so rounds never overlap), each account in
   * turn. Skipped while the hub is down: the reconcile that follows its reconnect rebuilds the day anyway.
   * A job that failed while applying has already failed the thread (enqueue): the loop only stops waiting on
   * it. Never rejects: each step catches.
   */
  async function runReconcile(intervalMs: number): Promise<void> {
    while (!stopped) {
      await reconcilePause(intervalMs);
      for (const ar of [...accounts.values()]) {
        if (stopped || !hubUp) break;
        const drifted = await checkDrift(ar).catch(() => undefined);
        if (drifted !== true) continue;
        await reconcilePause(DRIFT_RECHECK_MS);
        if (stopped || !hubUp) break;
        await recheckDrift(ar).catch(() => undefined);
      }
    }
  }

  channel.onRequest('getRiskState', (params) => enqueue('getRiskState', () => undefined).then(() => accountOf(params).view(state)));
  channel.onRequest('halt', async (params) => {
    const p = (params ?? {}) as { reason?: string; flatten?: boolean };
    let ar: AccountRisk | undefined;
    await enqueue('halt', () => {
      ar = accountOf(params);
      ar.killSwitch = true;
      ar.haltFlatten = p.flatten === true;
      logger.warn({ accountId: ar.accountId, reason: p.reason ?? '', flatten: ar.haltFlatten }, 'kill switch on');
      persist(ar);
      evaluateAndPublish(ar);
    });
    return ar!.view(state);
  });
  channel.onRequest('resume', async (params) => {
    let ar: AccountRisk | undefined;
    await enqueue('resume', () => {
      ar = accountOf(params);
      ar.killSwitch = false;
      logger.warn({ accountId: ar.accountId, reason: (params as { reason?: string } | null)?.reason ?? '' }, 'kill switch off');
      persist(ar);
      evaluateAndPublish(ar);
    });
    const view = ar!.view(state);
    if (view.tradingState === 'HALTED') throw new RiskRequestError(view.reason, `account ${view.accountId} stays HALTED: ${view.reason}`);
    return view;
  });
  channel.onRequest('setClockOffset', async (params) => {
    if (!cfg.risk.testClock) throw new RiskRequestError('FAILED_PRECONDITION', 'setClockOffset: test hook disabled (RISK_TEST_CLOCK=false)');
    const v = (params as { offsetMs?: unknown } | null)?.offsetMs;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new RiskRequestError('INVALID_ARGUMENT', `offsetMs: must be an integer, got ${String(v)}`);
    offsetMs = v;
    await enqueue('clock', () => {
      for (const ar of accounts.values()) evaluateAndPublish(ar);
    });
    return { nowMs: clock.now() };
  });

  return {
    async start() {
      await rest.login();
      await hub.start();
      for (const a of init.accounts) {
        await Promise.all([hub.subscribeOrders(a.accountId), hub.subscribeTrades(a.accountId), hub.subscribePositions(a.accountId)]);
      }
      await hub.subscribeAccounts();
      const epoch = hubEpoch;
      await enqueue('rebuild', async () => {
        for (const a of init.accounts) {
          // Marks are stamped by market-data's wall clock: their age is measured on it, not on the (offset) risk clock.
          const aging = { staleAfterMs: cfg.staleAfterMs, wallClock: { now: Date.now } };
          const ar = new AccountRisk(a.accountId, a.slot, limits, clock, (id) => contracts.get(id), loadPersisted(a.accountId), outside, aging);
          await rebuild(ar);
          accounts.set(a.accountId, ar);
          evaluateAndPublish(ar);
          setReadyIfCurrent(epoch, a.slot);
          const v = ar.view(state);
          logger.info({ accountId: a.accountId, state: v.tradingState, reason: v.reason, dayNetPnl: v.dayNetPnlUnits, positions: v.positions.length, openOrders: v.openOrders }, 'risk state rebuilt: ready');
        }
      });
      timer = setInterval(tick, cfg.risk.evalIntervalMs);
      // Started once the first rebuild is done; with no account there is nothing to ask the broker.
      if (cfg.risk.reconcileIntervalMs > 0 && accounts.size > 0) void runReconcile(cfg.risk.reconcileIntervalMs);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      // The loop ends at its next step; a read still in flight finishes inside rest.close() below and is dropped.
      clearTimeout(reconcileTimer);
      wakeReconcile?.();
      for (const a of init.accounts) state.accounts.setReady(a.slot, false);
      await hub.stop().catch((err: unknown) => logger.warn({ err }, 'user hub stop failed'));
      await outsideFeed.stop();
      await rest.close();
    },
    readyInfo: () => ({ accounts: accounts.size }),
  };
}

/** A close that threw before reaching the broker: its lease is given back (a failure that may have sent keeps it). */
function certainlyNotSent(err: unknown): boolean {
  if (err instanceof RateLimitedError || err instanceof TransportError) return !err.sent;
  // A refused login, or a 401 after one: the request was not executed.
  return err instanceof AuthError;
}
