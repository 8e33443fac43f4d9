// Front-door module of the orders service: the gRPC `orders.OrderService`, its REST twins under
// /api/go/orders and their OpenAPI paths. The work is done by OrdersService. Main thread.
//
// REST twins (JSON in the proto3 JSON mapping, read strictly by protoJsonFields: an unknown field, or one sent in
// both spellings, is 400 naming it and nothing is done; the same OrdersService call and error mapping as gRPC; no
// client deadline, as none of the REST twins takes one):
//   POST /api/go/orders/place          OrderRequest        → OrderResponse
//   POST /api/go/orders/batch          BatchOrderRequest   → BatchOrderResponse
//   GET  /api/go/orders/{id}/status                        → OrderStatusResponse
//   POST /api/go/orders/{id}/cancel                        → CancelOrderResponse
//   POST /api/go/orders/{id}/modify    ModifyOrderRequest  → ModifyOrderResponse   (order_id from the path)
//   POST /api/go/orders/close          ClosePositionRequest → ClosePositionResponse
//   POST /api/go/orders/flatten        FlattenAllRequest   → FlattenAllResponse
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { orders } from '@gateway/proto';
import type { FrontDoorDeps } from '../deps';
import { FrontDoorError, toServiceError } from '../errors';
import { protoJsonFields, readJson, sendError, sendJson } from '../http-json';
import type { Route } from '../http-server';
import type { FrontDoorModule } from '../module';
import { grpcServerStream, type ServerStream } from '../server-stream';
import { OrdersService, type OrdersOptions } from './service';

export { OrdersService, type OrdersOptions, type PlaceResult } from './service';
export { OrderBook, type OrderEntry } from './book';

/** Retry delay of a start-up recovery whose broker search failed. */
const RECOVER_RETRY_MS = 2_000;

export function createOrdersModule(deps: FrontDoorDeps, options: OrdersOptions = {}): FrontDoorModule & { service: OrdersService } {
  const svc = new OrdersService(deps, options);
  let stopped = false;
  const recover = (): void => {
    svc.recover().catch((err: unknown) => {
      deps.logger.error({ err }, 'order book recovery failed; retrying');
      if (!stopped) setTimeout(recover, RECOVER_RETRY_MS).unref();
    });
  };
  recover();

  const streams = new Set<ServerStream<orders.OrderUpdate>>();

  const unary =
    <Req, Res>(fn: (req: Req, deadlineMs: number) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const d = call.getDeadline();
      const ms = d instanceof Date ? d.getTime() : Number.isFinite(d) ? Number(d) : 0;
      fn(call.request, ms).then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err)),
      );
    };

  const implementation: orders.OrderServiceServer = {
    placeOrder: unary(async (req: orders.OrderRequest, deadlineMs) => {
      const r = await svc.place(req, deadlineMs);
      if (r.error) throw r.error;
      return r.response;
    }),
    placeBatch: unary((req: orders.BatchOrderRequest, deadlineMs) => svc.placeBatch(req, deadlineMs)),
    getOrderStatus: unary(async (req: orders.OrderStatusRequest) => svc.statusResponse(svc.status(req.orderId))),
    cancelOrder: unary((req: orders.CancelOrderRequest, deadlineMs) => svc.cancel(req.orderId, deadlineMs)),
    modifyOrder: unary((req: orders.ModifyOrderRequest, deadlineMs) => svc.modify(req, deadlineMs)),
    closePosition: unary((req: orders.ClosePositionRequest, deadlineMs) => svc.closePosition(req, deadlineMs)),
    flattenAll: unary((req: orders.FlattenAllRequest, deadlineMs) => svc.flattenAll(req, deadlineMs)),
    streamOrderUpdates(call: ServerWritableStream<orders.StreamOrderUpdatesRequest, orders.OrderUpdate>) {
      const { strategyName, accountId } = call.request;
      const stream = grpcServerStream(call, {
        what: 'order updates',
        recovery: 'subscribe again and read the orders back with GetOrderStatus',
        onClose: () => {
          unsubscribe();
          streams.delete(stream);
        },
      });
      streams.add(stream);
      const unsubscribe = svc.book.subscribe((e) => {
        if (strategyName !== '' && e.strategyName !== strategyName) return;
        if (accountId !== 0 && e.accountId !== accountId) return;
        stream.send(svc.update(e));
      });
    },
  };

  const routes: Route[] = [
    async (req, res, url) => {
      if (!url.pathname.startsWith('/api/go/orders')) return false;
      await handleRest(svc, req, res, url);
      return true;
    },
  ];

  return {
    service: svc,
    grpc: {
      name: 'orders.OrderService',
      definition: orders.OrderServiceService,
      implementation: implementation as unknown as UntypedServiceImplementation,
    },
    routes,
    openapiPaths: OPENAPI_PATHS,
    openapiSchemas: OPENAPI_SCHEMAS,
    isReady: () => svc.isReady,
    async stop() {
      stopped = true;
      for (const s of streams) s.end();
      streams.clear();
      await svc.stop();
    },
  };
}

