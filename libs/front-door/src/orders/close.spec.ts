// ClosePosition, FlattenAll, CancelOrder and ModifyOrder against the client's deadline and retries: the real
// gRPC front door (port 0) with the orders module, real order-executor threads, and the simulator in this
// process with latency faults. What a test checks is the simulator's own order list and positions: a close
// retried after a lost answer must reach the broker once, and a call refused for its deadline not at all.
// The risk-manager is stood in for (an ACTIVE account and fresh marks in shared memory).
import { EventEmitter } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orders } from '@gateway/proto';
import { COMBINE_50K, tradingHoursStatus } from '@gateway/risk';
import { appEntry, bootstrapRuntime, createLogger, ExecutorPool, loadConfig, type WorkerSupervisor } from '@gateway/runtime';
import { chicagoToEpoch, toChicago } from '@gateway/session';
import { AccountState, newAccountRecord } from '@gateway/shared-state';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import type { FrontDoorDeps } from '../deps';
import { startGrpcFrontDoor, type GrpcFrontDoor } from '../grpc-server';
import { createOrdersModule } from './index';
import type { OrdersService } from './service';

const ROOT = resolve(fileURLToPath(new URL('../../../..', import.meta.url)));
const ACCOUNT = 1001;
/** Broker latency that keeps a close in flight well past a short client deadline. */
const SLOW_MS = 1_500;
/** Far beyond the client's 1 s deadline, so the first partial close is still at the broker when it is retried. */
const PARTIAL_CLOSE_SLOW_MS = 6_000;

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

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Reply<Res> = { ok: true; value: Res } | { ok: false; error: ServiceError };

describe('ClosePosition / FlattenAll / CancelOrder / ModifyOrder: deadlines and client_request_id', () => {
  let sim: Simulator;
  let svc: OrdersService;
  let client: orders.OrderServiceClient;
  let mnq = '';
  const cleanup: Array<() => unknown> = [];
  const dir = join(ROOT, 'tmp', `orders-close-${process.pid}`);

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    sim = await createSimulator({ rateLimits: false, seed: 11, market: { tradesPerSecond: 0 } });
    cleanup.push(() => sim.close());
    const config = loadConfig({
      TOPSTEPX_API_URL: sim.url,
      TOPSTEPX_USERNAME: 'demo',
      TOPSTEPX_API_KEY: 'demo-key',
      TOPSTEPX_ACCOUNT_ID: String(ACCOUNT),
      DATA_DIR: dir,
      CONTRACTS: 'MNQ',
      EXECUTOR_THREADS: '1',
      LOG_LEVEL: 'error',
      BROKER_RATE_LIMIT: 'false',
      ...tradingHoursEnv(),
    });
    const runtime = await bootstrapRuntime(config, logger, import.meta.url);
    cleanup.push(() => runtime.close());
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
    const executor = new ExecutorPool({
      file: appEntry(import.meta.url, 'order-executor', 'worker', 4),
      threads: 1,
      maxQueue: 1000,
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
    const grpc: GrpcFrontDoor = await startGrpcFrontDoor({ host: '127.0.0.1', port: 0, services: [module.grpc!] });
    cleanup.push(() => grpc.close(1000));
    client = new orders.OrderServiceClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    await waitFor(() => svc.isReady, 60_000, 'the order book recovered');
  }, 120_000);

  afterEach(async () => {
    sim.faults.reset();
    // Each test starts flat with no working orders (the simulator and the account are shared).
    if (sim.positions(ACCOUNT).length > 0 || working().length > 0) await svc.flattenAll({ accountId: 0, halt: false, clientRequestId: '' });
  }, 60_000);

  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    rmSync(dir, { recursive: true, force: true });
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
  const position = (): number => {
    const p = sim.positions(ACCOUNT).find((x) => x.contractId === mnq) as { size: number; type: number } | undefined;
    return p ? (p.type === 2 ? -p.size : p.size) : 0;
  };
  /** Orders the broker's own closes placed (no custom tag): one per close that reached the broker. */
  const closeOrders = (): number => (sim.orders(ACCOUNT) as Array<{ customTag?: string | null }>).filter((o) => !o.customTag).length;
  const working = (): Array<{ id: number; size: number; limitPrice?: number | null }> =>
    (sim.orders(ACCOUNT) as Array<{ id: number; status: number; size: number; limitPrice?: number | null }>).filter((o) => o.status === 1);

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
    // The close is held at the broker; once the engine has read the positions, the next request (that close) fails.
    sim.faults.set({ latencyByEndpoint: { 'Position/closeContract': SLOW_MS } });
    const searched = new Promise<void>((done) => {
      const onRequest = (r: { endpoint: string }): void => {
        if (r.endpoint !== 'Position/searchOpen') return;
        sim.faults.set({ serverErrors: 1 });
        (sim as unknown as EventEmitter).off('request', onRequest);
        done();
      };
      (sim as unknown as EventEmitter).on('request', onRequest);
    });
    const req = orders.FlattenAllRequest.fromPartial({ clientRequestId: 'flat-fail-1' });
    const first = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>('flattenAll', req);
    await searched;
    if (!first.ok) throw new Error(first.error.message);
    expect(first.value).toMatchObject({ success: false, failedContracts: [mnq] });
    expect(position()).toBe(1);
    sim.faults.reset();
    const retry = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>('flattenAll', req);
    if (!retry.ok) throw new Error(retry.error.message);
    expect(retry.value).toMatchObject({ success: true, duplicate: false, closedPositions: 1 });
    expect(position()).toBe(0);
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
