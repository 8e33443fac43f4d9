// The client's deadline on the broker calls of CancelOrder, ModifyOrder and ClosePosition reaches the executor thread,
// which checks it right before the send, after the task's wait in the queue and for a token of the shared rate budget:
// a call held past it is answered DEADLINE_EXCEEDED and nothing reaches the broker. FlattenAll's calls carry no
// deadline (checked on arrival only; once started it runs to the end). The token taken for a PlaceOrder (or a call
// with a deadline) is that call's own: a read arriving meanwhile waits for another. Real piscina threads running this
// app's worker, the simulator in this process (port 0), shared memory from bootstrapRuntime with the rate budget on,
// the orders module behind the gRPC front door (port 0). The budget is held by the test itself: one request per window, its one
// token taken, so the executor's next request waits a whole window — a deterministic wait, no broker latency needed.
// The risk-manager is stood in for (an ACTIVE account and fresh marks in shared memory).
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OrdersService } from '@gateway/front-door';
import { freshDataDir, startOrdersHarness, TEST_ACCOUNT as ACCOUNT, waitFor, type OrdersHarness, type WorkingOrder } from '@gateway/front-door/testing';
import type { RestResult } from '@gateway/order-journal';
import { orders } from '@gateway/proto';
import type { ExecutorPool, RuntimeBootstrap } from '@gateway/runtime';
import type { RateBucketConfig } from '@gateway/shared-state';
import type { Simulator } from '@gateway/topstepx-sim';

/** The held budget's window: how long the executor's next request waits for a token. */
const HELD_WINDOW_MS = 3_000;

