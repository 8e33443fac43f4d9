// The client's deadline on the broker calls of CancelOrder, ModifyOrder and ClosePosition reaches the executor thread,
// which checks it right before the send, after the task's wait in the queue and for a token of the shared rate budget:
// a call held past it is answered DEADLINE_EXCEEDED and nothing reaches the broker. FlattenAll's calls carry no
// deadline (checked on arrival only; once started it runs to the end). The token taken for a PlaceOrder (or a call
// with a deadline) is that call's own: a read arriving meanwhile waits for another. Real piscina threads running this
// app's worker, the simulator in this process (port 0), shared memory from bootstrapRuntime with the rate budget on,
// the orders module behind the gRPC front door (port 0). The budget is held by the test itself: one request per window, its one
// token taken, so the executor's next request waits a whole window — a deterministic wait, no broker latency needed.
// The risk-manager is stood in for (an ACTIVE account and fresh marks in shared memory).
import { EventEmitter } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOrdersModule, startGrpcFrontDoor, type FrontDoorDeps, type OrdersService } from '@gateway/front-door';
import type { RestResult } from '@gateway/order-journal';
import { orders } from '@gateway/proto';
import { COMBINE_50K, tradingHoursStatus } from '@gateway/risk';
import { appEntry, bootstrapRuntime, createLogger, ExecutorPool, loadConfig, type RuntimeBootstrap, type WorkerSupervisor } from '@gateway/runtime';
import { chicagoToEpoch, toChicago } from '@gateway/session';
import { AccountState, newAccountRecord, type RateBucketConfig } from '@gateway/shared-state';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const ACCOUNT = 1001;
/** The held budget's window: how long the executor's next request waits for a token. */
const HELD_WINDOW_MS = 3_000;

