// The two senders of closes, the front door (a trader's FlattenAll) and the risk-manager (a loss limit), against
// one position whose close the broker fills seconds after its answer (simulator fault fillDelayMs). Each sender
// used to know only its own closes: the second one sent a close of its own over the first, and both filled (long 2
// became short 2), or its sweep cancelled the other's close. With the shared close leases (ADR 0006 decision 6 and
// its amendment) exactly one close reaches the broker, it is not cancelled, and the account ends flat.
// A real engine in this process (worker threads, executor pool, gRPC) against a simulator in this process.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orders } from '@gateway/proto';
import { createTestSimulator } from '@gateway/front-door/testing';
import type { Simulator } from '@gateway/topstepx-sim';
import type { RunningEngine } from '../src/engine';
import { silentLogger, waitFor } from './helpers';
import { call, orderRequest, ordersClient, type OrdersClient } from './orders-helpers';
import { startReadyEngine } from './ready-engine';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const ACCOUNT = 1001;
/** Long enough for the other sender to act while the first close works; short enough to let it fill in the test. */
const FILL_DELAY_MS = 8_000;

/** One engine and simulator per suite: a loss limit halts the account for the rest of the trading day. */
function suite(name: string, seed: number) {
  const ctx = {
    sim: undefined as unknown as Simulator,
    engine: undefined as unknown as RunningEngine,
    client: undefined as unknown as OrdersClient,
    contractId: '',
    /** Net size of every position event the simulator published (long > 0, short < 0). */
    nets: [] as number[],
  };
  const dataDir = join(ROOT, 'tmp', `closes-shared-${name}-${process.pid}`);
  beforeAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    ctx.sim = await createTestSimulator(seed);
    ctx.sim.on('position', (p) => ctx.nets.push(p['type'] === 2 ? -Number(p['size']) : Number(p['size'])));
    ({ engine: ctx.engine, contractId: ctx.contractId } = await startReadyEngine(ctx.sim, dataDir, silentLogger(), { RISK_DLL: '200' }));
    ctx.client = ordersClient(ctx.engine.grpcPort);
  }, 240_000);
  afterAll(async () => {
    ctx.client?.close();
    await ctx.engine?.stop();
    await ctx.sim?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return ctx;
}

type Ctx = ReturnType<typeof suite>;

/** The simulator's untagged orders of the account: the market orders of Position/closeContract. */
const closeOrders = (c: Ctx) => c.sim.orders(ACCOUNT).filter((o) => o['customTag'] === null);

async function openLong2(c: Ctx): Promise<void> {
  const r = await call<orders.OrderRequest, orders.OrderResponse>(c.client, 'placeOrder', orderRequest({ strategyName: 'closes', side: 'BUY', quantity: 2 }));
  if (!r.ok || !r.value.success) throw new Error(`placeOrder: ${JSON.stringify(r.ok ? r.value : r.error)}`);
  await waitFor(() => c.sim.positions(ACCOUNT)[0]?.['size'] === 2, 20_000, 'long 2 at the simulator');
}

/** 100 points down on 2 MNQ: −$400 against the $200 daily loss limit. */
async function breachDailyLossLimit(c: Ctx): Promise<void> {
  c.sim.setPrice(c.contractId, c.sim.quote(c.contractId).last - 100);
  await waitFor(
    async () => ((await c.engine.supervisor.request('risk-manager', 'getRiskState', { accountId: ACCOUNT })) as { tradingState: string }).tradingState === 'HALTED',
    20_000,
    'HALTED on the daily loss limit',
  );
}

const flattenAll = async (c: Ctx): Promise<orders.FlattenAllResponse> => {
  const r = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(c.client, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' });
  if (!r.ok) throw new Error(`flattenAll: ${JSON.stringify(r.error)}`);
  return r.value;
};

/** Every close filled or ended, then: flat, never short on the way, exactly one close sent and it filled 2. */
async function expectOneCloseAndFlat(c: Ctx): Promise<void> {
  const seen = () => JSON.stringify({ positions: c.sim.positions(ACCOUNT), closes: closeOrders(c).map((o) => ({ id: o['id'], status: o['status'], size: o['size'], fillVolume: o['fillVolume'] })) });
  await waitFor(() => c.sim.orders(ACCOUNT).every((o) => o['status'] !== 1), FILL_DELAY_MS + 20_000, 'no order of the account still working').catch(() => {
    throw new Error(`still working: ${seen()}`);
  });
  expect(closeOrders(c), seen()).toEqual([expect.objectContaining({ type: 2, side: 1, size: 2, status: 2, fillVolume: 2 })]);
  expect(c.sim.positions(ACCOUNT)).toEqual([]);
  expect(c.nets.every((n) => n >= 0), `position events ${JSON.stringify(c.nets)}`).toBe(true);
}

describe("the risk-manager's loss-limit close still works when a trader's FlattenAll arrives", () => {
  const c = suite('rm-first', 31);

  it('the FlattenAll sends no second close and does not cancel the working one: one close, flat', async () => {
    await openLong2(c);
    c.sim.faults.set({ fillDelayMs: FILL_DELAY_MS });
    try {
      await breachDailyLossLimit(c);
      await waitFor(() => closeOrders(c).some((o) => o['status'] === 1), 20_000, "the risk-manager's close working at the simulator");
      const flat = await flattenAll(c);
      expect(flat).toMatchObject({ success: false, closedPositions: 0, cancelledOrders: 0 });
      expect(flat.message).toMatch(/still working at the broker; not sent again/);
      await expectOneCloseAndFlat(c);
    } finally {
      c.sim.faults.reset();
    }
  }, 120_000);
});

describe("a trader's FlattenAll close still works when the loss limit trips", () => {
  const c = suite('fd-first', 37);

  it('the enforcement sends no second close and does not cancel the working one: one close, flat', async () => {
    await openLong2(c);
    c.sim.faults.set({ fillDelayMs: FILL_DELAY_MS });
    try {
      const flat = await flattenAll(c);
      // Sent, but not flat within the engine's wait: not answered "flat" (the position keeps its orders until it is).
      expect(flat).toMatchObject({ success: false, closedPositions: 1 });
      expect(flat.message).toMatch(/not flat yet/);
      await waitFor(() => closeOrders(c).some((o) => o['status'] === 1), 20_000, "the FlattenAll's close working at the simulator");
      const retries: unknown[] = [];
      const onEvent = (_app: string, topic: string, e: { type?: string }) => {
        if (topic === 'risk.event' && e.type === 'ENFORCEMENT_RETRY') retries.push(e);
      };
      c.engine.supervisor.on('event', onEvent);
      try {
        await breachDailyLossLimit(c);
        // A second enforcement pass has begun (HALTED and still exposed until the close fills), so the first one ran
        // to its end while the close worked.
        await waitFor(() => retries.length > 0, 20_000, 'an enforcement retry');
        expect(closeOrders(c).some((o) => o['status'] === 1), 'the close still working after an enforcement pass').toBe(true);
      } finally {
        c.engine.supervisor.off('event', onEvent);
      }
      await expectOneCloseAndFlat(c);
    } finally {
      c.sim.faults.reset();
    }
  }, 120_000);
});