const STATUS_RE = /^\/api\/go\/orders\/([^/]{1,128})\/status$/;
const CANCEL_RE = /^\/api\/go\/orders\/([^/]{1,128})\/cancel$/;
const MODIFY_RE = /^\/api\/go\/orders\/([^/]{1,128})\/modify$/;

function orderResponseJson(r: orders.OrderResponse): unknown {
  return { ...(orders.OrderResponse.toJSON(r) as object), success: r.success, status: r.status };
}

async function handleRest(svc: OrdersService, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    const path = url.pathname;
    if (path === '/api/go/orders/place') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const r = await svc.place(orderFields(await readJson(req)), 0);
      if (r.error) return sendError(res, r.error);
      return sendJson(res, 200, orderResponseJson(r.response));
    }
    if (path === '/api/go/orders/batch') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      // Every order is read before any is placed: one misspelt field refuses the whole batch, nothing sent.
      const b = protoJsonFields(await readJson(req), 'orders.BatchOrderRequest', BATCH_TEMPLATE, {
        fields: {
          orders: (list, key) => {
            if (!Array.isArray(list)) throw new FrontDoorError('INVALID_ARGUMENT', `${key}: must be an array of orders`, key);
            return list.map((o: unknown, i) => orderFields(o, `${key}[${i}].`));
          },
        },
      });
      const r = await svc.placeBatch({ orders: b.orders, maxConcurrency: b.maxConcurrency, allOrNone: b.allOrNone }, 0);
      return sendJson(res, 200, { results: r.results.map(orderResponseJson), succeeded: r.succeeded, failed: r.failed });
    }
    if (path === '/api/go/orders/close') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const f = protoJsonFields(await readJson(req), 'orders.ClosePositionRequest', orders.ClosePositionRequest.fromPartial({}));
      const r = await svc.closePosition(orders.ClosePositionRequest.fromPartial(f as Partial<orders.ClosePositionRequest>), 0);
      return sendJson(res, 200, { ...(orders.ClosePositionResponse.toJSON(r) as object), success: r.success });
    }
    if (path === '/api/go/orders/flatten') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const f = protoJsonFields(await readJson(req), 'orders.FlattenAllRequest', orders.FlattenAllRequest.fromPartial({}));
      const r = await svc.flattenAll(orders.FlattenAllRequest.fromPartial(f as Partial<orders.FlattenAllRequest>), 0);
      return sendJson(res, 200, { ...(orders.FlattenAllResponse.toJSON(r) as object), success: r.success });
    }
    let m = STATUS_RE.exec(path);
    if (m) {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      const e = svc.status(pathId(m[1]!));
      return sendJson(res, 200, { ...(orders.OrderStatusResponse.toJSON(svc.statusResponse(e)) as object), found: true });
    }
    m = CANCEL_RE.exec(path);
    if (m) {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const r = await svc.cancel(pathId(m[1]!));
      return sendJson(res, 200, { ...(orders.CancelOrderResponse.toJSON(r) as object), success: r.success });
    }
    m = MODIFY_RE.exec(path);
    if (m) {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const orderId = pathId(m[1]!);
      const f = protoJsonFields(await readJson(req), 'orders.ModifyOrderRequest', orders.ModifyOrderRequest.fromPartial({}));
      // The path names the order; a body that names another is a client's mix-up, not a choice between the two.
      if (f.orderId !== undefined && f.orderId !== orderId) {
        throw new FrontDoorError('INVALID_ARGUMENT', `order_id: ${JSON.stringify(String(f.orderId).slice(0, 80))} in the body differs from the order id of the path`, 'order_id');
      }
      const r = await svc.modify(orders.ModifyOrderRequest.fromPartial({ ...(f as Partial<orders.ModifyOrderRequest>), orderId }), 0);
      return sendJson(res, 200, { ...(orders.ModifyOrderResponse.toJSON(r) as object), success: r.success });
    }
    throw new FrontDoorError('NOT_FOUND', `no route ${req.method} ${path}`);
  } catch (err) {
    sendError(res, err);
  }
}

