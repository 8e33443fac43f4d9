// The front door against hostile clients: the real gRPC and HTTP servers on port 0 with the orders and
// market-data modules over stand-in engine parts (shared memory, a supervisor and an executor that answer
// at once). Each case is an input or a client behaviour that once crashed, wedged or misanswered.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { health, marketData, orders } from '@gateway/proto';
import { createLogger, loadConfig } from '@gateway/runtime';
import { allocateSharedState, attachSharedState } from '@gateway/shared-state';
import type { FrontDoorDeps } from './deps';
import { startGrpcFrontDoor, type GrpcFrontDoor } from './grpc-server';
import { createHttpFrontDoor } from './http-server';
import { createMarketDataModule } from './market-data';
import type { FrontDoorModule } from './module';
import { createOrdersModule } from './orders';

const logger = createLogger({ app: 'engine', thread: 'main', level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const CONTRACT = 'CON.F.US.MNQ.Z26';

function standIns(dir: string): FrontDoorDeps {
  const state = attachSharedState(allocateSharedState({ contracts: 1, accounts: 1 }));
  const slot = state.directory.register({ contractId: CONTRACT, tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const acct = state.accounts.registerAccount(1001);
  const supervisor = Object.assign(new EventEmitter(), { request: async () => ({ contractId: CONTRACT, timeframe: '1m', bars: [], stale: false }) });
  // Broker searches find nothing; nothing here places an order.
  const executor = { isReady: true, queueSize: 0, run: async (t: { kind: string }) => (t.kind === 'rest' ? { ok: true, value: [] } : { ok: true }) };
  return {
    config: loadConfig({ DATA_DIR: dir, CONTRACTS: 'MNQ' }),
    runtime: {
      state,
      accounts: [{ accountId: 1001, name: 'S1', slot: acct }],
      contracts: [{ contractId: CONTRACT, root: 'MNQ', name: 'MNQZ6', symbolId: 'F.US.MNQ', tickSizeUnits: 250_000_000, tickValueUnits: 5_000, isMicro: true, slot }],
    },
    supervisor,
    executor,
    logger,
    registry: new Registry(),
  } as unknown as FrontDoorDeps;
}

describe('front door under hostile input', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function start(): Promise<{ ordersModule: ReturnType<typeof createOrdersModule>; grpc: GrpcFrontDoor; base: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'front-door-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const deps = standIns(dir);
    const ordersModule = createOrdersModule(deps);
    const modules: FrontDoorModule[] = [ordersModule, createMarketDataModule(deps)];
    cleanup.push(() => Promise.all(modules.map((m) => m.stop?.(100))));
    const grpc = await startGrpcFrontDoor({ host: '127.0.0.1', port: 0, services: modules.map((m) => m.grpc!) });
    cleanup.push(() => grpc.close(100));
    const http = createHttpFrontDoor({ health: () => ({}), mainRegistry: deps.registry, collectThreadMetrics: async () => [], modules });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => http.close(r)));
    return { ordersModule, grpc, base: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
  }

  function unary<Res>(client: object, method: string, req: unknown): Promise<{ err: ServiceError | null; res?: Res }> {
    return new Promise((resolve) => {
      const fn = (client as Record<string, (r: unknown, m: Metadata, o: object, cb: (e: ServiceError | null, v: Res) => void) => void>)[method]!;
      fn.call(client, req, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => resolve({ err, res }));
    });
  }

  it('GetBars with a 100,000-character symbol answers INVALID_ARGUMENT naming symbol, and the channel keeps serving', async () => {
    const { grpc } = await start();
    const client = new marketData.MarketDataServiceClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    const bad = await unary(client, 'getBars', marketData.GetBarsRequest.fromPartial({ symbol: 'Y'.repeat(100_000), timeframe: '1m' }));
    expect(bad.err?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(bad.err?.details).toMatch(/^symbol: /);
    expect(bad.err?.metadata.get('field')).toEqual(['symbol']);
    const good = await unary<marketData.GetBarsResponse>(client, 'getBars', marketData.GetBarsRequest.fromPartial({ symbol: 'MNQ', timeframe: '1m' }));
    expect(good.err).toBeNull();
    expect(good.res?.contractId).toBe(CONTRACT);
  });

  it('REST status and cancel of an id with broken percent-encoding answer 400 naming order_id, not 500', async () => {
    const { base } = await start();
    for (const [method, path] of [
      ['GET', '/api/go/orders/%E0%A4%A/status'],
      ['POST', '/api/go/orders/%E0%A4%A/cancel'],
    ] as const) {
      const res = await request(`${base}${path}`, { method });
      expect(res.statusCode).toBe(400);
      expect(((await res.body.json()) as { error: { field: string } }).error.field).toBe('order_id');
    }
  });

  it('REST PlaceBatch with max_concurrency a deeply nested array answers 400 naming max_concurrency, not 500', async () => {
    const { base } = await start();
    const body = `{"orders":[{"symbol":"MNQ"}],"max_concurrency":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const res = await request(`${base}/api/go/orders/batch`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(400);
    const e = ((await res.body.json()) as { error: { field: string; message: string } }).error;
    expect(e.field).toBe('max_concurrency');
    expect(e.message.length).toBeLessThan(200);
  });

  it('StreamOrderUpdates: a subscriber that stops reading is ended RESOURCE_EXHAUSTED past its budget, not buffered without end', async () => {
    const { grpc, ordersModule } = await start();
    const client = new orders.OrderServiceClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    const stream = client.streamOrderUpdates(orders.StreamOrderUpdatesRequest.fromPartial({}));
    const ended = new Promise<ServiceError | undefined>((resolve) => {
      stream.on('error', (e: ServiceError) => resolve(e));
      stream.on('end', () => resolve(undefined));
    });
    const book = ordersModule.service.book;
    let n = 0;
    // One order: 3 updates (sent, working, filled).
    const order = (): void => {
      const i = n++;
      const e = book.add({
        orderId: `o-${i}`, accountId: 1001, accountSlot: 0, contractId: CONTRACT, contractSlot: 0, symbol: 'MNQ', side: 'BUY', quantity: 1,
        orderType: 'MARKET', price: undefined, strategyName: 's', clientOrderId: '', paramsKey: 'k', customTag: `t-${i}`, counter: i,
        stopLossTicks: 0, takeProfitTicks: 0, createdAtMs: 1,
      });
      book.apply(e, { kind: 'sent', atMs: 2 });
      book.apply(e, { kind: 'accepted', brokerOrderId: 100_000 + i, atMs: 3 });
      book.apply(e, { kind: 'broker', brokerOrderId: 100_000 + i, status: 2, fillVolume: 1, filledPriceUnits: 21_000 * 1e9, atMs: 4 });
    };
    let received = 0;
    stream.on('data', () => (received += 1));
    await waitUntil(() => {
      order();
      return received > 0;
    });
    // The subscriber stops reading; 30,000 more updates, far past any queue budget.
    stream.pause();
    for (let k = 0; k < 10_000; k++) order();
    // It reads again: it gets what was queued, then the stream's end.
    stream.resume();
    const outcome = await Promise.race([ended, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 15_000))]);
    expect(outcome).not.toBe('still open');
    expect((outcome as ServiceError).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(received).toBeLessThan(3 * n);
  });

  it('the health Watch stream hears a status only when it changes', async () => {
    const { grpc } = await start();
    const client = new health.HealthClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    const seen: number[] = [];
    const watch = client.watch({ service: '' });
    cleanup.push(() => watch.cancel());
    watch.on('data', (m: health.HealthCheckResponse) => seen.push(m.status));
    watch.on('error', () => undefined);
    await waitUntil(() => seen.length === 1);
    // The engine republishes every component's health every second, changed or not.
    grpc.setServing('', true);
    grpc.setServing('', true);
    grpc.setServing('', true);
    grpc.setServing('', false);
    await waitUntil(() => seen.length >= 3 && seen[seen.length - 1] === health.HealthCheckResponse_ServingStatus.NOT_SERVING);
    expect(seen).toEqual([
      health.HealthCheckResponse_ServingStatus.NOT_SERVING,
      health.HealthCheckResponse_ServingStatus.SERVING,
      health.HealthCheckResponse_ServingStatus.NOT_SERVING,
    ]);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
