// Back-pressure, deadlines and the restart replay of the order journal, against an in-process engine
// with one executor thread and a queue of one (its embedded simulator slowed down through /admin/faults).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type EngineConfig } from '@gateway/runtime';
import { parseCustomTag } from '@gateway/orders';
import { orders } from '@gateway/proto';
import { startEngine, type RunningEngine } from '../src/engine';
import { silentLogger, tradingHoursEnv, waitFor } from './helpers';
import { call, orderRequest, ordersClient, standInForRiskAndMarks, type OrdersClient } from './orders-helpers';

const ENGINE_URL = new URL('../src/engine.ts', import.meta.url).href;
const DATA_DIR = `tmp/orders-limits-${process.pid}`;

function intentsOf(clientOrderId: string): Array<{ orderId: string; customTag: string }> {
  const out: Array<{ orderId: string; customTag: string }> = [];
  for (const n of readdirSync(DATA_DIR).filter((x) => /^journal-.+\.jsonl$/.test(x))) {
    for (const line of readFileSync(join(DATA_DIR, n), 'utf8').split('\n')) {
      if (line.includes('"t":"intent"') && line.includes(`"clientOrderId":${JSON.stringify(clientOrderId)}`)) out.push(JSON.parse(line));
    }
  }
  return out;
}

async function start(config: EngineConfig): Promise<{ engine: RunningEngine; client: OrdersClient; base: string }> {
  const engine = await startEngine(config, ENGINE_URL, silentLogger());
  const base = `http://127.0.0.1:${engine.httpPort}`;
  await standInForRiskAndMarks(engine.runtime.state, engine.runtime.accounts, engine.runtime.contracts);
  await waitFor(async () => (await request(`${base}/healthz`)).statusCode === 200, 60_000, 'engine ready');
  return { engine, client: ordersClient(engine.grpcPort), base };
}

