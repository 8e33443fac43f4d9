import { credentials, Metadata, Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orders } from './index';

// A real grpc-js server and client built from the generated static code, on a loopback port 0.
describe('generated grpc-js server and client', () => {
  let server: Server;
  let client: orders.OrderServiceClient;

  const unimplemented = (_call: unknown, callback: (err: ServiceError) => void) =>
    callback({ code: status.UNIMPLEMENTED, details: 'not in this test', metadata: new Metadata(), name: 'E', message: 'x' });

  beforeAll(async () => {
    server = new Server();
    const impl: orders.OrderServiceServer = {
      placeOrder(call, callback) {
        const req = call.request;
        if (req.quantity <= 0) {
          const metadata = new Metadata();
          metadata.set('reason-code', 'INVALID_ARGUMENT');
          return callback({ code: status.INVALID_ARGUMENT, details: 'quantity: must be >= 1', metadata });
        }
        return callback(null, {
          ...orders.OrderResponse.fromPartial({}),
          success: true,
          orderId: `ord-${req.strategyName}`,
          status: 'WORKING',
          orderStatus: orders.OrderStatus.WORKING,
          stopLossTicks: req.stopLoss === undefined ? 0 : -40,
        });
      },
      placeBatch: unimplemented,
      getOrderStatus: unimplemented,
      cancelOrder: unimplemented,
      modifyOrder: unimplemented,
      closePosition: unimplemented,
      flattenAll: unimplemented,
      streamOrderUpdates(call) {
        for (let i = 1; i <= 3; i++) {
          call.write({
            ...orders.OrderUpdate.fromPartial({}),
            orderId: 'ord-1',
            strategyName: call.request.strategyName,
            sequence: i,
          });
        }
        call.end();
      },
    };
    server.addService(orders.OrderServiceService, impl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new orders.OrderServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
  });

  it('places an order and carries optional fields across', async () => {
    const response = await new Promise<orders.OrderResponse>((resolve, reject) =>
      client.placeOrder(
        orders.OrderRequest.fromPartial({ symbol: 'MNQ', side: 'BUY', quantity: 1, strategyName: 's1', stopLoss: 1 }),
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    expect(response.success).toBe(true);
    expect(response.orderId).toBe('ord-s1');
    expect(response.orderStatus).toBe(orders.OrderStatus.WORKING);
    expect(response.stopLossTicks).toBe(-40);
  });

  it('delivers the status code, the message and the reason-code trailer', async () => {
    const err = await new Promise<ServiceError>((resolve, reject) =>
      client.placeOrder(orders.OrderRequest.fromPartial({ quantity: 0 }), (e) => (e ? resolve(e) : reject(new Error('no error')))),
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe('quantity: must be >= 1');
    expect(err.metadata.get('reason-code')).toEqual(['INVALID_ARGUMENT']);
  });

  it('streams order updates in order', async () => {
    const stream = client.streamOrderUpdates(orders.StreamOrderUpdatesRequest.fromPartial({ strategyName: 'alpha' }));
    const seen: orders.OrderUpdate[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (u: orders.OrderUpdate) => seen.push(u));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    expect(seen.map((u) => [u.sequence, u.strategyName])).toEqual([
      [1, 'alpha'],
      [2, 'alpha'],
      [3, 'alpha'],
    ]);
  });
});