const logger = createLogger({ app: 'engine', thread: 'main', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/** Keeps the risk clock inside trading hours (the gate refuses entries after 15:10 CT and at the weekend). */
function tradingHoursEnv(nowMs = Date.now()): Record<string, string> {
  const soon = tradingHoursStatus(nowMs + 3_600_000, COMBINE_50K);
  const now = tradingHoursStatus(nowMs, COMBINE_50K);
  if (now.entryAllowedByTime && soon.entryAllowedByTime) return {};
  const ct = toChicago(nowMs);
  const daysToTuesday = ((2 - ct.weekday + 7) % 7) || 7;
  return { RISK_CLOCK_OFFSET_MS: String(chicagoToEpoch(ct.year, ct.month, ct.day + daysToTuesday, 10, 0) - nowMs) };
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the deadline of Cancel/Modify/ClosePosition broker calls is checked by the executor right before the send', () => {
  let sim: Simulator;
  let runtime: RuntimeBootstrap;
  let executor: ExecutorPool;
  let svc: OrdersService;
  let client: orders.OrderServiceClient;
  let budget: RateBucketConfig;
  let mnq = '';
  const cleanup: Array<() => unknown> = [];
  const dir = join(ROOT, 'tmp', `executor-rest-deadline-${process.pid}`);

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    sim = await createSimulator({ rateLimits: false, seed: 11, market: { tradesPerSecond: 0 } });
    cleanup.push(() => sim.close());
    // BROKER_RATE_LIMIT stays on (the default): the executor threads draw from the shared budget the test holds.
    const config = loadConfig({
      TOPSTEPX_API_URL: sim.url,
      TOPSTEPX_USERNAME: 'demo',
      TOPSTEPX_API_KEY: 'demo-key',
      TOPSTEPX_ACCOUNT_ID: String(ACCOUNT),
      DATA_DIR: dir,
      CONTRACTS: 'MNQ',
      EXECUTOR_THREADS: '1',
      LOG_LEVEL: 'error',
      ...tradingHoursEnv(),
    });
    runtime = await bootstrapRuntime(config, logger, import.meta.url);
    cleanup.push(() => runtime.close());
    budget = runtime.state.rate.config('general');
    expect(budget.enabled).toBe(true);
    const acct = runtime.accounts[0]!;
    const rec = newAccountRecord();
    rec.accountId = acct.accountId;
    rec.state = AccountState.ACTIVE;
    rec.maxPositionUnits = 1_000_000;
    rec.maxOpenOrders = 100_000;
    rec.maxOrdersPerMinute = 0;
    rec.updatedMs = Date.now();
    runtime.state.accounts.writeAccount(acct.slot, rec);
    runtime.state.accounts.setReady(acct.slot, true);
    for (const c of runtime.contracts) {
      const last = Math.round(sim.quote(c.contractId).last * 1e9);
      runtime.state.marks.write(c.slot, { last, bid: last - c.tickSizeUnits, ask: last + c.tickSizeUnits, lastTradeMs: Date.now(), updatedMs: Date.now() });
      runtime.state.marks.setStale(c.slot, false);
    }
    mnq = runtime.contracts[0]!.contractId;
    executor = new ExecutorPool({
      file: appEntry(import.meta.url, 'order-executor', 'worker', 3),
      threads: 1,
      maxQueue: 100,
      workerData: runtime.workerInit('order-executor'),
      logger,
    });
    await executor.start();
    cleanup.push(() => executor.close(1000));
    const supervisor = Object.assign(new EventEmitter(), { request: async () => ({}) });
    const deps = { config, runtime, supervisor: supervisor as unknown as WorkerSupervisor, executor, logger, registry: new Registry() } as FrontDoorDeps;
    const module = createOrdersModule(deps);
    cleanup.push(() => module.stop?.(1000));
    svc = module.service;
    const grpc = await startGrpcFrontDoor({ host: '127.0.0.1', port: 0, services: [module.grpc!] });
    cleanup.push(() => grpc.close(1000));
    client = new orders.OrderServiceClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    await waitFor(() => svc.isReady, 60_000, 'the order book recovered');
  }, 120_000);

  afterEach(async () => {
    runtime.state.rate.configure('general', budget);
    sim.faults.reset();
    // Each test starts flat with no working orders (the simulator and the account are shared).
    if (sim.positions(ACCOUNT).length > 0 || working().length > 0) await svc.flattenAll({ accountId: 0, halt: false, clientRequestId: '' });
  }, 60_000);

  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /**
   * The shared general budget becomes one request per `windowMs`, its one token taken by the test now: the executor's
   * next request waits a whole window for its token. (The token is taken under a 1 ms window, then the window widens.)
   */
  async function holdBudget(windowMs: number): Promise<number> {
    runtime.state.rate.configure('general', { limit: 1, windowMs: 1, enabled: true });
    let takenAt = 0;
    await waitFor(() => runtime.state.rate.tryAcquire('general', (takenAt = Date.now())) === 0, 10_000, 'the one token of the budget');
    runtime.state.rate.configure('general', { limit: 1, windowMs, enabled: true });
    return takenAt;
  }

  /** The simulator's MNQ position of the account, signed (long > 0). */
  const position = (): number => {
    const p = sim.positions(ACCOUNT).find((x) => x.contractId === mnq) as { size: number; type: number } | undefined;
    return p ? (p.type === 2 ? -p.size : p.size) : 0;
  };
  /** Orders the broker's own closes placed (no custom tag): one per close that reached the broker. */
  const closeOrders = (): number => (sim.orders(ACCOUNT) as Array<{ customTag?: string | null }>).filter((o) => !o.customTag).length;
  const working = (): Array<{ id: number; size: number; limitPrice?: number | null }> =>
    (sim.orders(ACCOUNT) as Array<{ id: number; status: number; size: number; limitPrice?: number | null }>).filter((o) => o.status === 1);

  /** A working buy limit 100 points under the market: its order id, broker id and price. */
  async function restingBuy(clientOrderId: string, quantity: number): Promise<{ orderId: string; brokerOrderId: number; price: number }> {
    const price = Math.round(sim.quote(mnq).last - 100);
    const r = await svc.place({ symbol: 'MNQ', side: 'BUY', quantity, orderType: 'LIMIT', price, strategyName: 'deadlines', clientOrderId }, 0);
    expect(r.error).toBeUndefined();
    expect(working().find((o) => o.id === r.response.brokerOrderId)?.size).toBe(quantity);
    return { orderId: r.response.orderId, brokerOrderId: r.response.brokerOrderId, price };
  }

  async function openLong(quantity: number, clientOrderId: string): Promise<void> {
    const before = position();
    const r = await svc.place({ symbol: 'MNQ', side: 'BUY', quantity, strategyName: 'deadlines', clientOrderId }, 0);
    expect(r.error).toBeUndefined();
    await waitFor(() => position() === before + quantity, 30_000, `a long position of ${before + quantity}`);
  }

  function cancelOverGrpc(orderId: string, timeoutMs: number): Promise<{ ok: true; value: orders.CancelOrderResponse } | { ok: false; error: ServiceError }> {
    return new Promise((done) => {
      client.cancelOrder({ orderId }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, value) => done(err ? { ok: false, error: err } : { ok: true, value }));
    });
  }

  it('a task whose deadline passed while it waited in the executor queue is answered "not sent: deadline", nothing sent', async () => {
    const o = await restingBuy('queued-cancel', 2);
    const late = await executor.run<RestResult>({ kind: 'rest', method: 'cancelOrder', args: [{ accountId: ACCOUNT, orderId: o.brokerOrderId }], deadlineMs: Date.now() - 1 });
    expect(late).toMatchObject({ ok: false, code: 'DEADLINE', notSent: true, message: 'the deadline passed in the executor queue before cancelOrder was sent' });
    expect(working().find((w) => w.id === o.brokerOrderId)).toMatchObject({ size: 2, limitPrice: o.price });
    // The same task without a deadline goes out: the refusal above was the deadline's, not the order's.
    const sent = await executor.run<RestResult>({ kind: 'rest', method: 'cancelOrder', args: [{ accountId: ACCOUNT, orderId: o.brokerOrderId }] });
    expect(sent.ok).toBe(true);
    expect(working().some((w) => w.id === o.brokerOrderId)).toBe(false);
  }, 60_000);

  it('CancelOrder and ModifyOrder held for a rate-budget token past their deadline: DEADLINE_EXCEEDED, the order unchanged', async () => {
    const o = await restingBuy('held-cancel', 2);
    await holdBudget(HELD_WINDOW_MS);
    // The engine answers, not the client's own timer: the details are the engine's.
    const cancelled = await cancelOverGrpc(o.orderId, HELD_WINDOW_MS / 2);
    expect(cancelled.ok ? 'answered' : cancelled.error.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(cancelled.ok ? '' : cancelled.error.details).toMatch(/CancelOrder: the deadline passed waiting for the broker request budget before cancelOrder was sent; nothing was sent/);
    await expect(svc.modify(orders.ModifyOrderRequest.fromPartial({ orderId: o.orderId, quantity: 1, price: o.price - 1 }), Date.now() + HELD_WINDOW_MS / 2)).rejects.toMatchObject({
      code: 'DEADLINE',
      message: expect.stringMatching(/ModifyOrder: the deadline passed waiting for the broker request budget before modifyOrder was sent; nothing was sent/) as unknown,
    });
    expect(working().find((w) => w.id === o.brokerOrderId)).toMatchObject({ size: 2, limitPrice: o.price });
    // With a deadline the token's wait fits in, the same calls go out.
    await holdBudget(HELD_WINDOW_MS);
    const modified = await svc.modify(orders.ModifyOrderRequest.fromPartial({ orderId: o.orderId, quantity: 1 }), Date.now() + 4 * HELD_WINDOW_MS);
    expect(modified).toMatchObject({ success: true });
    await waitFor(() => working().find((w) => w.id === o.brokerOrderId)?.size === 1, 30_000, 'the order modified to 1');
  }, 60_000);

  it('a partial close held for a rate-budget token past its deadline: DEADLINE, the position unchanged, the client_request_id given back', async () => {
    await openLong(3, 'open-held-close');
    const closesBefore = closeOrders();
    await holdBudget(HELD_WINDOW_MS);
    // The position read waits one window for its token and answers well before the deadline; the close's token would
    // come a window after the read's, past it. (The message tells the executor's refusal from the main thread's.)
    const deadlineMs = Date.now() + 1.8 * HELD_WINDOW_MS;
    await expect(svc.closePosition(orders.ClosePositionRequest.fromPartial({ symbol: 'MNQ', quantity: 1, clientRequestId: 'held-close-1' }), deadlineMs)).rejects.toMatchObject({
      code: 'DEADLINE',
      message: expect.stringMatching(/ClosePosition: the deadline passed waiting for the broker request budget before partialCloseContract was sent; nothing was sent/) as unknown,
    });
    expect(position()).toBe(3);
    expect(closeOrders()).toBe(closesBefore);
    // Nothing was sent, so the key was given back: a retry with it closes (duplicate false), once.
    runtime.state.rate.configure('general', budget);
    const retry = await svc.closePosition(orders.ClosePositionRequest.fromPartial({ symbol: 'MNQ', quantity: 1, clientRequestId: 'held-close-1' }), 0);
    expect(retry).toMatchObject({ success: true, closedQuantity: 1, duplicate: false });
    await waitFor(() => position() === 2, 30_000, 'the position reduced to 2');
    expect(closeOrders()).toBe(closesBefore + 1);
  }, 60_000);

  it('the token PlaceOrder took is its own: a read arriving with the order waits for another, the order goes out at once', async () => {
    // One request per window and one token left: the test's own grant is a whole window old when the order comes.
    const takenAt = await holdBudget(HELD_WINDOW_MS);
    await waitFor(() => Date.now() > takenAt + HELD_WINDOW_MS, 2 * HELD_WINDOW_MS, 'the held token to free');
    const grants = runtime.state.rate.granted('general');
    const since = new Date(Date.now() - 60_000).toISOString();
    const price = Math.round(sim.quote(mnq).last - 100);
    // Posted back to back, so the thread takes both in one turn: the read asks for a token while the order, which took
    // the last one, waits for its intent's fdatasync. The deadline would pass during a wait for the next token.
    const placed = svc.place({ symbol: 'MNQ', side: 'BUY', quantity: 1, orderType: 'LIMIT', price, strategyName: 'permits', clientOrderId: 'permit-place' }, Date.now() + HELD_WINDOW_MS / 2);
    const read = executor.run<RestResult>({ kind: 'rest', method: 'searchOrders', args: [{ accountId: ACCOUNT, startTimestamp: since }] });
    const p = await placed;
    expect(p.error).toBeUndefined();
    expect(working().find((o) => o.id === p.response.brokerOrderId)?.size).toBe(1);
    // The read went out after the order reached the broker: it waited for a token of its own.
    const r = await read;
    expect(r.ok).toBe(true);
    expect((r as { value: Array<{ id: number }> }).value.map((o) => o.id)).toContain(p.response.brokerOrderId);
    // Two requests, two tokens.
    expect(runtime.state.rate.granted('general')).toBe(grants + 2);
  }, 60_000);

  it('FlattenAll, checked on arrival only, runs to the end when its deadline passes while it waits for tokens', async () => {
    await openLong(1, 'open-held-flatten');
    await restingBuy('held-flatten-resting', 1);
    // Every call of the flatten waits a window for its token: the deadline passes before the second one.
    const windowMs = 400;
    await holdBudget(windowMs);
    const flat = await svc.flattenAll(orders.FlattenAllRequest.fromPartial({ clientRequestId: 'held-flatten-1' }), Date.now() + windowMs / 2);
    expect(flat).toMatchObject({ success: true, closedPositions: 1, cancelledOrders: 1, failedContracts: [] });
    expect(position()).toBe(0);
    expect(working()).toHaveLength(0);
  }, 60_000);
});
