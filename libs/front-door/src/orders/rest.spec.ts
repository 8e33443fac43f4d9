// The operator's emergency calls on REST (POST /api/go/orders/{id}/modify, /close, /flatten) as curl makes them:
// the real HTTP front door (port 0) with the orders module, real order-executor threads, and the simulator in this
// process. What a test checks is the simulator's own positions and orders. The risk-manager is stood in for (an
// ACTIVE account and fresh marks in shared memory).
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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
