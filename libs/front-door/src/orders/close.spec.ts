// ClosePosition, FlattenAll, CancelOrder and ModifyOrder against the client's deadline and retries: the real
// gRPC front door (port 0) with the orders module, real order-executor threads, and the simulator in this
// process with latency faults. What a test checks is the simulator's own order list and positions: a close
// retried after a lost answer must reach the broker once, and a call refused for its deadline not at all.
// The risk-manager is stood in for (an ACTIVE account and fresh marks in shared memory).
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orders } from '@gateway/proto';
import type { Simulator } from '@gateway/topstepx-sim';
import { freshDataDir, startOrdersHarness, TEST_ACCOUNT, waitFor, type OrdersHarness, type WorkingOrder } from '../testing';
import type { OrdersService } from './service';

/** Broker latency that keeps a close in flight well past a short client deadline. */
const SLOW_MS = 1_500;
/** Far beyond the client's 1 s deadline, so the first partial close is still at the broker when it is retried. */
const PARTIAL_CLOSE_SLOW_MS = 6_000;

type Reply<Res> = { ok: true; value: Res } | { ok: false; error: ServiceError };

describe('ClosePosition / FlattenAll / CancelOrder / ModifyOrder: deadlines and client_request_id', () => {
  let h: OrdersHarness | undefined;
  let sim: Simulator;
  let svc: OrdersService;
  let client: orders.OrderServiceClient;
  let mnq = '';
  /** While true the stand-in risk-manager refuses `halt` (its thread restarting): a FlattenAll with halt fails. */
  let haltFails = false;

  beforeAll(async () => {
    h = await startOrdersHarness({
      dataDir: freshDataDir(`orders-close-${process.pid}`),
      removeDataDir: true,
      seed: 11,
      grpc: true,
      supervisorRequest: async (_app, method) => {
        if (method === 'halt' && haltFails) throw new Error('risk-manager not running');
        return {};
      },
    });
    sim = h.sim;
    svc = h.svc;
    client = h.client!;
    mnq = h.contractId;
  }, 120_000);

  afterEach(async () => {
    // Each test starts with no faults, flat and with no working orders (the simulator and the account are shared).
    await h!.resetBetweenTests();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  function call<Req, Res>(method: string, req: Req, timeoutMs = 20_000): Promise<Reply<Res>> {
    return new Promise((done) => {
      const fn = (client as unknown as Record<string, (r: Req, m: Metadata, o: object, cb: (e: ServiceError | null, v: Res) => void) => void>)[method]!;
      fn.call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, value) => done(err ? { ok: false, error: err } : { ok: true, value }));
    });
  }

  const close = (req: Partial<orders.ClosePositionRequest>, timeoutMs?: number) =>
    call<orders.ClosePositionRequest, orders.ClosePositionResponse>('closePosition', orders.ClosePositionRequest.fromPartial({ symbol: 'MNQ', ...req }), timeoutMs);

  /** The simulator's MNQ position of the account, signed (long > 0). */
  const position = (): number => h!.position();
  const closeOrders = (): number => h!.closeOrders();
  const working = (): WorkingOrder[] => h!.working();

  async function openLong(quantity: number, clientOrderId: string): Promise<void> {
    const before = position();
    const r = await svc.place({ symbol: 'MNQ', side: 'BUY', quantity, strategyName: 'closes', clientOrderId }, 0);
    expect(r.error).toBeUndefined();
    await waitFor(() => position() === before + quantity, 30_000, `a long position of ${before + quantity}`);
  }

  it('a partial close retried with the same client_request_id while the first is in flight closes once', async () => {
    await openLong(3, 'open-partial');
    const closesBefore = closeOrders();
    sim.faults.set({ latencyByEndpoint: { 'Position/partialCloseContract': PARTIAL_CLOSE_SLOW_MS } });
    // The client gives up long before the broker answers; the close is on its way all the same.
    const first = await close({ quantity: 1, clientRequestId: 'close-partial-1' }, 1_000);
    expect(first.ok ? 'answered' : first.error.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    // The retry arrives while the first close is still in flight: it waits for it and sends nothing. On a machine
    // so loaded that the engine's position read outlived the client's second, the first call sent nothing and gave
    // the key back, and the retry is the one close (duplicate false): either way exactly one close is sent.
    const retry = await close({ quantity: 1, clientRequestId: 'close-partial-1' });
    if (!retry.ok) throw new Error(retry.error.message);
    expect(retry.value).toMatchObject({ success: true, closedQuantity: 1, contractId: mnq });
    await waitFor(() => position() === 2, 30_000, 'the position reduced to 2');
    // Once settled, a repeat still replays it, and the same key with another quantity is refused.
    const third = await close({ quantity: 1, clientRequestId: 'close-partial-1' });
    expect(third.ok && third.value.duplicate).toBe(true);
    const other = await close({ quantity: 2, clientRequestId: 'close-partial-1' });
    expect(other.ok ? 'answered' : other.error.code).toBe(GrpcStatus.ALREADY_EXISTS);
    expect(closeOrders()).toBe(closesBefore + 1);
    expect(position()).toBe(2);
  }, 120_000);

  it('two full closes with the same client_request_id at once: one close reaches the broker', async () => {
    await openLong(2, 'open-full');
    const closesBefore = closeOrders();
    sim.faults.set({ latencyByEndpoint: { 'Position/closeContract': 500 } });
    const [a, b] = await Promise.all([close({ quantity: 0, clientRequestId: 'close-full-1' }), close({ quantity: 0, clientRequestId: 'close-full-1' })]);
    if (!a.ok || !b.ok) throw new Error('a close failed');
    expect([a.value.duplicate, b.value.duplicate].sort()).toEqual([false, true]);
    expect(b.value.closedQuantity).toBe(2);
    expect(closeOrders()).toBe(closesBefore + 1);
    expect(position()).toBe(0);
  }, 120_000);

  it('an expired deadline sends nothing: on arrival, and when it passes while the position is read', async () => {
    await openLong(2, 'open-deadline');
    const closesBefore = closeOrders();
    await expect(svc.closePosition(orders.ClosePositionRequest.fromPartial({ symbol: 'MNQ', quantity: 1, clientRequestId: 'late-1' }), Date.now() - 1)).rejects.toMatchObject({
      code: 'DEADLINE',
      message: expect.stringMatching(/nothing was sent/) as unknown,
    });
    // The deadline passes while the engine reads the position: it must not send the close after that.
    sim.faults.set({ latencyByEndpoint: { 'Position/searchOpen': SLOW_MS } });
    const first = await close({ quantity: 1, clientRequestId: 'late-2' }, 300);
    expect(first.ok ? 'answered' : first.error.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    // The retry waits for the first call; that one sent nothing and gave the key back, so this one closes.
    sim.faults.reset();
    const retry = await close({ quantity: 1, clientRequestId: 'late-2' });
    if (!retry.ok) throw new Error(retry.error.message);
    expect(retry.value).toMatchObject({ success: true, closedQuantity: 1, duplicate: false });
    await waitFor(() => position() === 1, 30_000, 'the position reduced to 1');
    expect(closeOrders()).toBe(closesBefore + 1);
    // FlattenAll refuses an expired deadline before doing anything.
    await expect(svc.flattenAll(orders.FlattenAllRequest.fromPartial({}), Date.now() - 1)).rejects.toMatchObject({ code: 'DEADLINE' });
    expect(position()).toBe(1);
    expect(closeOrders()).toBe(closesBefore + 1);
  }, 120_000);

  it('CancelOrder and ModifyOrder with an expired deadline send nothing; a retried cancel is answered, not sent twice blindly', async () => {
    const price = Math.round(sim.quote(mnq).last - 100);
    const placed = await svc.place({ symbol: 'MNQ', side: 'BUY', quantity: 2, orderType: 'LIMIT', price, strategyName: 'closes', clientOrderId: 'resting-1' }, 0);
    expect(placed.error).toBeUndefined();
    const id = placed.response.orderId;
    await expect(svc.modify(orders.ModifyOrderRequest.fromPartial({ orderId: id, quantity: 1 }), Date.now() - 1)).rejects.toMatchObject({ code: 'DEADLINE' });
    await expect(svc.cancel(id, Date.now() - 1)).rejects.toMatchObject({ code: 'DEADLINE' });
    expect(working().find((o) => o.id === placed.response.brokerOrderId)?.size).toBe(2);
    const cancelled = await call<orders.CancelOrderRequest, orders.CancelOrderResponse>('cancelOrder', { orderId: id });
    expect(cancelled.ok && cancelled.value.success).toBe(true);
    expect(working().some((o) => o.id === placed.response.brokerOrderId)).toBe(false);
    // The retry of a cancel whose answer was lost: refused by the broker (or answered from the book), never an error.
    const again = await call<orders.CancelOrderRequest, orders.CancelOrderResponse>('cancelOrder', { orderId: id });
    expect(again.ok && again.value.success).toBe(false);
    expect(again.ok && again.value.reasonCode).toBe('BROKER_REJECTED');
  }, 120_000);

  it('a FlattenAll that failed does not hold its client_request_id: the retry flattens again', async () => {
    await openLong(1, 'open-flatten-fail');
    haltFails = true;
    const req = orders.FlattenAllRequest.fromPartial({ halt: true, clientRequestId: 'flat-fail-1' });
    const first = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>('flattenAll', req);
    if (!first.ok) throw new Error(first.error.message);
    expect(first.value).toMatchObject({ success: false, closedPositions: 1 });
    expect(first.value.message).toMatch(/halt failed/);
    await waitFor(() => position() === 0, 30_000, 'flat');
    haltFails = false;
    // The retry with the same key is a second pass (the halt goes through now), not a replay of the failure.
    const retry = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>('flattenAll', req);
    if (!retry.ok) throw new Error(retry.error.message);
    expect(retry.value).toMatchObject({ success: true, duplicate: false, closedPositions: 0 });
  }, 120_000);

  // Regression (found in review of c13fe6d + 6c81891): closes that the broker fills after its answer. The retry's
  // second pass still saw the position and sent a second close over the one in flight: both filled, long 2 → short 2.
  it('a failed FlattenAll retried while its close still works does not close twice', async () => {
    await openLong(2, 'open-flatten-retry');
    sim.faults.set({ fillDelayMs: 8_000 });
    haltFails = true;
    const req = orders.FlattenAllRequest.fromPartial({ halt: true, clientRequestId: 'flat-retry-1' });
    const first = await svc.flattenAll(req);
    expect(first).toMatchObject({ success: false, closedPositions: 1 });
    const second = await svc.flattenAll(req);
    haltFails = false;
    expect(second.message).toMatch(/still working at the broker; not sent again/);
    sim.faults.reset();
    await waitFor(() => working().length === 0, 60_000, 'every close filled');
    expect(position()).toBe(0);
  }, 120_000);

  // Regression (found in review of 6c81891): the sweep skipped every untagged market order as "a close in flight".
  // Another tool's market BUY that the exchange has not filled yet survived a FlattenAll answered 'flat'.
  it("FlattenAll cancels another tool's working market order: only our own closes in flight are left alone", async () => {
    sim.faults.set({ fillDelayMs: 600_000 });
    await h!.runtime.rest.placeOrder({ accountId: TEST_ACCOUNT, contractId: mnq, type: 2, side: 0, size: 1 });
    sim.faults.reset();
    expect(working()).toHaveLength(1);
    const r = await svc.flattenAll(orders.FlattenAllRequest.fromPartial({ halt: false, clientRequestId: '' }));
    expect(r).toMatchObject({ success: true, message: 'flat', cancelledOrders: 1 });
    expect(working()).toEqual([]);
  }, 120_000);

  it('FlattenAll with the same client_request_id twice at once flattens once', async () => {
    await openLong(1, 'open-flatten');
    const closesBefore = closeOrders();
    sim.faults.set({ latencyByEndpoint: { 'Position/closeContract': 500 } });
    const req = orders.FlattenAllRequest.fromPartial({ clientRequestId: 'flat-1' });
    const [a, b] = await Promise.all([
      call<orders.FlattenAllRequest, orders.FlattenAllResponse>('flattenAll', req),
      call<orders.FlattenAllRequest, orders.FlattenAllResponse>('flattenAll', req),
    ]);
    if (!a.ok || !b.ok) throw new Error('a flatten failed');
    expect([a.value.duplicate, b.value.duplicate].sort()).toEqual([false, true]);
    expect(a.value.closedPositions).toBe(1);
    expect(b.value.closedPositions).toBe(1);
    expect(closeOrders()).toBe(closesBefore + 1);
    const halted = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>('flattenAll', { ...req, halt: true });
    expect(halted.ok ? 'answered' : halted.error.code).toBe(GrpcStatus.ALREADY_EXISTS);
  }, 120_000);
});
