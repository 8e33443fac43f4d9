// The front door against hostile clients: the real gRPC and HTTP servers on port 0 with the orders and
// market-data modules over stand-in engine parts (shared memory, a supervisor and an executor that answer
// at once). Each case is an input or a client behaviour that once crashed, wedged or misanswered.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Client, credentials, Metadata, status as GrpcStatus, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { health, marketData, orders, risk } from '@gateway/proto';
import { createLogger, loadConfig } from '@gateway/runtime';
import { allocateSharedState, attachSharedState } from '@gateway/shared-state';
import type { FrontDoorDeps } from './deps';
import { startGrpcFrontDoor, type GrpcFrontDoor } from './grpc-server';
import { sendJson } from './http-json';
import { createHttpFrontDoor } from './http-server';
import { createMarketDataModule } from './market-data';
import type { FrontDoorModule } from './module';
import { createOrdersModule } from './orders';
import { createRiskModule } from './risk';
import { STREAM_HARD_MAX_UNREAD, STREAM_MAX_UNREAD } from './server-stream';

const logger = createLogger({ app: 'engine', thread: 'main', level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const CONTRACT = 'CON.F.US.MNQ.Z26';

function standIns(dir: string): FrontDoorDeps {
  const state = attachSharedState(allocateSharedState({ contracts: 1, accounts: 1 }));
  const slot = state.directory.register({ contractId: CONTRACT, tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const acct = state.accounts.registerAccount(1001);
  const supervisor = Object.assign(new EventEmitter(), {
    requests: [] as Array<[string, unknown]>,
    async request(_app: string, method: string, params: unknown) {
      this.requests.push([method, params]);
      return { contractId: CONTRACT, timeframe: '1m', bars: [], stale: false };
    },
  });
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

  async function start(o: { stopping?: () => boolean; routes?: FrontDoorModule['routes'] } = {}): Promise<{
    ordersModule: ReturnType<typeof createOrdersModule>;
    grpc: GrpcFrontDoor;
    base: string;
    httpPort: number;
    supervisor: EventEmitter & { requests: Array<[string, unknown]> };
  }> {
    const dir = mkdtempSync(join(tmpdir(), 'front-door-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const deps = standIns(dir);
    const ordersModule = createOrdersModule(deps);
    const modules: FrontDoorModule[] = [ordersModule, createMarketDataModule(deps), createRiskModule(deps)];
    cleanup.push(() => Promise.all(modules.map((m) => m.stop?.(100))));
    const grpc = await startGrpcFrontDoor({ host: '127.0.0.1', port: 0, services: modules.map((m) => m.grpc!) });
    cleanup.push(() => grpc.close(100));
    const http = createHttpFrontDoor({
      health: () => ({}),
      mainRegistry: deps.registry,
      collectThreadMetrics: async () => [],
      modules: [...modules, { routes: o.routes ?? [] }],
      ...(o.stopping ? { stopping: o.stopping } : {}),
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => {
      http.close(r);
      http.closeAllConnections();
    }));
    const httpPort = (http.address() as AddressInfo).port;
    const supervisor = deps.supervisor as unknown as EventEmitter & { requests: Array<[string, unknown]> };
    return { ordersModule, grpc, base: `http://127.0.0.1:${httpPort}`, httpPort, supervisor };
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

  it('StreamOrderUpdates: a subscriber that stops reading is ended RESOURCE_EXHAUSTED by the hard cap at the latest, not buffered without end', async () => {
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
    // The subscriber stops reading; more updates than the hard cap plus what the connection's windows take: the hard
    // cap ends the stream, or the stall period if feeding them outlasts it on a loaded machine.
    stream.pause();
    await feedPaced(order, Math.ceil((STREAM_HARD_MAX_UNREAD + 2 * STREAM_MAX_UNREAD) / 3), 8);
    // It reads again: it gets what was queued, then the stream's end.
    stream.resume();
    const outcome = await Promise.race([ended, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 60_000))]);
    expect(outcome).not.toBe('still open');
    expect((outcome as ServiceError).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect((outcome as ServiceError).details).toMatch(/^slow consumer: \d+ order updates queued unread/);
    expect(received).toBeLessThan(3 * n);
  }, 120_000);

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

  it('from the drain on, /healthz answers 503 and the health service NOT_SERVING for every service; a request in flight is still answered', async () => {
    let stopping = false;
    let entered = false;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const { grpc, base } = await start({
      stopping: () => stopping,
      routes: [
        async (_req, res, url) => {
          if (url.pathname !== '/test/slow') return false;
          entered = true;
          await released;
          sendJson(res, 200, { answered: true });
          return true;
        },
      ],
    });
    const SERVING = health.HealthCheckResponse_ServingStatus.SERVING;
    const NOT_SERVING = health.HealthCheckResponse_ServingStatus.NOT_SERVING;
    grpc.setServing('', true);
    grpc.setServing('orders.OrderService', true);
    const client = new health.HealthClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    const check = (service: string): Promise<number> =>
      new Promise((resolve, reject) => client.check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status))));
    const watched: number[] = [];
    const watch = client.watch({ service: 'orders.OrderService' });
    cleanup.push(() => watch.cancel());
    watch.on('data', (m: health.HealthCheckResponse) => watched.push(m.status));
    watch.on('error', () => undefined);
    await waitUntil(() => watched.length === 1);
    expect(await check('orders.OrderService')).toBe(SERVING);
    const before = await request(`${base}/healthz`);
    expect(before.statusCode).toBe(200);
    await before.body.dump();

    const inFlight = request(`${base}/test/slow`);
    await waitUntil(() => entered);
    stopping = true;
    grpc.drain();
    // The engine's periodic republication must not turn a draining engine back to SERVING.
    grpc.setServing('', true);
    grpc.setServing('orders.OrderService', true);

    const during = await request(`${base}/healthz`);
    expect(during.statusCode).toBe(503);
    expect(((await during.body.json()) as { status: string }).status).toBe('stopping');
    const refused = await request(`${base}/api/go/risk/state`);
    expect(refused.statusCode).toBe(503);
    expect(((await refused.body.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
    expect(await check('')).toBe(NOT_SERVING);
    expect(await check('orders.OrderService')).toBe(NOT_SERVING);
    expect(await check('risk.RiskService')).toBe(NOT_SERVING);
    await waitUntil(() => watched.length === 2);
    expect(watched).toEqual([SERVING, NOT_SERVING]);

    release();
    const answered = await inFlight;
    expect(answered.statusCode).toBe(200);
    expect(await answered.body.json()).toEqual({ answered: true });
  });

  it('an int64 beyond 2^53 - 1 on gRPC is INVALID_ARGUMENT naming the field (not INTERNAL), for every request that has one', async () => {
    const { grpc } = await start();
    const raw = new Client(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => raw.close());
    const huge = '9007199254740993';
    /** `base` encoded, then the field's varint appended: the last value of a field wins on the wire. */
    const withInt64 = (base: Uint8Array, fieldNo: number, value: string): Buffer =>
      Buffer.concat([base, new BinaryWriter().tag(fieldNo, WireType.Varint).int64(value).finish()]);
    const order = orders.OrderRequest.encode(orders.OrderRequest.fromPartial({ symbol: 'MNQ', side: 'BUY', quantity: 1, strategyName: 's' })).finish();
    const batch = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(order).tag(1, WireType.LengthDelimited).bytes(withInt64(order, 9, huge)).finish();
    const cases: Array<[string, Buffer, string]> = [
      ['/orders.OrderService/PlaceOrder', withInt64(order, 9, huge), 'account_id'],
      ['/orders.OrderService/PlaceOrder', withInt64(order, 9, '-9007199254740993'), 'account_id'],
      ['/orders.OrderService/PlaceBatch', Buffer.from(batch), 'orders[1].account_id'],
      ['/orders.OrderService/ClosePosition', withInt64(new Uint8Array(), 2, huge), 'account_id'],
      ['/orders.OrderService/FlattenAll', withInt64(new Uint8Array(), 1, huge), 'account_id'],
      ['/risk.RiskService/GetRiskState', withInt64(new Uint8Array(), 1, huge), 'account_id'],
      ['/risk.RiskService/Halt', withInt64(new Uint8Array(), 1, huge), 'account_id'],
      ['/risk.RiskService/Resume', withInt64(new Uint8Array(), 1, huge), 'account_id'],
    ];
    for (const [path, body, field] of cases) {
      const err = await new Promise<ServiceError | null>((resolve) =>
        raw.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, new Metadata(), { deadline: Date.now() + 10_000 }, (e) => resolve(e)),
      );
      expect({ path, code: err?.code }).toEqual({ path, code: GrpcStatus.INVALID_ARGUMENT });
      expect(err?.details).toMatch(new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: out of range`));
      expect(err?.metadata.get('field')).toEqual([field]);
    }
    for (const [path, body] of [
      ['/orders.OrderService/StreamOrderUpdates', withInt64(new Uint8Array(), 2, huge)],
      ['/risk.RiskService/StreamRiskEvents', withInt64(new Uint8Array(), 1, huge)],
    ] as const) {
      const stream = raw.makeServerStreamRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, new Metadata(), { deadline: Date.now() + 10_000 });
      const err = await new Promise<ServiceError | undefined>((resolve) => {
        stream.on('error', (e: ServiceError) => resolve(e));
        stream.on('end', () => resolve(undefined));
        stream.on('data', () => undefined);
      });
      expect({ path, code: err?.code }).toEqual({ path, code: GrpcStatus.INVALID_ARGUMENT });
      expect(err?.metadata.get('field')).toEqual(['account_id']);
    }
    // The largest exact value is decoded as usual (then refused as an unknown account, not as undecodable).
    const max = await new Promise<ServiceError | null>((resolve) =>
      raw.makeUnaryRequest('/risk.RiskService/GetRiskState', (b: Buffer) => b, (b: Buffer) => b, withInt64(new Uint8Array(), 1, '9007199254740991'), new Metadata(), {}, (e) => resolve(e)),
    );
    expect(max?.code).toBe(GrpcStatus.NOT_FOUND);
  });

  it('REST takes 64-bit and other numbers as strings (proto3 JSON) and refuses a non-numeric or out-of-range one naming the field', async () => {
    const { base, supervisor, ordersModule } = await start();
    await waitUntil(() => ordersModule.isReady!());
    const post = async (path: string, body: unknown): Promise<{ status: number; body: { error?: { field?: string; code?: string; message?: string } } }> => {
      // A string is sent as it is: JSON text with an integer a JS number cannot hold.
      const res = await request(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: res.statusCode, body: (await res.body.json()) as { error?: { field?: string; code?: string } } };
    };
    const halt = await post('/api/go/risk/halt', { account_id: '1001', reason: 'test' });
    expect(halt.status).toBe(200);
    expect(supervisor.requests.filter(([m]) => m === 'halt')).toEqual([['halt', { accountId: 1001, reason: 'test', flatten: false }]]);
    const resume = await post('/api/go/risk/resume', { accountId: '1001' });
    expect(resume.status).toBe(200);
    const state = await request(`${base}/api/go/risk/state?accountId=1001`);
    expect(state.statusCode).toBe(200);
    await state.body.dump();

    // Past parsing and validation onto the order book, whatever the stand-in executor then answers.
    const placed = await post('/api/go/orders/place', { symbol: 'MNQ', side: 'BUY', quantity: '2', strategy_name: 's', account_id: '1001', price: '0', client_order_id: 'str-1' });
    expect(placed.body.error?.code).not.toBe('INVALID_ARGUMENT');
    expect(ordersModule.service.book.byClientOrderId(1001, 'str-1')).toMatchObject({ accountId: 1001, quantity: 2 });
    const batch = await post('/api/go/orders/batch', { orders: [{ symbol: 'MNQ', side: 'BUY', quantity: '3', strategy_name: 's', accountId: '1001', clientOrderId: 'str-2' }], max_concurrency: '2' });
    expect(batch.status).toBe(200);
    expect(ordersModule.service.book.byClientOrderId(1001, 'str-2')).toMatchObject({ accountId: 1001, quantity: 3 });

    const refusals: Array<[string, unknown, string]> = [
      ['/api/go/orders/place', { symbol: 'MNQ', side: 'BUY', quantity: 1, strategy_name: 's', account_id: '9007199254740993' }, 'account_id'],
      ['/api/go/orders/place', '{"symbol":"MNQ","side":"BUY","quantity":1,"strategy_name":"s","account_id":9007199254740993}', 'account_id'],
      ['/api/go/orders/place', { symbol: 'MNQ', side: 'BUY', quantity: 'one', strategy_name: 's' }, 'quantity'],
      ['/api/go/orders/batch', { orders: [{ symbol: 'MNQ', side: 'BUY', quantity: 1, strategy_name: 's' }, { symbol: 'MNQ', side: 'BUY', quantity: 1, strategy_name: 's', accountId: 'x1' }] }, 'orders[1].accountId'],
      ['/api/go/orders/batch', { orders: [{ symbol: 'MNQ', side: 'BUY', quantity: 1, strategy_name: 's' }], max_concurrency: '2.5' }, 'max_concurrency'],
      ['/api/go/risk/halt', { account_id: 'abc' }, 'account_id'],
      ['/api/go/risk/halt', { accountId: '9007199254740993' }, 'accountId'],
      ['/api/go/risk/halt', '{"account_id":9007199254740993}', 'account_id'],
      ['/api/go/risk/resume', { account_id: '1e400' }, 'account_id'],
    ];
    for (const [path, body, field] of refusals) {
      const r = await post(path, body);
      expect({ path, body, status: r.status, field: r.body.error?.field }).toEqual({ path, body, status: 400, field });
    }
    for (const [path, field] of [
      ['/api/go/risk/state?accountId=0x10', 'accountId'],
      ['/api/go/risk/state?accountId=9007199254740993', 'accountId'],
      ['/api/go/market/bars?symbol=MNQ&timeframe=1m&limit=0x10', 'limit'],
      // A misspelt or doubled query key is refused, not ignored (the default would answer another question).
      ['/api/go/market/bars?symbol=MNQ&timeframe=1m&limt=5', 'limt'],
      ['/api/go/market/bars?symbol=MNQ&timeframe=1m&include_open=true&includeOpen=false', 'includeOpen'],
    ] as const) {
      const res = await request(`${base}${path}`);
      expect({ path, status: res.statusCode, field: ((await res.body.json()) as { error?: { field?: string } }).error?.field }).toEqual({ path, status: 400, field });
    }
    expect(supervisor.requests.filter(([m]) => m === 'halt' || m === 'resume')).toHaveLength(2);
  });

  it('StreamBars: a subscriber that never reads is ended RESOURCE_EXHAUSTED once, past the soft bound, it has taken nothing for the stall period', async () => {
    const { grpc, supervisor } = await start();
    const client = new marketData.MarketDataServiceClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    const stream = client.streamBars(marketData.StreamBarsRequest.fromPartial({ symbols: ['MNQ'], timeframes: ['1m'] }));
    let n = 0;
    const feed = (): void => {
      const i = n++;
      const bar = marketData.Bar.fromPartial({ contractId: CONTRACT, timeframe: '1m', startTimeMs: i * 60_000, open: 1, high: 1, low: 1, close: 1, volume: 1, closed: true });
      supervisor.emit('event', 'market-data', 'bar', { bar, sequence: i });
    };
    // Past the soft bound, then a bar now and then until the stream is over: its end releases the subscription.
    const r = await neverRead(stream, feed, 2 * STREAM_MAX_UNREAD, 1, () => supervisor.requests.some(([m]) => m === 'unsubscribeBars'));
    expect(r.outcome).not.toBe('still open');
    expect((r.outcome as ServiceError).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect((r.outcome as ServiceError).details).toMatch(/^slow consumer: \d+ closed bars queued unread and none taken for \d+ ms; subscribe again and read the missed bars back with GetBars$/);
    expect(r.received).toBeLessThan(n);
  }, 120_000);

  it('StreamRiskEvents: a subscriber that never reads is ended RESOURCE_EXHAUSTED by the hard cap at the latest', async () => {
    const { grpc, supervisor } = await start();
    const client = new risk.RiskServiceClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    const stream = client.streamRiskEvents(risk.StreamRiskEventsRequest.fromPartial({}));
    let n = 0;
    const feed = (): void => {
      n += 1;
      supervisor.emit('event', 'risk-manager', 'risk.event', { type: 'POSITION_CHANGED', accountId: 1001, from: 'ACTIVE', to: 'ACTIVE', reason: 'NONE', atMs: n, message: 'position' });
    };
    // More than the hard cap: it ends the stream, or the stall period if feeding outlasts it on a loaded machine.
    const r = await neverRead(stream, feed, STREAM_HARD_MAX_UNREAD + 2 * STREAM_MAX_UNREAD, 16);
    expect(r.outcome).not.toBe('still open');
    expect((r.outcome as ServiceError).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect((r.outcome as ServiceError).details).toMatch(/^slow consumer: \d+ risk events queued unread .*; subscribe again and read the current state with GetRiskState$/);
    expect(r.received).toBeLessThan(n);
  }, 120_000);

  it('StreamRiskEvents: a subscriber that reads gets every one of more events than the bound, and stays open', async () => {
    const { grpc, supervisor } = await start();
    const client = new risk.RiskServiceClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    const stream = client.streamRiskEvents(risk.StreamRiskEventsRequest.fromPartial({}));
    cleanup.push(() => stream.cancel());
    let ended: unknown;
    stream.on('error', (e) => (ended = e));
    stream.on('end', () => (ended = 'end'));
    const sequences: number[] = [];
    stream.on('data', (e: risk.RiskEvent) => sequences.push(e.sequence));
    let n = 0;
    const feed = (): void => {
      n += 1;
      supervisor.emit('event', 'risk-manager', 'risk.event', { type: 'POSITION_CHANGED', accountId: 1001, from: 'ACTIVE', to: 'ACTIVE', reason: 'NONE', atMs: n, message: 'position' });
    };
    await waitUntil(() => {
      feed();
      return sequences.length > 0;
    });
    await feedPaced(feed, 3 * STREAM_MAX_UNREAD, 1);
    // The module numbers every event it relays (the n-th fed is sequence n): every one from the first is received.
    await waitUntil(() => sequences[sequences.length - 1] === n || ended !== undefined, 30_000);
    expect(ended).toBeUndefined();
    expect(sequences.length).toBe(n - sequences[0]! + 1);
    expect(sequences.length).toBeGreaterThan(3 * STREAM_MAX_UNREAD);
  });

  it('GET /api/go/risk/events: a client that never reads is sent a RESOURCE_EXHAUSTED error event and the end, by the hard cap at the latest', async () => {
    const { httpPort, supervisor } = await start();
    const socket = connect(httpPort, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    let text = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.write('GET /api/go/risk/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // Only the response head and its opening comment are read: from here on, nothing is.
    await waitUntil(() => text.includes(': risk events'));
    socket.pause();
    // Past the hard cap and what the kernel's socket buffers take from a client that does not read (less than the 22 MB
    // of 60,000 events at ~370 B: a bound of 4,096 ended this stream at that total); a response flushes to its socket
    // at once, so a batch per turn.
    const total = STREAM_HARD_MAX_UNREAD + 60_000;
    let n = 0;
    await feedPaced(() => {
      n += 1;
      supervisor.emit('event', 'risk-manager', 'risk.event', { type: 'POSITION_CHANGED', accountId: 1001, from: 'ACTIVE', to: 'ACTIVE', reason: 'NONE', atMs: n, message: 'position' });
    }, total, 64);
    socket.resume();
    const outcome = await Promise.race([closed.then(() => 'closed' as const), new Promise<'still open'>((r) => setTimeout(() => r('still open'), 60_000))]);
    expect(outcome).toBe('closed');
    const events = text.split('\n').filter((l) => l === 'event: risk').length;
    expect(events).toBeLessThan(total);
    expect(text).toMatch(/event: error\r?\ndata: \{"error":\{"code":"RESOURCE_EXHAUSTED","message":"slow consumer: \d+ risk events queued unread /);
  }, 120_000);
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Feeds `count` messages, `perTurn` per turn of the event loop, as the engine's events arrive: at a pace the
 * transport flushes, a client that reads keeps up and only one that does not falls STREAM_MAX_UNREAD behind. One
 * synchronous burst would count every message as unread (the writes' callbacks come later), and grpc-js flushes a
 * server stream a few messages per turn (one write at a time), so its streams are fed one message per turn.
 */
async function feedPaced(feed: () => void, count: number, perTurn: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    feed();
    if (i % perTurn === perTurn - 1) await new Promise((r) => setImmediate(r));
  }
}

/**
 * A server stream whose client never reads: paused from the start, fed until one message waits in the client's
 * buffer (the server side is subscribed), then fed `more` messages `perTurn` a turn, then (with `until`) one message
 * every few ms until `until` holds (the server ended it); only then read to its end.
 */
async function neverRead(
  stream: ClientReadableStream<unknown>,
  feed: () => void,
  more: number,
  perTurn: number,
  until?: () => boolean,
): Promise<{ outcome: ServiceError | undefined | 'still open'; received: number }> {
  stream.pause();
  // Paused from the start a stream never asks grpc-js for messages: read(0) asks without consuming any.
  stream.read(0);
  const ended = new Promise<ServiceError | undefined>((resolve) => {
    stream.on('error', (e: ServiceError) => resolve(e));
    stream.on('end', () => resolve(undefined));
  });
  await waitUntil(() => {
    feed();
    return stream.readableLength > 0;
  });
  await feedPaced(feed, more, perTurn);
  if (until) {
    await waitUntil(() => {
      feed();
      return until();
    }, 60_000);
  }
  let received = 0;
  stream.on('data', () => (received += 1));
  stream.resume();
  const outcome = await Promise.race([ended, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 60_000))]);
  return { outcome, received };
}