async function faults(engine: RunningEngine, body: unknown): Promise<void> {
  const res = await request(`${engine.runtime.broker.apiUrl}/admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

describe('orders: back-pressure, deadlines, restart replay', () => {
  rmSync(DATA_DIR, { recursive: true, force: true });
  const config = loadConfig({
    HTTP_PORT: '0',
    GRPC_PORT: '0',
    MARKET_DATA_WS_PORT: '0',
    DATA_DIR,
    CONTRACTS: 'MNQ',
    EXECUTOR_THREADS: '1',
    EXECUTOR_MAX_QUEUE: '1',
    BROKER_RATE_LIMIT: 'off',
    SIM_RATE_LIMITS: 'off',
    RISK_MAX_POSITION: '1000',
    RISK_MAX_OPEN_ORDERS: '10000',
    RISK_MAX_ORDERS_PER_MINUTE: '0',
    ...tradingHoursEnv(),
  });
  let running: Awaited<ReturnType<typeof start>> | undefined;

  beforeAll(async () => {
    running = await start(config);
  }, 240_000);

  afterAll(async () => {
    running?.client.close();
    await running?.engine.stop();
  });

  it('answers RESOURCE_EXHAUSTED when the executor queue is full, and keeps serving', async () => {
    const { engine, client } = running!;
    await faults(engine, { latencyByEndpoint: { 'Order/place': 1500 } });
    try {
      const results = await Promise.all(
        Array.from({ length: 90 }, (_, i) => call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ side: i % 2 ? 'SELL' : 'BUY' }), 60_000)),
      );
      const exhausted = results.filter((r) => !r.ok && r.error.code === 8);
      expect(exhausted.length).toBeGreaterThan(0);
      for (const r of results) if (!r.ok) expect([8, 9]).toContain(r.error.code);
      expect(results.some((r) => r.ok && r.value.success)).toBe(true);
    } finally {
      await faults(engine, { reset: true });
    }
    const after = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({}));
    expect(after.ok && after.value.success).toBe(true);
  }, 120_000);

  it('sends nothing when the deadline passes first; the same client order id then places once', async () => {
    const { client } = running!;
    const late = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'deadline-1' }), 1);
    expect(!late.ok && late.error.code).toBe(4);
    let placed: orders.OrderResponse | undefined;
    await waitFor(
      async () => {
        const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'deadline-1' }));
        if (r.ok && r.value.success && !r.value.duplicate) placed = r.value;
        return placed !== undefined;
      },
      30_000,
      'the retry to be placed',
    );
    expect(placed!.brokerOrderId).toBeGreaterThan(0);
    expect(intentsOf('deadline-1').length).toBe(1);
  }, 60_000);

  it('answers UNKNOWN with the order id when the answer is lost, then resolves the order by its custom tag', async () => {
    const { engine, client } = running!;
    // The user hub's events of the order are lost too: had they come, PlaceOrder would answer the order as they show
    // it (the orderings spec, "an Order/place answer that comes after the executor gave up on it"). Only the search by
    // custom tag can resolve it here.
    await faults(engine, { placeTimeouts: 1, placeTimeoutMode: 'reset', userEventsDropped: 1_000 });
    const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'lost-1' }));
    await faults(engine, { userEventsDropped: 0 });
    expect(!r.ok && r.error.code).toBe(2);
    const orderId = !r.ok ? r.error.metadata['order-id'] : undefined;
    expect(orderId).toBeTruthy();
    await waitFor(
      async () => {
        const s = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(client, 'getOrderStatus', { orderId: orderId! });
        return s.ok && s.value.status === 'FILLED' && s.value.brokerOrderId > 0;
      },
      60_000,
      'the lost order resolved by tag',
    );
    // Never resent: one intent, and the repeat of the client order id is the same order.
    expect(intentsOf('lost-1').length).toBe(1);
    const again = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'lost-1' }));
    expect(again.ok && again.value.duplicate && again.value.orderId).toBe(orderId);
  }, 90_000);

  it('a risk denial is FAILED_PRECONDITION with its reason code, journals nothing, and the client order id stays free', async () => {
    const { engine, client } = running!;
    const accountId = engine.runtime.accounts[0]!.accountId;
    await engine.supervisor.request('risk-manager', 'halt', { accountId, reason: 'test' });
    try {
      await waitFor(async () => {
        const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'halted-1' }));
        return !r.ok && r.error.code === 9 && r.error.metadata['reason-code'] === 'HALTED' && r.error.details.startsWith('HALTED');
      }, 30_000, 'HALTED denial');
      expect(intentsOf('halted-1').length).toBe(0);
    } finally {
      await engine.supervisor.request('risk-manager', 'resume', { accountId, reason: 'test' });
    }
    let placed: orders.OrderResponse | undefined;
    await waitFor(async () => {
      const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'halted-1' }));
      if (r.ok && r.value.success) placed = r.value;
      return placed !== undefined;
    }, 30_000, 'placed after resume');
    expect(placed!.duplicate).toBe(false);
    expect(intentsOf('halted-1').length).toBe(1);
  }, 90_000);

  it('replays the journal after a restart: a repeated client order id returns the first order and places nothing', async () => {
    const first = await call<orders.OrderRequest, orders.OrderResponse>(running!.client, 'placeOrder', orderRequest({ clientOrderId: 'restart-1' }));
    if (!first.ok) throw new Error(JSON.stringify(first.error));
    const firstCounter = parseCustomTag(first.value.customTag)!.counter;
    running!.client.close();
    await running!.engine.stop();
    running = undefined;

    running = await start(config);
    const { client, engine } = running;
    const again = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'restart-1' }));
    if (!again.ok) throw new Error(JSON.stringify(again.error));
    expect(again.value.duplicate).toBe(true);
    expect(again.value.orderId).toBe(first.value.orderId);
    expect(again.value.customTag).toBe(first.value.customTag);
    expect(again.value.brokerOrderId).toBe(first.value.brokerOrderId);
    expect(intentsOf('restart-1').length).toBe(1);
    // The new run's simulator never saw it, and a new order's tag counter continues above the journal's.
    const res = await request(`${engine.runtime.broker.apiUrl}/admin/orders?accountId=${engine.runtime.accounts[0]!.accountId}`);
    const simOrders = ((await res.body.json()) as { orders: Array<{ customTag?: string }> }).orders;
    expect(Array.isArray(simOrders)).toBe(true);
    expect(simOrders.some((o) => o.customTag === first.value.customTag)).toBe(false);
    const next = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({}));
    expect(next.ok && parseCustomTag(next.value.customTag)!.counter).toBeGreaterThan(firstCounter);
    const status = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(client, 'getOrderStatus', { orderId: first.value.orderId });
    expect(status.ok && status.value.clientOrderId).toBe('restart-1');
  }, 180_000);
});
