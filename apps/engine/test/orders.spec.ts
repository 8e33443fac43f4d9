// The orders front door against a real engine (worker threads, the executor pool, the embedded
// simulator child): gRPC through the generated OrderServiceClient and the REST twins through undici.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@gateway/runtime';
import { orders } from '@gateway/proto';
import { startEngine, type RunningEngine } from '../src/engine';
import { silentLogger, tradingHoursEnv, waitFor } from './helpers';
import { call, orderRequest, ordersClient, standInForRiskAndMarks, type OrdersClient } from './orders-helpers';

const ENGINE_URL = new URL('../src/engine.ts', import.meta.url).href;
const DATA_DIR = `tmp/orders-spec-${process.pid}`;

/** The journalled intents (one per order sent). */
function journalLines(): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(DATA_DIR).filter((n) => n.startsWith('journal-'));
  } catch {
    return [];
  }
  // Intents only: outcome lines of earlier orders (fills) may still be appended while a test runs.
  return names.flatMap((n) => readFileSync(join(DATA_DIR, n), 'utf8').split('\n').filter((l) => l.includes('"t":"intent"')));
}

describe('orders front door', () => {
  let engine: RunningEngine;
  let client: OrdersClient;
  let base: string;

  beforeAll(async () => {
    const config = loadConfig({ HTTP_PORT: '0', GRPC_PORT: '0', MARKET_DATA_WS_PORT: '0', DATA_DIR, CONTRACTS: 'MNQ,ES', EXECUTOR_THREADS: '1', ...tradingHoursEnv() });
    engine = await startEngine(config, ENGINE_URL, silentLogger());
    base = `http://127.0.0.1:${engine.httpPort}`;
    await standInForRiskAndMarks(engine.runtime.state, engine.runtime.accounts, engine.runtime.contracts);
    await waitFor(async () => (await request(`${base}/healthz`)).statusCode === 200, 60_000, 'engine ready');
    client = ordersClient(engine.grpcPort);
  }, 240_000);

  afterAll(async () => {
    client?.close();
    await engine?.stop();
  });

  it('places 1 MNQ BUY over gRPC: broker id and custom tag, then FILLED', async () => {
    const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({}));
    if (!r.ok) throw new Error(`placeOrder failed: ${JSON.stringify(r.error)}`);
    expect(r.value.success).toBe(true);
    expect(r.value.brokerOrderId).toBeGreaterThan(0);
    expect(r.value.customTag).toMatch(/^TradingBot-v1\.0-strategy-overnight_range-MARKET-\d+-\d{10}$/);
    expect(r.value.contractId).toMatch(/^CON\.F\.US\.MNQ\./);
    const id = r.value.orderId;
    await waitFor(
      async () => {
        const s = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(client, 'getOrderStatus', { orderId: id });
        return s.ok && s.value.status === 'FILLED';
      },
      30_000,
      'order FILLED',
    );
    const byBroker = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(client, 'getOrderStatus', { orderId: String(r.value.brokerOrderId) });
    expect(byBroker.ok && byBroker.value.orderId).toBe(id);
    expect(byBroker.ok && byBroker.value.filledQuantity).toBe(1);
  }, 60_000);

  it('places over REST with snake_case JSON and reads the status back', async () => {
    const res = await request(`${base}/api/go/orders/place`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'MNQ', side: 'buy', quantity: 1, strategy_name: 'overnight_range', client_order_id: 'rest-1' }),
    });
    const body = (await res.body.json()) as { success: boolean; orderId: string; brokerOrderId: number; customTag: string };
    expect(res.statusCode).toBe(200);
    expect(body.success).toBe(true);
    expect(body.brokerOrderId).toBeGreaterThan(0);
    await waitFor(
      async () => {
        const s = await request(`${base}/api/go/orders/${body.orderId}/status`);
        return ((await s.body.json()) as { status: string }).status === 'FILLED';
      },
      30_000,
      'REST order FILLED',
    );
    const again = await request(`${base}/api/go/orders/place`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'MNQ', side: 'BUY', quantity: 1, strategyName: 'overnight_range', clientOrderId: 'rest-1' }),
    });
    const dup = (await again.body.json()) as { orderId: string; duplicate: boolean; customTag: string };
    expect(again.statusCode).toBe(200);
    expect(dup.duplicate).toBe(true);
    expect(dup.orderId).toBe(body.orderId);
    expect(dup.customTag).toBe(body.customTag);
  }, 60_000);

  const bad: Array<[string, Partial<orders.OrderRequest>, string]> = [
    ['unknown symbol', { symbol: 'XYZ' }, 'symbol'],
    ['side HOLD', { side: 'HOLD' }, 'side'],
    ['quantity 0', { quantity: 0 }, 'quantity'],
    ['quantity -1', { quantity: -1 }, 'quantity'],
    ['NaN price', { orderType: 'LIMIT', price: Number.NaN }, 'price'],
    ['negative price', { orderType: 'LIMIT', price: -5 }, 'price'],
    ['limit without price', { orderType: 'LIMIT' }, 'price'],
    ['stop loss above a buy entry', { orderType: 'LIMIT', price: 21000, stopLoss: 21010 }, 'stop_loss'],
    ['800-character strategy', { strategyName: 'x'.repeat(800) }, 'strategy_name'],
  ];
  for (const [name, partial, field] of bad) {
    it(`refuses ${name} with INVALID_ARGUMENT naming ${field}, journaling nothing`, async () => {
      const before = journalLines().length;
      const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest(partial));
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe(3);
      expect(r.error.details).toContain(`${field}:`);
      expect(r.error.metadata.field).toBe(field);
      expect(journalLines().length).toBe(before);
    });
  }

  it('refuses bad REST input with 400 naming the field: quantity 2^31, malformed JSON; unknown id is 404', async () => {
    const post = (body: string) =>
      request(`${base}/api/go/orders/place`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const big = await post(JSON.stringify({ symbol: 'MNQ', side: 'BUY', quantity: 2 ** 31, strategy_name: 's' }));
    expect(big.statusCode).toBe(400);
    expect(((await big.body.json()) as { error: { field: string } }).error.field).toBe('quantity');
    const malformed = await post('{"symbol": "MNQ",');
    expect(malformed.statusCode).toBe(400);
    expect(((await malformed.body.json()) as { error: { message: string } }).error.message).toMatch(/^body: malformed JSON/);
    const unknown = await request(`${base}/api/go/orders/nope-123/status`);
    expect(unknown.statusCode).toBe(404);
    expect(((await unknown.body.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const g = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(client, 'getOrderStatus', { orderId: 'nope-123' });
    expect(!g.ok && g.error.code).toBe(5);
  });

  it('answers a reused client order id with different parameters ALREADY_EXISTS, the same one as a duplicate', async () => {
    const first = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'dup-1' }));
    expect(first.ok).toBe(true);
    const same = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'dup-1' }));
    expect(same.ok && same.value.duplicate).toBe(true);
    expect(same.ok && first.ok && same.value.orderId === first.value.orderId).toBe(true);
    const other = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'dup-1', quantity: 2 }));
    expect(!other.ok && other.error.code).toBe(6);
  });

  it('PlaceBatch answers in request order; all_or_none sends nothing when one order is bad', async () => {
    const reqs = [orderRequest({ clientOrderId: 'b-0' }), orderRequest({ side: 'SELL', clientOrderId: 'b-1' }), orderRequest({ symbol: 'ES', clientOrderId: 'b-2' })];
    const r = await call<orders.BatchOrderRequest, orders.BatchOrderResponse>(client, 'placeBatch', { orders: reqs, maxConcurrency: 2, allOrNone: false });
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.results.map((x) => x.clientOrderId)).toEqual(['b-0', 'b-1', 'b-2']);
    expect(r.value.succeeded).toBe(3);
    expect(r.value.results[2]!.contractId).toMatch(/^CON\.F\.US\.EP\./);

    const before = journalLines().length;
    const aon = await call<orders.BatchOrderRequest, orders.BatchOrderResponse>(client, 'placeBatch', {
      orders: [orderRequest({ clientOrderId: 'a-0' }), orderRequest({ side: 'HOLD', clientOrderId: 'a-1' })],
      maxConcurrency: 0,
      allOrNone: true,
    });
    if (!aon.ok) throw new Error(JSON.stringify(aon.error));
    expect(aon.value.succeeded).toBe(0);
    expect(aon.value.failed).toBe(2);
    expect(aon.value.results[1]!.message).toContain('side:');
    expect(aon.value.results[0]!.reasonCode).toBe('INVALID_ARGUMENT');
    expect(journalLines().length).toBe(before);
    expect(journalLines().some((l) => l.includes('"clientOrderId":"a-0"'))).toBe(false);
  }, 60_000);

  it('PlaceBatch journals every intent of the batch in one commit before its first order is sent', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `j-${i}`);
    const reqs = ids.map((id, i) => orderRequest({ side: i % 2 === 0 ? 'BUY' : 'SELL', clientOrderId: id }));
    // Refused by the gate after its intent is on disk (ES is never short here): it gets a not-sent outcome line.
    reqs.push(orderRequest({ symbol: 'ES', side: 'BUY', reduceOnly: true, clientOrderId: 'j-denied' }));
    const r = await call<orders.BatchOrderRequest, orders.BatchOrderResponse>(client, 'placeBatch', { orders: reqs, maxConcurrency: 2, allOrNone: false });
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.succeeded).toBe(12);
    expect(r.value.results[12]!.reasonCode).toBe('REDUCE_ONLY');

    const files = readdirSync(DATA_DIR).filter((n) => /^journal-.+\.jsonl$/.test(n));
    const records = files.map((n) =>
      readFileSync(join(DATA_DIR, n), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { t: string; orderId: string; clientOrderId?: string; outcome?: string; reasonCode?: string }),
    );
    const file = records.find((recs) => recs.some((x) => x.t === 'intent' && x.clientOrderId === 'j-0'))!;
    const intentAt = new Map<string, number>();
    file.forEach((x, i) => {
      if (x.t === 'intent' && x.clientOrderId?.startsWith('j-')) intentAt.set(x.orderId, i);
    });
    expect(intentAt.size).toBe(13);
    // With a window of 2, a per-order commit would put outcomes of the first orders before later intents.
    const firstOutcome = file.findIndex((x) => x.t === 'outcome' && intentAt.has(x.orderId));
    expect(firstOutcome).toBeGreaterThan(Math.max(...intentAt.values()));
    const deniedId = r.value.results[12]!.orderId;
    expect(records.flat().filter((x) => x.t === 'outcome' && x.orderId === deniedId)).toEqual([expect.objectContaining({ outcome: 'not-sent', reasonCode: 'REDUCE_ONLY' })]);
  }, 60_000);

  it('streams the status changes of one strategy, in order, up to FILLED', async () => {
    const updates: orders.OrderUpdate[] = [];
    const stream = client.streamOrderUpdates({ strategyName: 'stream_test', accountId: 0 });
    stream.on('data', (u: orders.OrderUpdate) => updates.push(u));
    stream.on('error', () => undefined);
    // The stream is registered on the server before the order goes in: one other order proves it.
    await new Promise((r) => setTimeout(r, 200));
    const other = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ strategyName: 'not_streamed' }));
    expect(other.ok).toBe(true);
    const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ strategyName: 'stream_test' }));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    await waitFor(() => updates.some((u) => u.orderId === r.value.orderId && u.status === 'FILLED'), 30_000, 'FILLED on the stream');
    stream.cancel();
    expect(updates.every((u) => u.strategyName === 'stream_test')).toBe(true);
    const mine = updates.filter((u) => u.orderId === r.value.orderId);
    const seqs = mine.map((u) => u.sequence);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    expect(mine.at(-1)!.status).toBe('FILLED');
  }, 60_000);

  it('PlaceBatch over REST takes snake_case and camelCase fields and answers in order', async () => {
    const res = await request(`${base}/api/go/orders/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        max_concurrency: 2,
        orders: [
          { symbol: 'MNQ', side: 'SELL', quantity: 1, strategy_name: 'rest_batch', client_order_id: 'rb-0' },
          { symbol: 'MNQ', side: 'HOLD', quantity: 1, strategyName: 'rest_batch', clientOrderId: 'rb-1' },
        ],
      }),
    });
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { results: Array<{ success: boolean; clientOrderId: string; reasonCode?: string; message?: string }>; succeeded: number; failed: number };
    expect(body.results.map((r) => r.clientOrderId)).toEqual(['rb-0', 'rb-1']);
    expect(body.results[0]!.success).toBe(true);
    expect(body.results[1]!.reasonCode).toBe('INVALID_ARGUMENT');
    expect(body.results[1]!.message).toMatch(/^side:/);
    expect([body.succeeded, body.failed]).toEqual([1, 1]);
  });

  it('modifies and cancels a working limit order; ClosePosition sweeps the contract; FlattenAll leaves the account flat', async () => {
    const mnq = engine.runtime.contracts.find((c) => c.root === 'MNQ')!;
    const mark = engine.runtime.state.marks.read(mnq.slot, { last: 0, bid: 0, ask: 0, lastTradeMs: 0, updatedMs: 0 });
    const low = (Math.round((mark.last * 0.9) / mnq.tickSizeUnits) * mnq.tickSizeUnits) / 1e9;
    const status = async (id: string) => {
      const s = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(client, 'getOrderStatus', { orderId: id });
      return s.ok ? s.value.status : 'ERROR';
    };
    const limit = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ orderType: 'LIMIT', price: low }));
    if (!limit.ok) throw new Error(JSON.stringify(limit.error));
    expect(limit.value.status).toBe('WORKING');
    const mod = await call<orders.ModifyOrderRequest, orders.ModifyOrderResponse>(client, 'modifyOrder', { orderId: limit.value.orderId, price: low - 1 });
    expect(mod.ok && mod.value.success).toBe(true);
    const offGrid = await call<orders.ModifyOrderRequest, orders.ModifyOrderResponse>(client, 'modifyOrder', { orderId: limit.value.orderId, price: low + 0.1 });
    expect(!offGrid.ok && offGrid.error.code).toBe(3);
    const cancel = await call<orders.CancelOrderRequest, orders.CancelOrderResponse>(client, 'cancelOrder', { orderId: limit.value.orderId });
    expect(cancel.ok && cancel.value.success).toBe(true);
    await waitFor(async () => (await status(limit.value.orderId)) === 'CANCELLED', 30_000, 'CANCELLED');
    const again = await call<orders.CancelOrderRequest, orders.CancelOrderResponse>(client, 'cancelOrder', { orderId: limit.value.orderId });
    expect(again.ok && again.value.success).toBe(false);
    expect(again.ok && again.value.orderStatus).toBe(orders.OrderStatus.CANCELLED);

    const buy = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({}));
    expect(buy.ok).toBe(true);
    const resting = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ orderType: 'LIMIT', price: low }));
    if (!resting.ok) throw new Error(JSON.stringify(resting.error));
    // Wait until the position is visible at the broker (the fill of the market buy).
    let closed: orders.ClosePositionResponse | undefined;
    await waitFor(
      async () => {
        const r = await call<orders.ClosePositionRequest, orders.ClosePositionResponse>(client, 'closePosition', { symbol: 'MNQ', accountId: 0, quantity: 0, strategyName: 'overnight_range', clientRequestId: '' });
        if (r.ok) closed = r.value;
        return closed !== undefined;
      },
      30_000,
      'ClosePosition',
    );
    expect(closed!.success).toBe(true);
    expect(closed!.closedQuantity).toBeGreaterThan(0);
    expect(closed!.cancelledOrders).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await status(resting.value.orderId)) === 'CANCELLED', 30_000, 'swept order CANCELLED');

    const flat = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(client, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' });
    expect(flat.ok && flat.value.success).toBe(true);
    expect(flat.ok && flat.value.failedContracts).toEqual([]);
    await waitFor(
      async () => {
        const r = await call<orders.ClosePositionRequest, orders.ClosePositionResponse>(client, 'closePosition', { symbol: 'ES', accountId: 0, quantity: 0, strategyName: '', clientRequestId: '' });
        return !r.ok && r.error.code === 5;
      },
      30_000,
      'no ES position left',
    );
  }, 120_000);

  it('keeps serving after refused input: a last order still goes through', async () => {
    const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ side: 'SELL' }));
    expect(r.ok && r.value.success).toBe(true);
  });
});
