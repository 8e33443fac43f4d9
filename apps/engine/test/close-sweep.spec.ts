// ClosePosition / FlattenAll and the position's protective orders. `Position/closeContract` answers before the
// exchange fills the market order it works (simulator fault fillDelayMs): the stop and the target of the position
// must keep working until the position is actually flat — a close that never fills, or is refused, must not leave
// the position naked — and once flat they are cancelled (a stop left on a flat contract opens a new position).
// A real engine in this process (worker threads, executor pool, gRPC) against a simulator in this process.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orders } from '@gateway/proto';
import { createTestSimulator } from '@gateway/front-door/testing';
import type { Simulator } from '@gateway/topstepx-sim';
import type { RunningEngine } from '../src/engine';
import { silentLogger, waitFor } from './helpers';
import { call, orderRequest, ordersClient, type OrdersClient } from './orders-helpers';
import { startReadyEngine } from './ready-engine';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const ACCOUNT = 1001;
/** Far beyond the engine's wait for flat (a few seconds): the close is answered while its order still works. */
const SLOW_FILL_MS = 15_000;

describe('the protective orders of a closed position stay until it is flat', () => {
  let sim: Simulator;
  let engine: RunningEngine;
  let client: OrdersClient;
  let contractId = '';
  const dataDir = join(ROOT, 'tmp', `close-sweep-${process.pid}`);

  beforeAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    sim = await createTestSimulator(43);
    ({ engine, contractId } = await startReadyEngine(sim, dataDir, silentLogger()));
    client = ordersClient(engine.grpcPort);
  }, 240_000);

  afterEach(async () => {
    sim.faults.reset();
    // Flat with no working order between tests (the account is shared): a close left resting by a fault goes first.
    for (const o of closeOrders().filter((x) => x['status'] === 1)) await engine.runtime.rest.cancelOrder({ accountId: ACCOUNT, orderId: Number(o['id']) });
    if (sim.positions(ACCOUNT).length > 0 || working().length > 0) {
      await call(client, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' });
      await waitFor(() => sim.positions(ACCOUNT).length === 0 && working().length === 0, 60_000, 'flat, nothing working');
    }
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await engine?.stop();
    await sim?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const working = () => sim.orders(ACCOUNT).filter((o) => o['status'] === 1);
  /** The working stop (type 4) and target (type 1) of the account's bracket. */
  const protective = () => working().filter((o) => o['type'] === 4 || o['type'] === 1);
  /** The market orders of Position/closeContract (untagged; the bracket's children are untagged too, but not market). */
  const closeOrders = () => sim.orders(ACCOUNT).filter((o) => o['customTag'] === null && o['type'] === 2);

  /** Long 1 MNQ with a stop 40 points below and a target 40 points above: two working protective orders. */
  async function openBracketed(): Promise<void> {
    const last = sim.quote(contractId).last;
    const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ strategyName: 'sweep', side: 'BUY', quantity: 1, stopLoss: last - 40, takeProfit: last + 40 }));
    if (!r.ok || !r.value.success) throw new Error(`placeOrder: ${JSON.stringify(r.ok ? r.value : r.error)}`);
    await waitFor(() => sim.positions(ACCOUNT)[0]?.['size'] === 1 && protective().length === 2, 30_000, 'long 1 with its stop and target working');
  }

  const closePosition = async (clientRequestId = ''): Promise<orders.ClosePositionResponse> => {
    const r = await call<orders.ClosePositionRequest, orders.ClosePositionResponse>(client, 'closePosition', orders.ClosePositionRequest.fromPartial({ symbol: 'MNQ', clientRequestId }), 60_000);
    if (!r.ok) throw new Error(`closePosition: ${JSON.stringify(r.error)}`);
    return r.value;
  };

  it('a close that fills at once: answered flat, the stop and target cancelled', async () => {
    await openBracketed();
    const r = await closePosition();
    expect(r).toMatchObject({ success: true, closedQuantity: 1, cancelledOrders: 2 });
    expect(sim.positions(ACCOUNT)).toEqual([]);
    expect(protective()).toEqual([]);
  }, 120_000);

  it('a close answered before it fills keeps the stop and target; they are cancelled once the position is flat', async () => {
    await openBracketed();
    const closesBefore = closeOrders().length;
    sim.faults.set({ fillDelayMs: SLOW_FILL_MS });
    const r = await closePosition();
    expect(r).toMatchObject({ success: true, closedQuantity: 1, cancelledOrders: 0 });
    expect(r.message).toMatch(/kept/);
    // Right after the answer: still long, the close working, and the position still protected.
    expect(sim.positions(ACCOUNT)[0]?.['size']).toBe(1);
    expect(protective()).toHaveLength(2);
    await waitFor(() => sim.positions(ACCOUNT).length === 0, SLOW_FILL_MS + 30_000, 'the close filled');
    await waitFor(() => protective().length === 0, 30_000, 'the stop and target cancelled once flat');
    expect(closeOrders().slice(closesBefore)).toEqual([expect.objectContaining({ status: 2, fillVolume: 1 })]);
  }, 120_000);

  it('a close whose order never fills (cancelled at the broker) leaves the stop and target working', async () => {
    await openBracketed();
    sim.faults.set({ fillDelayMs: 600_000 });
    const r = await closePosition();
    expect(r).toMatchObject({ success: true, cancelledOrders: 0 });
    expect(protective()).toHaveLength(2);
    // The exchange kills the close's market order: the position stays open, and so must its protection.
    const close = closeOrders().find((o) => o['status'] === 1)!;
    await engine.runtime.rest.cancelOrder({ accountId: ACCOUNT, orderId: Number(close['id']) });
    await waitFor(() => closeOrders().every((o) => o['status'] !== 1), 10_000, 'the close cancelled');
    // A negative check, paced by the engine's own reads: its deferred sweep reads the positions until flat; two of
    // those reads after the cancel have each found the position open, and cancelled nothing.
    let reads = 0;
    const onRequest = ({ endpoint }: { endpoint: string }): void => {
      if (endpoint === 'Position/searchOpen') reads += 1;
    };
    sim.on('request', onRequest);
    try {
      await waitFor(() => reads >= 2, 90_000, "two of the deferred sweep's position reads");
    } finally {
      sim.off('request', onRequest);
    }
    expect(sim.positions(ACCOUNT)[0]?.['size']).toBe(1);
    expect(protective()).toHaveLength(2);
  }, 120_000);

  it('FlattenAll answered before its close fills: not "flat", the stop and target kept until it is, then cancelled', async () => {
    await openBracketed();
    sim.faults.set({ fillDelayMs: SLOW_FILL_MS });
    const r = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(client, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' }, 60_000);
    if (!r.ok) throw new Error(`flattenAll: ${JSON.stringify(r.error)}`);
    expect(r.value).toMatchObject({ success: false, closedPositions: 1, cancelledOrders: 0 });
    expect(r.value.message).not.toBe('flat');
    expect(protective()).toHaveLength(2);
    await waitFor(() => sim.positions(ACCOUNT).length === 0, SLOW_FILL_MS + 30_000, 'the close filled');
    await waitFor(() => protective().length === 0, 30_000, 'the stop and target cancelled once flat');
  }, 120_000);

  it('a close stuck past its 30 s lease (a halted market) is never closed over: FlattenAll cancels it, its retry closes once', async () => {
    await openBracketed();
    // The account is shared: this test's closes are those after the earlier tests'.
    const earlier = new Set(closeOrders().map((o) => o['id']));
    const mine = () => closeOrders().filter((o) => !earlier.has(o['id']));
    // The close rests far longer than its lease, as a market order does in a halted or locked-limit market.
    sim.faults.set({ fillDelayMs: 600_000 });
    const first = await closePosition();
    expect(first).toMatchObject({ success: true, closedQuantity: 1 });
    const stuck = mine().filter((o) => o['status'] === 1);
    expect(stuck).toHaveLength(1);
    // Past the lease's 30 s (measured from the close's answer, which came before this point).
    const leaseOver = Date.now() + 31_000;
    await waitFor(() => Date.now() > leaseOver, 60_000, 'the close lease expired');
    const again = await closePosition();
    expect(again).toMatchObject({ success: false, reasonCode: 'CLOSE_IN_FLIGHT', closedQuantity: 0 });
    expect(again.message).toContain('stuck');
    expect(mine()).toHaveLength(1);
    const flat1 = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(client, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' }, 60_000);
    if (!flat1.ok) throw new Error(JSON.stringify(flat1.error));
    expect(flat1.value.success).toBe(false);
    expect(flat1.value.message).toContain('cancelled');
    await waitFor(() => mine().every((o) => o['status'] !== 1), 30_000, 'the stuck close cancelled at the broker');
    expect(mine()).toHaveLength(1);
    expect(sim.positions(ACCOUNT)[0]?.['size']).toBe(1);
    sim.faults.set({ fillDelayMs: 0 });
    const flat2 = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(client, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' }, 60_000);
    if (!flat2.ok) throw new Error(JSON.stringify(flat2.error));
    expect(flat2.value).toMatchObject({ success: true, closedPositions: 1 });
    await waitFor(() => sim.positions(ACCOUNT).length === 0, 30_000, 'flat');
    // Two closes in all, the stuck one cancelled: one filled, never a second fill (short 1).
    expect(mine().map((o) => o['fillVolume'])).toEqual([0, 1]);
  }, 180_000);
});