const ORDER_TEMPLATE = orders.OrderRequest.fromPartial({});
const BATCH_TEMPLATE = orders.BatchOrderRequest.fromPartial({});

/**
 * An OrderRequest body read strictly (protoJsonFields): the fields sent, by lowerCamelCase name, for the validator,
 * which applies the domain rules (quantity 1 to max, a known symbol, bracket levels). `prefix` names an order of a batch.
 */
function orderFields(body: unknown, prefix = ''): Record<string, unknown> {
  return protoJsonFields(body, 'orders.OrderRequest', ORDER_TEMPLATE, { prefix });
}

/** The order id of a path, percent-decoded; a broken escape is the client's error, not a 500. */
function pathId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new FrontDoorError('INVALID_ARGUMENT', 'order_id: malformed percent-encoding in the path', 'order_id');
  }
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.writeHead(405, { 'content-type': 'application/json', allow });
  res.end(JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: `use ${allow}` } }));
}

const errorResponses = {
  '400': { description: 'INVALID_ARGUMENT: the message and `field` name the request field', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '404': { description: 'NOT_FOUND', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '409': { description: 'ALREADY_EXISTS: client_order_id reused with different parameters', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '422': { description: 'risk denial or broker rejection (`reasonCode`)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '429': { description: 'QUEUE_FULL or ORDER_RATE: nothing was sent, retry later', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '502': { description: 'UNKNOWN_OUTCOME: sent, no answer; `order-id` to poll', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '503': { description: 'RISK_NOT_READY, STALE_MARKET_DATA or UNAVAILABLE: nothing was sent', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
};

const json = (ref: string): unknown => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });

const OPENAPI_PATHS: Record<string, unknown> = {
  '/api/go/orders/place': {
    post: {
      summary: 'PlaceOrder (orders.OrderService): one order; answers once the broker has',
      requestBody: { required: true, content: json('OrderRequest') },
      responses: { '200': { description: 'accepted by the broker', content: json('OrderResponse') }, ...errorResponses },
    },
  },
  '/api/go/orders/batch': {
    post: {
      summary: 'PlaceBatch: several orders, results in request order; all_or_none pre-checks the whole batch',
      requestBody: { required: true, content: json('BatchOrderRequest') },
      responses: { '200': { description: 'one result per order', content: json('BatchOrderResponse') }, '400': errorResponses['400'] },
    },
  },
  '/api/go/orders/{id}/status': {
    get: {
      summary: 'GetOrderStatus by our order id or the broker order id',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: 'the order', content: json('OrderStatusResponse') }, '404': errorResponses['404'] },
    },
  },
  '/api/go/orders/{id}/cancel': {
    post: {
      summary: 'CancelOrder',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: 'success false with the final status when already final' }, '404': errorResponses['404'] },
    },
  },
  '/api/go/orders/{id}/modify': {
    post: {
      summary: 'ModifyOrder: new absolute size and prices of a working order; fields left out are unchanged',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'our order id or the broker order id' }],
      requestBody: { required: true, content: json('ModifyOrderRequest') },
      responses: {
        '200': { description: 'success false with reasonCode (BROKER_REJECTED, …) or the final status when the modify was not made', content: json('ModifyOrderResponse') },
        '400': errorResponses['400'],
        '404': { ...errorResponses['404'], description: 'NOT_FOUND: unknown order id (`field` order_id)' },
      },
    },
  },
  '/api/go/orders/close': {
    post: {
      summary:
        'ClosePosition: closes one contract\'s position at market and, for a full close, cancels its working orders. Retry a ' +
        'lost answer with the same client_request_id, never without one',
      requestBody: { required: true, content: json('ClosePositionRequest') },
      responses: {
        '200': { description: 'the close was sent; success false with reasonCode when the broker refused it or its sweep failed', content: json('ClosePositionResponse') },
        '400': errorResponses['400'],
        '404': { ...errorResponses['404'], description: 'NOT_FOUND: no open position in the contract (`field` symbol); nothing was sent' },
        '409': { ...errorResponses['409'], description: 'ALREADY_EXISTS: client_request_id reused with another symbol or quantity' },
        '503': errorResponses['503'],
      },
    },
  },
  '/api/go/orders/flatten': {
    post: {
      summary: 'FlattenAll: closes every position and cancels every working order of the account; halt=true also halts trading',
      requestBody: { required: true, content: json('FlattenAllRequest') },
      responses: {
        '200': { description: 'success false with failedContracts when some contract could not be flattened', content: json('FlattenAllResponse') },
        '400': errorResponses['400'],
        '409': { ...errorResponses['409'], description: 'ALREADY_EXISTS: client_request_id reused with another halt flag' },
        '503': errorResponses['503'],
      },
    },
  },
};