describe('the deadline of Cancel/Modify/ClosePosition broker calls is checked by the executor right before the send', () => {
  let h: OrdersHarness | undefined;
  let sim: Simulator;
  let runtime: RuntimeBootstrap;
  let executor: ExecutorPool;
  let svc: OrdersService;
  let client: orders.OrderServiceClient;
  let budget: RateBucketConfig;
  let mnq = '';

  beforeAll(async () => {
    // The rate budget stays on (BROKER_RATE_LIMIT at its default): the executor threads draw from the shared budget the test holds.
    h = await startOrdersHarness({
      dataDir: freshDataDir(`executor-rest-deadline-${process.pid}`),
      removeDataDir: true,
      seed: 11,
      rateBudget: true,
      executor: { maxQueue: 100 },
      grpc: true,
    });
    ({ sim, runtime, executor, svc } = h);
    client = h.client!;
    mnq = h.contractId;
    budget = runtime.state.rate.config('general');
    expect(budget.enabled).toBe(true);
  }, 120_000);

  afterEach(async () => {
    runtime.state.rate.configure('general', budget);
    // Each test starts with no faults, flat and with no working orders (the simulator and the account are shared).
    await h!.resetBetweenTests();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
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
  const position = (): number => h!.position();
  const closeOrders = (): number => h!.closeOrders();
  const working = (): WorkingOrder[] => h!.working();

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

// The executor's last check sits before the broker client, which can still wait: in its keep-alive pool for a free
// connection, or for a re-login after an HTTP 401. The call's deadline travels into the client (CallOptions.deadlineMs),
// which refuses to write the request once it has passed (SendDeadlineError), and the executor answers that as its own
// "not sent: deadline". One connection per executor pool (BROKER_CONNECTIONS=1), so an order whose answer the
// simulator holds back keeps every later request waiting for the connection; the simulator's request events show
// what reached it.
describe('the broker client does not write a call whose deadline passed while it waited for a connection or a re-login', () => {
  /** How long the simulator holds back an answer: a wait no deadline below outlasts. */
  const HOLD_MS = 3_000;
  /** Deadlines are this far ahead: room for the executor's own path, well short of HOLD_MS. */
  const AHEAD_MS = 1_500;
  let h: OrdersHarness | undefined;
  let sim: Simulator;
  let svc: OrdersService;
  const seen: Array<{ endpoint: string; status: number }> = [];
  const requests = (endpoint: string): number[] => seen.filter((r) => r.endpoint === endpoint).map((r) => r.status);

  beforeAll(async () => {
    h = await startOrdersHarness({
      dataDir: freshDataDir(`executor-send-deadline-${process.pid}`),
      removeDataDir: true,
      seed: 11,
      env: { BROKER_CONNECTIONS: '1' },
      executor: { maxQueue: 100 },
    });
    ({ sim, svc } = h);
    sim.on('request', (r) => seen.push(r));
  }, 120_000);

  afterEach(async () => {
    await h!.resetBetweenTests();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  const limitBuy = (clientOrderId: string) => ({
    symbol: 'MNQ',
    side: 'BUY',
    quantity: 1,
    orderType: 'LIMIT',
    price: Math.round(sim.quote(h!.contractId).last - 100),
    strategyName: 'send-deadline',
    clientOrderId,
  });
  const atBroker = (): number => sim.orders(ACCOUNT).length;

  async function restingBuy(clientOrderId: string): Promise<{ orderId: string; brokerOrderId: number }> {
    const r = await svc.place(limitBuy(clientOrderId), 0);
    expect(r.error).toBeUndefined();
    return { orderId: r.response.orderId, brokerOrderId: r.response.brokerOrderId };
  }

  it('PlaceOrder and CancelOrder waiting for the pool connection past their deadline: DEADLINE, neither reached the broker', async () => {
    const target = await restingBuy('conn-target');
    sim.faults.set({ answerDelayByEndpoint: { 'Order/place': HOLD_MS } });
    const before = atBroker();
    seen.length = 0;
    // Processed by the simulator at once, answered HOLD_MS later: the executor's one connection stays busy till then.
    const holder = svc.place(limitBuy('conn-holder'), 0);
    await waitFor(() => atBroker() === before + 1, 30_000, 'the holding order at the broker');
    const deadlineMs = Date.now() + AHEAD_MS;
    const late = svc.place(limitBuy('conn-late'), deadlineMs);
    const cancel = svc.cancel(target.orderId, deadlineMs).catch((e: unknown) => e);
    const p = await late;
    expect(p.error).toMatchObject({ code: 'DEADLINE', message: 'deadline passed waiting for a free connection to the broker before the order was sent' });
    expect(await cancel).toMatchObject({
      code: 'DEADLINE',
      message: 'CancelOrder: the deadline passed waiting for a free connection to the broker before cancelOrder was sent; nothing was sent',
    });
    expect((await holder).error).toBeUndefined();
    expect(atBroker()).toBe(before + 1);
    expect(requests('Order/cancel')).toEqual([]);
    expect(h!.working().some((w) => w.id === target.brokerOrderId)).toBe(true);
    // Not sent, so the client order id is free: the same order goes out now.
    sim.faults.set({ reset: true });
    expect((await svc.place(limitBuy('conn-late'), Date.now() + 30_000)).error).toBeUndefined();
    expect(atBroker()).toBe(before + 2);
  }, 60_000);

  it('an HTTP 401 whose re-login ends past the deadline: no resend, DEADLINE, one request at the broker (PlaceOrder, then CancelOrder)', async () => {
    const target = await restingBuy('relogin-target');
    const before = atBroker();
    // Every token expires (the next call is answered 401) and a login is answered HOLD_MS late.
    sim.faults.set({ expireTokens: true, answerDelayByEndpoint: { 'Auth/loginKey': HOLD_MS } });
    seen.length = 0;
    const p = await svc.place(limitBuy('relogin-late'), Date.now() + AHEAD_MS);
    expect(p.error).toMatchObject({ code: 'DEADLINE', message: 'deadline passed waiting for the broker login before the order was sent' });
    expect(requests('Order/place')).toEqual([401]);
    expect(atBroker()).toBe(before);

    sim.faults.set({ expireTokens: true });
    seen.length = 0;
    await expect(svc.cancel(target.orderId, Date.now() + AHEAD_MS)).rejects.toMatchObject({
      code: 'DEADLINE',
      message: 'CancelOrder: the deadline passed waiting for the broker login before cancelOrder was sent; nothing was sent',
    });
    expect(requests('Order/cancel')).toEqual([401]);
    expect(h!.working().some((w) => w.id === target.brokerOrderId)).toBe(true);
  }, 60_000);
});
