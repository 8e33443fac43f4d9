// Nothing twice, nothing lost: the engine is killed with SIGKILL in the middle of a 100-order
// PlaceBatch and restarted on the same DATA_DIR. The simulator runs in this test process, so its
// order list (the broker's truth) survives the engine. Checked against it: no custom tag twice, every
// order placed at most once, every status right after recovery, and a re-sent batch places only what
// was never placed.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOM_TAG_PREFIX, mapBrokerStatus } from '@gateway/orders';
import { orders } from '@gateway/proto';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import { kill, spawnEngineChild, waitFor, type EngineChild } from './helpers';
import { call, orderRequest, ordersClient, type OrdersClient } from './orders-helpers';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const DATA_DIR = join(ROOT, 'tmp', `orders-crash-${process.pid}`);
const ACCOUNT = 1001;
const N = 100;

type Running = EngineChild;

function startChild(simUrl: string): Promise<Running> {
  return spawnEngineChild({ simUrl, dataDir: DATA_DIR, env: { RISK_MAX_POSITION: '1000', RISK_MAX_OPEN_ORDERS: '10000', RISK_MAX_ORDERS_PER_MINUTE: '0' } });
}

async function ready(r: Running): Promise<void> {
  await waitFor(async () => (await request(`http://127.0.0.1:${r.httpPort}/healthz`)).statusCode === 200, 120_000, 'engine /healthz 200');
}

interface Intent {
  orderId: string;
  clientOrderId: string;
  customTag: string;
}

function intents(): Intent[] {
  const out: Intent[] = [];
  for (const name of readdirSync(DATA_DIR).filter((n) => /^journal-.+\.jsonl$/.test(n))) {
    for (const line of readFileSync(join(DATA_DIR, name), 'utf8').split('\n')) {
      if (!line.includes('"t":"intent"')) continue;
      try {
        out.push(JSON.parse(line) as Intent);
      } catch {
        // a torn last line of the killed process
      }
    }
  }
  return out;
}

const batch = (): orders.BatchOrderRequest => ({
  orders: Array.from({ length: N }, (_, i) => orderRequest({ side: i % 2 === 0 ? 'BUY' : 'SELL', clientOrderId: `crash-${i}` })),
  maxConcurrency: 10,
  allOrNone: false,
});

describe('kill -9 in the middle of a 100-order batch', () => {
  let sim: Simulator;
  const children: ChildProcess[] = [];
  const clients: OrdersClient[] = [];

  beforeAll(async () => {
    rmSync(DATA_DIR, { recursive: true, force: true });
    mkdirSync(DATA_DIR, { recursive: true });
    sim = await createSimulator({ rateLimits: false, seed: 11 });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const c of children) await kill(c);
    await sim?.close();
    rmSync(DATA_DIR, { recursive: true, force: true });
  });

  type SimOrder = { id: number; status: number; fillVolume: number; customTag: string };
  const ours = (): SimOrder[] =>
    (sim.orders(ACCOUNT) as unknown as Array<Partial<SimOrder>>).filter(
      (o): o is SimOrder => typeof o.customTag === 'string' && o.customTag.startsWith(CUSTOM_TAG_PREFIX),
    );

  it('places every order at most once and reports every status right after the restart', async () => {
    const first = await startChild(sim.url);
    children.push(first.child);
    await ready(first);
    const c1 = ordersClient(first.grpcPort);
    clients.push(c1);
    // The batch is cut short by the kill; its answer is not awaited.
    void call<orders.BatchOrderRequest, orders.BatchOrderResponse>(c1, 'placeBatch', batch(), 120_000);
    await waitFor(() => ours().length >= 30, 60_000, '30 orders at the broker');
    await kill(first.child);
    c1.close();
    const placedAtKill = ours().length;
    expect(placedAtKill).toBeGreaterThanOrEqual(30);

    const second = await startChild(sim.url);
    children.push(second.child);
    await ready(second);
    const c2 = ordersClient(second.grpcPort);
    clients.push(c2);

    // No tag twice at the broker, and every order at the broker has a journalled intent.
    const journal = intents();
    const byTag = new Map(journal.map((j) => [j.customTag, j]));
    const brokerTags = ours().map((o) => o.customTag);
    expect(new Set(brokerTags).size).toBe(brokerTags.length);
    for (const t of brokerTags) expect(byTag.has(t)).toBe(true);

    // Every journalled order has its true status after recovery: the broker's, or REJECTED when never placed.
    const brokerByTag = new Map(ours().map((o) => [o.customTag, o]));
    for (const j of journal) {
      const s = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(c2, 'getOrderStatus', { orderId: j.orderId });
      if (!s.ok) throw new Error(`status of ${j.orderId}: ${JSON.stringify(s.error)}`);
      const b = brokerByTag.get(j.customTag);
      if (b) {
        expect(s.value.brokerOrderId).toBe(b.id);
        expect(s.value.status).toBe(mapBrokerStatus(b.status, b.fillVolume));
      } else {
        expect(s.value.status).toBe('REJECTED');
      }
    }

    // The same batch again: what was placed is a duplicate, what never was is placed now, once.
    const again = await call<orders.BatchOrderRequest, orders.BatchOrderResponse>(c2, 'placeBatch', batch(), 120_000);
    if (!again.ok) throw new Error(JSON.stringify(again.error));
    expect(again.value.results.map((r) => r.clientOrderId)).toEqual(batch().orders.map((o) => o.clientOrderId));
    for (const r of again.value.results) expect(r.success).toBe(true);
    const duplicates = again.value.results.filter((r) => r.duplicate).length;
    expect(duplicates).toBe(placedAtKill);
    const final = ours();
    expect(final.length).toBe(N);
    const tags = new Set(final.map((o) => o.customTag));
    expect(tags.size).toBe(N);
    const clientIds = new Set(intents().filter((j) => tags.has(j.customTag)).map((j) => j.clientOrderId));
    expect(clientIds.size).toBe(N);
  }, 300_000);
});