/** The request bodies below: proto JSON mapping, either spelling of a field, numbers also as strings, unknown keys refused. */
const strictBody = (message: string): string =>
  `proto ${message} in the proto JSON mapping: snake_case or lowerCamelCase field names (not both); a number may also be a ` +
  'numeric string; null is the default; an unknown field is 400 naming it';

const OPENAPI_SCHEMAS: Record<string, unknown> = {
  ModifyOrderRequest: {
    type: 'object',
    description: `${strictBody('orders.ModifyOrderRequest')}; order_id comes from the path (in the body it must match)`,
    properties: {
      quantity: { type: 'integer', minimum: 1, description: 'new total size, at most the size the order was placed with' },
      price: { type: 'number', description: 'limit price, on the tick grid' },
      stop_price: { type: 'number' },
      trail_price: { type: 'number' },
    },
  },
  ModifyOrderResponse: {
    type: 'object',
    properties: {
      success: { type: 'boolean' },
      orderId: { type: 'string' },
      message: { type: 'string' },
      orderStatus: { type: 'string' },
      reasonCode: { type: 'string' },
    },
  },
  ClosePositionRequest: {
    type: 'object',
    description: strictBody('orders.ClosePositionRequest'),
    required: ['symbol'],
    properties: {
      symbol: { type: 'string', example: 'MNQ', description: 'root or contract id' },
      account_id: { type: 'integer', description: '0 or absent: the engine account' },
      quantity: { type: 'integer', minimum: 0, description: 'contracts to close; 0 or absent: the whole position' },
      strategy_name: { type: 'string' },
      client_request_id: { type: 'string', maxLength: 64, description: 'idempotency key: a retry with it returns the first answer (duplicate true) and sends nothing' },
    },
  },
  ClosePositionResponse: {
    type: 'object',
    properties: {
      success: { type: 'boolean' },
      message: { type: 'string' },
      contractId: { type: 'string' },
      closedQuantity: { type: 'integer' },
      cancelledOrders: { type: 'integer' },
      reasonCode: { type: 'string', description: 'BROKER_REJECTED, UNKNOWN_OUTCOME (read the position before closing again), QUEUE_FULL, ORDER_RATE, UNAVAILABLE' },
      duplicate: { type: 'boolean' },
    },
  },
  FlattenAllRequest: {
    type: 'object',
    description: strictBody('orders.FlattenAllRequest'),
    properties: {
      account_id: { type: 'integer', description: '0 or absent: the engine account' },
      halt: { type: 'boolean', description: 'also halt trading (new entries refused until Resume)' },
      client_request_id: { type: 'string', maxLength: 64, description: 'idempotency key, as ClosePositionRequest' },
    },
  },
  FlattenAllResponse: {
    type: 'object',
    properties: {
      success: { type: 'boolean' },
      message: { type: 'string' },
      cancelledOrders: { type: 'integer' },
      closedPositions: { type: 'integer' },
      failedContracts: { type: 'array', items: { type: 'string' } },
      duplicate: { type: 'boolean' },
    },
  },
  OrderRequest: {
    type: 'object',
    description:
      `${strictBody('orders.OrderRequest')} (a misspelt stop_loss is refused, never an order without its stop); 64-bit ` +
      'integers such as account_id are usually strings, at most 2^53 − 1',
    required: ['symbol', 'side', 'quantity', 'strategy_name'],
    properties: {
      symbol: { type: 'string', example: 'MNQ' },
      side: { type: 'string', enum: ['BUY', 'SELL'] },
      quantity: { type: 'integer', minimum: 1 },
      price: { type: 'number' },
      order_type: { type: 'string', enum: ['MARKET', 'LIMIT', 'STOP', 'TRAILING_STOP', 'JOIN_BID', 'JOIN_ASK'] },
      strategy_name: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' },
      stop_loss: { type: 'number', description: 'price level' },
      take_profit: { type: 'number', description: 'price level' },
      account_id: { type: 'integer' },
      client_order_id: { type: 'string', maxLength: 64 },
      stop_price: { type: 'number' },
      trail_price: { type: 'number' },
      reduce_only: { type: 'boolean' },
    },
  },
  OrderResponse: {
    type: 'object',
    properties: {
      success: { type: 'boolean' },
      orderId: { type: 'string' },
      message: { type: 'string' },
      status: { type: 'string' },
      brokerOrderId: { type: 'integer' },
      customTag: { type: 'string' },
      clientOrderId: { type: 'string' },
      reasonCode: { type: 'string' },
      orderStatus: { type: 'string' },
      contractId: { type: 'string' },
      filledQuantity: { type: 'integer' },
      averageFillPrice: { type: 'number' },
      duplicate: { type: 'boolean' },
      stopLossTicks: { type: 'integer' },
      takeProfitTicks: { type: 'integer' },
    },
  },
  BatchOrderRequest: {
    type: 'object',
    description: `${strictBody('orders.BatchOrderRequest')}, and in every order (\`orders[3].stoploss\`): then nothing of the batch is sent`,
    required: ['orders'],
    properties: {
      orders: { type: 'array', items: { $ref: '#/components/schemas/OrderRequest' } },
      max_concurrency: { type: 'integer', minimum: 0 },
      all_or_none: { type: 'boolean' },
    },
  },
  BatchOrderResponse: {
    type: 'object',
    properties: {
      results: { type: 'array', items: { $ref: '#/components/schemas/OrderResponse' } },
      succeeded: { type: 'integer' },
      failed: { type: 'integer' },
    },
  },
  OrderStatusResponse: {
    type: 'object',
    properties: {
      found: { type: 'boolean' },
      orderId: { type: 'string' },
      status: { type: 'string' },
      brokerOrderId: { type: 'integer' },
      customTag: { type: 'string' },
      clientOrderId: { type: 'string' },
      symbol: { type: 'string' },
      contractId: { type: 'string' },
      side: { type: 'string' },
      quantity: { type: 'integer', description: 'the size: as placed, then as last modified' },
      filledQuantity: { type: 'integer' },
      averageFillPrice: { type: 'number' },
      price: { type: 'number', description: "the order's own level (limit, stop or trail): as placed, then as last modified; absent for market orders" },
      orderType: { type: 'string' },
      strategyName: { type: 'string' },
      reasonCode: { type: 'string' },
      message: { type: 'string' },
      createdAtMs: { type: 'integer' },
      updatedAtMs: { type: 'integer' },
    },
  },
};
