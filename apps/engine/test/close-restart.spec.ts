// A close of a position across an engine crash. `Position/closeContract` answers before the exchange fills the
// market order it works, and that order carries no tag of ours: after a kill -9 the new engine cannot find the close
// by tag, and its close leases (shared memory) and client_request_id table (memory) are gone with the old process. A
// client retrying its ClosePosition, or a FlattenAll, then sent a second close over the one still working: both
// filled, long 2 became short 2. The main thread's journal now records closes (ADR 0004): the restart re-seeds the
// client_request_id and a close lease for every close younger than the lease TTL.
// The engine runs as a child process (killed with SIGKILL) against a simulator in this process, whose order list (the
// broker's truth) and fill timers survive the engine.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orders } from '@gateway/proto';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import { kill, spawnEngineChild, waitFor, type EngineChild } from './helpers';
import { call, orderRequest, ordersClient, type OrdersClient } from './orders-helpers';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const DATA_DIR = join(ROOT, 'tmp', `close-restart-${process.pid}`);
const ACCOUNT = 1001;
/**
 * The close rests this long at the simulator before it fills: past the kill and the restart (which usually take a
 * few seconds), within the close lease TTL (30 s). A restart slower than this finds the account flat already, and
 * still must not close again.
 */
const FILL_DELAY_MS = 25_000;

