// The REST twins of the orders service (place, batch, modify, close, flatten, status) as curl makes them: the real
// HTTP front door (port 0) with the orders module, real order-executor threads, the gRPC front door beside it, and
// the simulator in this process. What a test checks is the simulator's own positions and orders, and what the order
// book answers. The risk-manager is stood in for (an ACTIVE account and fresh marks in shared memory; its user-hub
// relay only where a test wires the simulator's order events to it).
import type { AddressInfo } from 'node:net';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orders } from '@gateway/proto';
import type { Simulator } from '@gateway/topstepx-sim';
import { createHttpFrontDoor } from '../http-server';
import { buildOpenApi } from '../module';
import { freshDataDir, startOrdersHarness, TEST_ACCOUNT as ACCOUNT, waitFor, type OrdersHarness, type WorkingOrder } from '../testing';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Record<string, unknown> & { error?: { code?: string; field?: string; message?: string } };
}

describe('REST twins of ModifyOrder, ClosePosition and FlattenAll against the simulator', () => {
  let h: OrdersHarness | undefined;
  let sim: Simulator;
  let base = '';
  let mnq = '';
  const halts: unknown[] = [];
  const cleanup: Array<() => unknown> = [];

  beforeAll(async () => {
    h = await startOrdersHarness({
      dataDir: freshDataDir(`orders-rest-${process.pid}`),
      removeDataDir: true,
      seed: 12,
      grpc: true,
      // FlattenAll with halt asks the risk-manager; the stand-in records the request.
      supervisorRequest: async (_app, method, params) => {
        if (method === 'halt') halts.push(params);
        return {};
      },
    });
    sim = h.sim;
    mnq = h.contractId;
    const module = h.module!;
    const http = createHttpFrontDoor({
      health: () => ({}),
      mainRegistry: h.deps.registry,
      collectThreadMetrics: async () => [],
      modules: [module],
      openapi: buildOpenApi([module], 'test'),
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => {
      http.close(r);
      http.closeAllConnections();
    }));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  }, 120_000);

  afterEach(async () => {
    // Each test starts flat with no working orders (the simulator and the account are shared).
    await h!.flattenIfNeeded();
  }, 60_000);

  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    await h?.close();
  }, 60_000);

  /** `curl -X <method> -H 'content-type: application/json' -d <body>`: a string body is sent as it is. */
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
    const res = await request(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Answer['body'] };
  }

  /** The simulator's MNQ position of the account, signed (long > 0). */
  const position = (): number => h!.position();
  const working = (): WorkingOrder[] => h!.working();

  async function openLong(quantity: number, clientOrderId: string): Promise<void> {
    const before = position();
    const placed = await call('POST', '/api/go/orders/place', { symbol: 'MNQ', side: 'BUY', quantity, strategy_name: 'rest', client_order_id: clientOrderId });
    expect(placed.status).toBe(200);
    await waitFor(() => position() === before + quantity, 30_000, `a long position of ${before + quantity}`);
  }

  async function restingBuy(quantity: number, clientOrderId: string): Promise<{ orderId: string; brokerOrderId: number; price: number }> {
    const price = Math.round(sim.quote(mnq).last - 100);
    const placed = await call('POST', '/api/go/orders/place', { symbol: 'MNQ', side: 'BUY', quantity, order_type: 'LIMIT', price, strategy_name: 'rest', client_order_id: clientOrderId });
    expect(placed.status).toBe(200);
    const orderId = placed.body.orderId as string;
    const brokerOrderId = Number(placed.body.brokerOrderId);
    await waitFor(() => working().some((o) => o.id === brokerOrderId), 30_000, 'the resting order at the broker');
    return { orderId, brokerOrderId, price };
  }

  it('POST /api/go/orders/flatten closes the position and cancels the working orders at the simulator; a retry with its client_request_id replays', async () => {
    const haltsBefore = halts.length;
    await openLong(2, 'flat-open');
    const resting = await restingBuy(1, 'flat-resting');
    const flat = await call('POST', '/api/go/orders/flatten', { account_id: String(ACCOUNT), client_request_id: 'rest-flat-1' });
    expect(flat.status).toBe(200);
    expect(flat.body).toMatchObject({ success: true, message: 'flat', closedPositions: 1, cancelledOrders: 1 });
    await waitFor(() => position() === 0, 30_000, 'the account flat');
    expect(working().some((o) => o.id === resting.brokerOrderId)).toBe(false);
    // The operator's retry after a lost answer: the first answer again, nothing sent.
    const ordersBefore = sim.orders(ACCOUNT).length;
    const again = await call('POST', '/api/go/orders/flatten', { accountId: ACCOUNT, clientRequestId: 'rest-flat-1' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ success: true, closedPositions: 1, duplicate: true });
    expect(sim.orders(ACCOUNT).length).toBe(ordersBefore);
    // The same key with another halt flag is another request: 409, nothing done.
    const other = await call('POST', '/api/go/orders/flatten', { client_request_id: 'rest-flat-1', halt: true });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'ALREADY_EXISTS', field: 'client_request_id' });
    expect(halts.length).toBe(haltsBefore);
  }, 120_000);

  it('POST /api/go/orders/flatten with halt asks the risk-manager to halt the account, then flattens', async () => {
    const haltsBefore = halts.length;
    await openLong(1, 'halt-open');
    const flat = await call('POST', '/api/go/orders/flatten', { halt: true });
    expect(flat.status).toBe(200);
    expect(flat.body).toMatchObject({ success: true, closedPositions: 1 });
    expect(halts.slice(haltsBefore)).toEqual([{ accountId: ACCOUNT, reason: 'FlattenAll' }]);
    await waitFor(() => position() === 0, 30_000, 'the account flat');
  }, 120_000);

  it('POST /api/go/orders/close closes part of a position, then the rest; with none left it is 404 naming symbol', async () => {
    await openLong(3, 'close-open');
    const part = await call('POST', '/api/go/orders/close', { symbol: 'MNQ', quantity: '1', client_request_id: 'rest-close-1' });
    expect(part.status).toBe(200);
    expect(part.body).toMatchObject({ success: true, contractId: mnq, closedQuantity: 1 });
    await waitFor(() => position() === 2, 30_000, 'the position reduced to 2');
    const rest = await call('POST', '/api/go/orders/close', { symbol: mnq, accountId: ACCOUNT });
    expect(rest.status).toBe(200);
    expect(rest.body).toMatchObject({ success: true, contractId: mnq, closedQuantity: 2 });
    await waitFor(() => position() === 0, 30_000, 'the position closed');
    const none = await call('POST', '/api/go/orders/close', { symbol: 'MNQ' });
    expect(none.status).toBe(404);
    expect(none.body.error).toMatchObject({ code: 'NOT_FOUND', field: 'symbol' });
  }, 120_000);

  it('POST /api/go/orders/{id}/modify changes the size and price of a resting order at the simulator; an unknown id is 404', async () => {
    const resting = await restingBuy(2, 'modify-resting');
    const lower = resting.price - 10;
    const modified = await call('POST', `/api/go/orders/${encodeURIComponent(resting.orderId)}/modify`, { quantity: 1, price: String(lower) });
    expect(modified.status).toBe(200);
    expect(modified.body).toMatchObject({ success: true, orderId: resting.orderId });
    await waitFor(() => working().some((o) => o.id === resting.brokerOrderId && o.size === 1 && o.limitPrice === lower), 30_000, 'the modified order at the broker');
    // By the broker's order id too, as every {id} route.
    const byBrokerId = await call('POST', `/api/go/orders/${resting.brokerOrderId}/modify`, { quantity: 2 });
    expect(byBrokerId.status).toBe(200);
    await waitFor(() => working().some((o) => o.id === resting.brokerOrderId && o.size === 2), 30_000, 'the size back to 2');
    const unknown = await call('POST', '/api/go/orders/no-such-order/modify', { quantity: 1 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'NOT_FOUND', field: 'order_id' });
  }, 120_000);

  it('place and batch refuse an unknown field, or one sent in both spellings, with 400 naming it: nothing booked or sent', async () => {
    const order = { symbol: 'MNQ', side: 'SELL', quantity: 1, strategy_name: 't' };
    const stop = Math.round(sim.quote(mnq).last + 30);
    const ordersBefore = sim.orders(ACCOUNT).length;
    const bookBefore = h!.svc.book.size;
    const cases: Array<[string, unknown, string]> = [
      // The order: a misspelt stop_loss must not become an order without its stop.
      ['/api/go/orders/place', { ...order, stoploss: stop }, 'stoploss'],
      ['/api/go/orders/place', { ...order, stop_loss: stop, stopLoss: stop + 40 }, 'stopLoss'],
      ['/api/go/orders/place', { ...order, Stop_Loss: stop }, 'Stop_Loss'],
      ['/api/go/orders/place', { symbol: 'MNQ', side: 'SELL', quantity: 1, strategyName: 't', strategy_Name: 't' }, 'strategy_Name'],
      ['/api/go/orders/place', { ...order, account: ACCOUNT }, 'account'],
      ['/api/go/orders/batch', { orders: [order, order, order, { ...order, stoploss: stop }] }, 'orders[3].stoploss'],
      ['/api/go/orders/batch', { orders: [{ ...order, take_profit: stop, takeProfit: stop }] }, 'orders[0].takeProfit'],
      ['/api/go/orders/batch', { orders: [order, 'MNQ'] }, 'orders[1]'],
      ['/api/go/orders/batch', { orders: [order], maxConcurency: 2 }, 'maxConcurency'],
      ['/api/go/orders/batch', { orders: [order], all_or_none: true, allOrNone: true }, 'allOrNone'],
      ['/api/go/orders/batch', { order: [order] }, 'order'],
      ['/api/go/orders/batch', { orders: order }, 'orders'],
    ];
    for (const [path, body, field] of cases) {
      const r = await call('POST', path, body);
      expect({ path, body, status: r.status, code: r.body.error?.code, field: r.body.error?.field }).toEqual({ path, body, status: 400, code: 'INVALID_ARGUMENT', field });
      expect(r.body.error?.message?.startsWith(`${field}: `)).toBe(true);
    }
    const batchTypo = await call('POST', '/api/go/orders/batch', { orders: [order, order, order, { ...order, stoploss: stop }] });
    expect(batchTypo.body.error?.message).toMatch(/^orders\[3\]\.stoploss: no such field/);
    expect(h!.svc.book.size).toBe(bookBefore);
    expect(sim.orders(ACCOUNT).length).toBe(ordersBefore);
    // Spelt right, the same order goes out with its stop.
    const placed = await call('POST', '/api/go/orders/place', { ...order, stop_loss: stop });
    expect(placed.status).toBe(200);
    expect(placed.body).toMatchObject({ success: true });
    expect(placed.body.stopLossTicks).toBeGreaterThan(0);
  }, 120_000);

  it('GetOrderStatus (REST and gRPC) and StreamOrderUpdates show a modify the broker accepted; a refused modify changes nothing', async () => {
    const updates: orders.OrderUpdate[] = [];
    const stream: ClientReadableStream<orders.OrderUpdate> = h!.client!.streamOrderUpdates(orders.StreamOrderUpdatesRequest.fromPartial({ strategyName: 'rest' }));
    stream.on('data', (u: orders.OrderUpdate) => updates.push(u));
    stream.on('error', () => undefined);
    try {
      const resting = await restingBuy(2, 'status-modify');
      // The stream is live before the modify: it carried the placement.
      await waitFor(() => updates.some((u) => u.orderId === resting.orderId && u.status === 'WORKING'), 30_000, 'the placement on the stream');
      const lower = resting.price - 10;
      const path = `/api/go/orders/${encodeURIComponent(resting.orderId)}/modify`;
      const modified = await call('POST', path, { quantity: 1, price: lower });
      expect(modified.body).toMatchObject({ success: true });
      await waitFor(() => working().some((o) => o.id === resting.brokerOrderId && o.size === 1 && o.limitPrice === lower), 30_000, 'the modified order at the broker');
      // The answer itself updated the book: no user-hub event is relayed in this test.
      const rest = await call('GET', `/api/go/orders/${encodeURIComponent(resting.orderId)}/status`);
      expect(rest.body).toMatchObject({ orderId: resting.orderId, status: 'WORKING', quantity: 1, price: lower });
      const grpc = await new Promise<orders.OrderStatusResponse>((resolve, reject) =>
        h!.client!.getOrderStatus({ orderId: resting.orderId }, (err: ServiceError | null, res?: orders.OrderStatusResponse) => (err ? reject(err) : resolve(res!))),
      );
      expect(grpc).toMatchObject({ orderId: resting.orderId, status: 'WORKING', quantity: 1, price: lower });
      await waitFor(() => updates.some((u) => u.orderId === resting.orderId && u.quantity === 1), 30_000, 'the new size on the stream');

      // Refused by the broker (a stop price on a limit order): the book stays as it was.
      const seen = updates.length;
      const refused = await call('POST', path, { quantity: 2, stop_price: lower - 10 });
      expect(refused.body).toMatchObject({ success: false, reasonCode: 'BROKER_REJECTED' });
      const after = await call('GET', `/api/go/orders/${encodeURIComponent(resting.orderId)}/status`);
      expect(after.body).toEqual(rest.body);
      expect(working().find((o) => o.id === resting.brokerOrderId)).toMatchObject({ size: 1, limitPrice: lower });
      expect(updates.slice(seen).filter((u) => u.orderId === resting.orderId)).toEqual([]);
    } finally {
      stream.cancel();
    }
  }, 120_000);

  it('an order modified at the broker outside the engine shows in GetOrderStatus from the user hub order event', async () => {
    // The risk-manager's relay of the user hub: every order event of the simulator reaches the orders service.
    const relay = (o: unknown): void => void h!.supervisor.emit('event', 'risk-manager', 'user.order', o);
    sim.on('order', relay);
    try {
      const resting = await restingBuy(2, 'hub-modify');
      const lower = resting.price - 5;
      // As the broker's web page would: Order/modify at the simulator itself, not through the engine.
      const login = await request(`${sim.url}/api/Auth/loginKey`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName: 'demo', apiKey: 'demo-key' }) });
      const { token } = (await login.body.json()) as { token: string };
      const res = await request(`${sim.url}/api/Order/modify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ accountId: ACCOUNT, orderId: resting.brokerOrderId, size: 1, limitPrice: lower }),
      });
      expect(await res.body.json()).toMatchObject({ success: true });
      const status = async (): Promise<Answer['body']> => (await call('GET', `/api/go/orders/${encodeURIComponent(resting.orderId)}/status`)).body;
      await waitFor(async () => (await status()).quantity === 1, 30_000, 'the new size in GetOrderStatus');
      expect(await status()).toMatchObject({ status: 'WORKING', quantity: 1, price: lower });
    } finally {
      sim.off('order', relay);
    }
  }, 120_000);

  it('bad input is 400 naming the field, and sends nothing', async () => {
    await openLong(1, 'bad-open');
    const resting = await restingBuy(2, 'bad-resting');
    const modify = `/api/go/orders/${encodeURIComponent(resting.orderId)}/modify`;
    const ordersBefore = sim.orders(ACCOUNT).length;
    const haltsBefore = halts.length;
    const cases: Array<[string, unknown, string]> = [
      ['/api/go/orders/flatten', { halt: 'false' }, 'halt'],
      ['/api/go/orders/flatten', { acount_id: ACCOUNT }, 'acount_id'],
      ['/api/go/orders/flatten', { Account_Id: ACCOUNT }, 'Account_Id'],
      ['/api/go/orders/flatten', { account_id: ACCOUNT, accountId: ACCOUNT }, 'accountId'],
      ['/api/go/orders/flatten', { account_id: '9007199254740993' }, 'account_id'],
      ['/api/go/orders/flatten', '{"account_id":9007199254740993}', 'account_id'],
      ['/api/go/orders/flatten', { account_id: 4242 }, 'account_id'],
      ['/api/go/orders/flatten', { account_id: true }, 'account_id'],
      ['/api/go/orders/flatten', { client_request_id: 7 }, 'client_request_id'],
      ['/api/go/orders/flatten', 'not json', 'body'],
      ['/api/go/orders/flatten', [], 'body'],
      ['/api/go/orders/close', {}, 'symbol'],
      ['/api/go/orders/close', { symbol: 'ZZZ' }, 'symbol'],
      ['/api/go/orders/close', { symbol: 5 }, 'symbol'],
      ['/api/go/orders/close', { symbol: 'MNQ', quantity: -1 }, 'quantity'],
      ['/api/go/orders/close', { symbol: 'MNQ', quantity: 1.5 }, 'quantity'],
      ['/api/go/orders/close', { symbol: 'MNQ', quantity: 'one' }, 'quantity'],
      ['/api/go/orders/close', { symbol: 'MNQ', strategyName: ['s'] }, 'strategyName'],
      [modify, { quantity: 'two' }, 'quantity'],
      [modify, { quantity: 3 }, 'quantity'],
      [modify, { price: true }, 'price'],
      [modify, { stop_price: 'abc' }, 'stop_price'],
      [modify, { price: 1.3 }, 'price'],
      [modify, { order_id: 'someone-else' }, 'order_id'],
      [modify, { limitPrice: 1 }, 'limitPrice'],
    ];
    for (const [path, body, field] of cases) {
      const r = await call('POST', path, body);
      expect({ path, body, status: r.status, code: r.body.error?.code, field: r.body.error?.field }).toEqual({ path, body, status: 400, code: 'INVALID_ARGUMENT', field });
    }
    const wrongMethod = await call('GET', '/api/go/orders/flatten');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    expect(sim.orders(ACCOUNT).length).toBe(ordersBefore);
    expect(position()).toBe(1);
    expect(working().find((o) => o.id === resting.brokerOrderId)).toMatchObject({ size: 2, limitPrice: resting.price });
    expect(halts.length).toBe(haltsBefore);
  }, 120_000);

  it('/openapi.json describes the three routes with their request and response schemas', async () => {
    const res = await request(`${base}/openapi.json`);
    const doc = (await res.body.json()) as { paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    for (const [path, request, response] of [
      ['/api/go/orders/{id}/modify', 'ModifyOrderRequest', 'ModifyOrderResponse'],
      ['/api/go/orders/close', 'ClosePositionRequest', 'ClosePositionResponse'],
      ['/api/go/orders/flatten', 'FlattenAllRequest', 'FlattenAllResponse'],
    ] as const) {
      const post = doc.paths[path]?.post;
      expect(JSON.stringify(post?.requestBody)).toContain(`#/components/schemas/${request}`);
      expect(JSON.stringify(post?.responses['200'])).toContain(`#/components/schemas/${response}`);
      expect(post?.responses['400']).toBeDefined();
      expect(doc.components.schemas[request]).toBeDefined();
      expect(doc.components.schemas[response]).toBeDefined();
    }
  });
});