describe('kill -9 while a close works at the broker, then a retried ClosePosition and a FlattenAll', () => {
  let sim: Simulator;
  const children: ChildProcess[] = [];
  const clients: OrdersClient[] = [];
  /** Net size of every position event the simulator published (long > 0, short < 0). */
  const nets: number[] = [];

  beforeAll(async () => {
    rmSync(DATA_DIR, { recursive: true, force: true });
    mkdirSync(DATA_DIR, { recursive: true });
    sim = await createSimulator({ rateLimits: false, seed: 53 });
    sim.on('position', (p) => nets.push(p['type'] === 2 ? -Number(p['size']) : Number(p['size'])));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const c of children) await kill(c);
    await sim?.close();
    rmSync(DATA_DIR, { recursive: true, force: true });
  });

  async function start(): Promise<OrdersClient> {
    const r: EngineChild = await spawnEngineChild({ simUrl: sim.url, dataDir: DATA_DIR, env: { RISK_MAX_POSITION: '1000', RISK_MAX_OPEN_ORDERS: '10000', RISK_MAX_ORDERS_PER_MINUTE: '0' } });
    children.push(r.child);
    await waitFor(async () => (await request(`http://127.0.0.1:${r.httpPort}/healthz`)).statusCode === 200, 120_000, 'engine /healthz 200');
    const c = ordersClient(r.grpcPort);
    clients.push(c);
    return c;
  }

  /** The market orders of Position/closeContract (untagged, market). */
  const closeOrders = () => sim.orders(ACCOUNT).filter((o) => o['customTag'] === null && o['type'] === 2);
  const closeRequest = orders.ClosePositionRequest.fromPartial({ symbol: 'MNQ', clientRequestId: 'close-across-crash' });

  it('sends exactly one close: the retry replays, the FlattenAll does not close again, and the account ends flat', async () => {
    const c1 = await start();
    const placed = await call<orders.OrderRequest, orders.OrderResponse>(c1, 'placeOrder', orderRequest({ strategyName: 'crash', side: 'BUY', quantity: 2 }), 60_000);
    if (!placed.ok || !placed.value.success) throw new Error(`placeOrder: ${JSON.stringify(placed.ok ? placed.value : placed.error)}`);
    await waitFor(() => sim.positions(ACCOUNT)[0]?.['size'] === 2, 30_000, 'long 2 at the simulator');

    sim.faults.set({ fillDelayMs: FILL_DELAY_MS });
    // The engine waits for flat after the broker's answer: it is killed while the close works, its answer not given.
    void call(c1, 'closePosition', closeRequest, 120_000);
    await waitFor(() => closeOrders().some((o) => o['status'] === 1), 30_000, 'the close working at the simulator');
    await kill(children[0]!);
    c1.close();
    sim.faults.reset();
    expect(closeOrders()).toHaveLength(1);

    const c2 = await start();
    const retry = await call<orders.ClosePositionRequest, orders.ClosePositionResponse>(c2, 'closePosition', closeRequest, 60_000);
    if (!retry.ok) throw new Error(`retried closePosition: ${JSON.stringify(retry.error)}`);
    expect(retry.value.duplicate, JSON.stringify(retry.value)).toBe(true);
    expect(closeOrders()).toHaveLength(1);

    const flat = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(c2, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' }, 60_000);
    if (!flat.ok) throw new Error(`flattenAll: ${JSON.stringify(flat.error)}`);
    expect(flat.value.closedPositions, JSON.stringify(flat.value)).toBe(0);
    expect(closeOrders()).toHaveLength(1);

    await waitFor(() => closeOrders().every((o) => o['status'] !== 1), FILL_DELAY_MS + 30_000, 'the close filled');
    expect(closeOrders()).toEqual([expect.objectContaining({ side: 1, size: 2, status: 2, fillVolume: 2 })]);
    expect(sim.positions(ACCOUNT)).toEqual([]);
    expect(nets.every((n) => n >= 0), `position events ${JSON.stringify(nets)}`).toBe(true);
  }, 300_000);

  it('a close stuck past its lease before the crash is checked after the restart: FlattenAll cancels it, never closes over it', async () => {
    // One engine per data directory: the previous test's engine goes first.
    await kill(children[children.length - 1]!);
    const earlier = new Set(closeOrders().map((o) => o['id']));
    const mine = () => closeOrders().filter((o) => !earlier.has(o['id']));
    const c1 = await start();
    const placed = await call<orders.OrderRequest, orders.OrderResponse>(c1, 'placeOrder', orderRequest({ strategyName: 'stuck', side: 'BUY', quantity: 1 }), 60_000);
    if (!placed.ok || !placed.value.success) throw new Error(`placeOrder: ${JSON.stringify(placed.ok ? placed.value : placed.error)}`);
    await waitFor(() => sim.positions(ACCOUNT)[0]?.['size'] === 1, 30_000, 'long 1 at the simulator');
    // A close resting as in a halted market, past its 30 s lease, when the engine dies.
    sim.faults.set({ fillDelayMs: 600_000 });
    const closed = await call<orders.ClosePositionRequest, orders.ClosePositionResponse>(c1, 'closePosition', orders.ClosePositionRequest.fromPartial({ symbol: 'MNQ' }), 60_000);
    if (!closed.ok) throw new Error(`closePosition: ${JSON.stringify(closed.error)}`);
    expect(mine().filter((o) => o['status'] === 1)).toHaveLength(1);
    const leaseOver = Date.now() + 31_000;
    await waitFor(() => Date.now() > leaseOver, 60_000, 'the close lease expired');
    await kill(children[children.length - 1]!);
    c1.close();

    const c2 = await start();
    const flat = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(c2, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' }, 60_000);
    if (!flat.ok) throw new Error(`flattenAll: ${JSON.stringify(flat.error)}`);
    expect(flat.value, JSON.stringify(flat.value)).toMatchObject({ success: false, closedPositions: 0 });
    expect(flat.value.message).toContain('stuck');
    await waitFor(() => mine().every((o) => o['status'] !== 1), 30_000, 'the stuck close cancelled');
    expect(mine()).toHaveLength(1);
    sim.faults.reset();
    const again = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(c2, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' }, 60_000);
    if (!again.ok) throw new Error(`flattenAll: ${JSON.stringify(again.error)}`);
    await waitFor(() => sim.positions(ACCOUNT).length === 0, 30_000, 'flat');
    expect(mine().map((o) => o['fillVolume'])).toEqual([0, 1]);
    expect(nets.every((n) => n >= 0), `position events ${JSON.stringify(nets)}`).toBe(true);
  }, 300_000);
});
