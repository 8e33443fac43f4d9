// The engine against the orderings of REST answers and user-hub events that the simulator's default never shows
// (libs/topstepx-sim README, "Ordering faults"): hub events of an order before its Order/place answer (the book
// knows it only by its custom tag then), fills well after the answer, a fill's order / trade / position / account
// events in other orders and one per message. A real engine in this process (worker threads: market-data,
// risk-manager; the executor pool; gRPC) against a simulator in this process. For each ordering: a market order, a
// limit order that fills later, a PlaceBatch of 20 and a ClosePosition, then
// - GetOrderStatus: FILLED with the simulator's quantity and average price;
// - StreamOrderUpdates: every order's statuses move forward only, sequences rise, the last one is the book's;
// - the risk-manager's positions (and P&L) equal the simulator's;
// - every gate reservation released exactly once: the main thread's releases counted, in-flight totals back to 0,
//   no RESERVATION_UNDERFLOW;
// - nothing sent twice: one simulator order per custom tag, one close order per ClosePosition.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { orders } from '@gateway/proto';
import { RiskGate } from '@gateway/risk-gate';
import { capturingLogger } from '@gateway/front-door/testing';
import { Side } from '@gateway/shared-state';
import { createSimulator, type FaultPatch, type Simulator } from '@gateway/topstepx-sim';
import type { RunningEngine } from '../src/engine';
import { silentLogger, tradingHoursEnv, waitFor } from './helpers';
import { startReadyEngine } from './ready-engine';
import { call, orderRequest, ordersClient, type OrdersClient } from './orders-helpers';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const DATA_DIR = join(ROOT, 'tmp', `orderings-${process.pid}`);
const ACCOUNT = 1001;

/** Status ranks of the order book (libs/orders order-state.ts): a stream must never go down them. */
const RANK: Record<string, number> = { NEW: 0, SENT: 1, UNKNOWN: 1, WORKING: 2, PARTIALLY_FILLED: 3, FILLED: 4, CANCELLED: 4, REJECTED: 4, EXPIRED: 4 };
const FINAL = new Set(['FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED']);

interface RiskView {
  balanceUnits: number;
  realizedGrossUnits: number;
  feesUnits: number;
  positions: Array<{ contractId: string; netSize: number; avgPriceUnits: number }>;
}

const units = (dollars: number, scale: number): number => Math.round(dollars * scale);

const SCENARIOS: Array<{ name: string; faults: FaultPatch }> = [
  { name: 'default', faults: {} },
  // Every event of an order (its fill included) before its Order/place answer; a close's fill before its answer.
  { name: 'answers_late', faults: { answerDelayByEndpoint: { 'Order/place': 300, 'Position/closeContract': 300 } } },
  // Market orders answered Working, filled 150 ms later; the close too.
  { name: 'fills_late', faults: { fillDelayMs: 150 } },
  // The order event of a fill before its trade, one event per message.
  { name: 'order_first', faults: { fillEventOrder: ['order', 'trade', 'position', 'account'], userEventGapMs: 10 } },
  // The position event before the trade, the order event after it, one event per message.
  { name: 'position_first', faults: { fillEventOrder: ['position', 'trade', 'order', 'account'], userEventGapMs: 10 } },
  // All at once: every answer late, every fill later still, a fill's events upside down, one per message.
  { name: 'everything_late', faults: { answerDelayMs: 100, fillDelayMs: 250, fillEventOrder: ['account', 'order', 'position', 'trade'], userEventGapMs: 5 } },
];

describe('user-hub event orderings against the real engine', () => {
  let sim: Simulator;
  let engine: RunningEngine;
  let client: OrdersClient;
  let contractId: string;
  const logs: string[] = [];
  const release = vi.spyOn(RiskGate.prototype, 'release');
  /** Reservation totals sampled every few ms while the scenarios run: never below zero. */
  const samples: number[] = [];
  let sampler: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    rmSync(DATA_DIR, { recursive: true, force: true });
    sim = await createSimulator({ rateLimits: false, seed: 23, market: { tradesPerSecond: 0 } });
    ({ engine, contractId } = await startReadyEngine(sim, DATA_DIR, capturingLogger(logs)));
    const acct = engine.runtime.accounts[0]!;
    const c = engine.runtime.contracts.find((x) => x.contractId === contractId)!;
    client = ordersClient(engine.grpcPort);
    const r = engine.runtime.state.reservations;
    sampler = setInterval(() => {
      samples.push(r.pendingUnits(acct.slot), r.pendingOpenOrders(acct.slot), r.pending(acct.slot, c.slot, Side.BUY), r.pending(acct.slot, c.slot, Side.SELL));
    }, 5);
  }, 240_000);

  afterAll(async () => {
    clearInterval(sampler);
    release.mockRestore();
    client?.close();
    await engine?.stop();
    await sim?.close();
    rmSync(DATA_DIR, { recursive: true, force: true });
  });

  const status = async (id: string): Promise<orders.OrderStatusResponse | undefined> => {
    const s = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(client, 'getOrderStatus', { orderId: id });
    return s.ok ? s.value : undefined;
  };

  const riskView = async (): Promise<RiskView> => (await engine.supervisor.request('risk-manager', 'getRiskState', { accountId: ACCOUNT })) as RiskView;

  /** The simulator's positions as the risk-manager holds them: net size and average price in 1e-9 units. */
  const simPositions = (): Array<{ contractId: string; netSize: number; avgPriceUnits: number }> =>
    sim.positions(ACCOUNT).map((p) => ({
      contractId: String(p['contractId']),
      netSize: p['type'] === 2 ? -Number(p['size']) : Number(p['size']),
      avgPriceUnits: units(Number(p['averagePrice']), 1e9),
    }));

  /**
   * Waits until the risk-manager's positions, balance and (inside the risk clock's trading day) P&L are the
   * simulator's. Rounding aside: the simulator truncates a position's average to 1e-9 and prices each closing fill
   * from that average, the risk book carries the exact cost, so the average may differ by 1 price unit (1e-9) and
   * the realised P&L by 1 money unit (1e-4 USD) per closing fill. Sizes, fees and balance are exact.
   */
  async function expectRiskMatchesSim(what: string): Promise<void> {
    let last = '';
    const matches = async (): Promise<boolean> => {
      const v = await riskView();
      const trades = sim.trades(ACCOUNT);
      const closing = trades.filter((t) => t['profitAndLoss'] !== null).length;
      const simView = {
        positions: simPositions(),
        balanceUnits: units(Number(sim.account(ACCOUNT)!['balance']), 1e4),
        realizedGrossUnits: trades.reduce((n, t) => n + units(Number(t['profitAndLoss'] ?? 0), 1e4), 0),
        feesUnits: trades.reduce((n, t) => n + units(Number(t['fees']), 1e4), 0),
      };
      const riskSide = {
        positions: v.positions.map((p) => ({ contractId: p.contractId, netSize: p.netSize, avgPriceUnits: p.avgPriceUnits })),
        balanceUnits: v.balanceUnits,
        realizedGrossUnits: v.realizedGrossUnits,
        feesUnits: v.feesUnits,
      };
      last = `risk ${JSON.stringify(riskSide)} vs simulator ${JSON.stringify(simView)}`;
      const samePositions =
        riskSide.positions.length === simView.positions.length &&
        riskSide.positions.every((p, i) => {
          const q = simView.positions[i]!;
          return p.contractId === q.contractId && p.netSize === q.netSize && Math.abs(p.avgPriceUnits - q.avgPriceUnits) <= 1;
        });
      // Day totals are the risk clock's trading day: moved to another day (RISK_CLOCK_OFFSET_MS outside trading
      // hours) they do not hold today's fills, and only positions and balance are compared.
      const dayTotals =
        Object.keys(tradingHoursEnv()).length > 0 ||
        (riskSide.feesUnits === simView.feesUnits && Math.abs(riskSide.realizedGrossUnits - simView.realizedGrossUnits) <= closing);
      return samePositions && riskSide.balanceUnits === simView.balanceUnits && dayTotals;
    };
    try {
      await waitFor(matches, 20_000, what);
    } catch {
      throw new Error(`${what}: ${last}`);
    }
  }

  /**
   * A scenario starts flat: a position an earlier failed scenario left is closed at the simulator directly (not
   * through the engine under test), and the risk-manager has seen it.
   */
  async function flatAtSimulator(): Promise<void> {
    if (sim.positions(ACCOUNT).length > 0) {
      const post = async (path: string, body: unknown, token?: string): Promise<Record<string, unknown>> => {
        const res = await request(`${sim.url}/api/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body),
        });
        return (await res.body.json()) as Record<string, unknown>;
      };
      const token = String((await post('Auth/loginKey', { userName: 'demo', apiKey: 'demo-key' }))['token']);
      await post('Position/closeContract', { accountId: ACCOUNT, contractId }, token);
      await waitFor(() => sim.positions(ACCOUNT).length === 0, 20_000, 'flat at the simulator before the scenario');
    }
    await expectRiskMatchesSim('risk-manager = simulator before the scenario');
  }

  for (const { name, faults } of SCENARIOS) {
    it(`${name}: market, limit filled later, PlaceBatch of 20 and ClosePosition end right`, async () => {
      const strategy = `ord_${name}`;
      sim.faults.reset();
      await flatAtSimulator();
      const simBefore = sim.orders(ACCOUNT).length;
      const releasesBefore = release.mock.calls.length;
      sim.faults.set({ reset: true, ...faults });
      try {
        const updates: orders.OrderUpdate[] = [];
        const stream = client.streamOrderUpdates({ strategyName: strategy, accountId: 0 });
        stream.on('data', (u: orders.OrderUpdate) => updates.push(u));
        stream.on('error', () => undefined);
        const placed: orders.OrderResponse[] = [];
        const place = async (req: Partial<orders.OrderRequest>): Promise<orders.OrderResponse> => {
          const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ strategyName: strategy, ...req }));
          if (!r.ok) throw new Error(`placeOrder: ${JSON.stringify(r.error)}`);
          expect(r.value.success).toBe(true);
          placed.push(r.value);
          return r.value;
        };
        const quote = () => sim.quote(contractId);

        // The stream is registered once an order of the strategy shows on it: a limit far below the market,
        // cancelled below (cancels are not in the faults' way).
        const probe = await place({ orderType: 'LIMIT', price: quote().last - 500 });
        await waitFor(() => updates.some((u) => u.orderId === probe.orderId), 20_000, 'the probe order on the stream');

        // 1. A market order.
        const market = await place({ side: 'BUY', quantity: 2 });
        await waitFor(async () => (await status(market.orderId))?.status === 'FILLED', 20_000, 'market order FILLED');
        if (name === 'answers_late') {
          // The ordering did happen: the book learnt the order (by its custom tag) and its fill from the hub before
          // the answer, which then only confirmed it.
          expect(market.status).toBe('FILLED');
          expect(updates.filter((u) => u.orderId === market.orderId).map((u) => u.status)).toEqual(['WORKING', 'FILLED']);
        }

        // 2. A limit order that rests, then fills when the market trades at its price (repeated: with a fill delay
        // the order joins the matching set only after it).
        const limitPx = quote().last - 1;
        const limit = await place({ side: 'BUY', quantity: 1, orderType: 'LIMIT', price: limitPx });
        await waitFor(
          async () => {
            const s = await status(limit.orderId);
            if (s?.status === 'FILLED') return true;
            if (s?.status === 'WORKING') sim.setPrice(contractId, limitPx);
            return false;
          },
          20_000,
          'limit order FILLED',
        );

        // 3. A PlaceBatch of 20 market orders, both sides (net zero).
        const batch = await call<orders.BatchOrderRequest, orders.BatchOrderResponse>(client, 'placeBatch', {
          orders: Array.from({ length: 20 }, (_, i) => orderRequest({ strategyName: strategy, side: i % 2 === 0 ? 'BUY' : 'SELL', quantity: 1 })),
          maxConcurrency: 4,
          allOrNone: false,
        });
        if (!batch.ok) throw new Error(`placeBatch: ${JSON.stringify(batch.error)}`);
        expect(batch.value.succeeded).toBe(20);
        placed.push(...batch.value.results);
        const entries = placed.filter((p) => p.orderId !== probe.orderId);
        await waitFor(async () => (await Promise.all(entries.map((p) => status(p.orderId)))).every((s) => s?.status === 'FILLED'), 30_000, 'every order FILLED');

        const cancel = await call<orders.CancelOrderRequest, orders.CancelOrderResponse>(client, 'cancelOrder', { orderId: probe.orderId });
        expect(cancel.ok && cancel.value.success).toBe(true);
        await waitFor(async () => (await status(probe.orderId))?.status === 'CANCELLED', 20_000, 'probe CANCELLED');

        // Long 3 now, at the broker and in the risk-manager.
        expect(simPositions().map((p) => p.netSize)).toEqual([3]);
        await expectRiskMatchesSim('risk-manager = simulator before the close');

        // 4. ClosePosition: flat at the broker and in the risk-manager.
        const close = await call<orders.ClosePositionRequest, orders.ClosePositionResponse>(client, 'closePosition', {
          symbol: 'MNQ',
          accountId: 0,
          quantity: 0,
          strategyName: strategy,
          clientRequestId: '',
        });
        if (!close.ok) throw new Error(`closePosition: ${JSON.stringify(close.error)}`);
        expect(close.value).toMatchObject({ success: true, closedQuantity: 3 });
        const closeOrders = () => sim.orders(ACCOUNT).slice(simBefore).filter((o) => o['customTag'] === null);
        await waitFor(() => sim.positions(ACCOUNT).length === 0, 20_000, 'flat at the simulator').catch(() => {
          throw new Error(`ClosePosition answered ${JSON.stringify(close.value)} but the simulator holds ${JSON.stringify(simPositions())}; close orders: ${JSON.stringify(closeOrders())}`);
        });
        await expectRiskMatchesSim('risk-manager = simulator after the close');

        // GetOrderStatus: every entry FILLED with the simulator's quantity and average price.
        const simOrders = sim.orders(ACCOUNT).slice(simBefore);
        const byTag = new Map<string, Record<string, unknown>[]>();
        for (const o of simOrders) {
          const tag = String(o['customTag'] ?? '');
          byTag.set(tag, [...(byTag.get(tag) ?? []), o]);
        }
        for (const p of entries) {
          const s = (await status(p.orderId))!;
          const atSim = byTag.get(p.customTag) ?? [];
          expect(atSim, `one simulator order for ${p.customTag}`).toHaveLength(1);
          expect(s).toMatchObject({ status: 'FILLED', filledQuantity: atSim[0]!['fillVolume'], brokerOrderId: atSim[0]!['id'] });
          expect(s.filledQuantity).toBe(s.quantity);
          expect(s.averageFillPrice).toBe(atSim[0]!['filledPrice']);
        }
        expect((await status(limit.orderId))!.averageFillPrice).toBe(limitPx);

        // Nothing sent twice: our orders once each, and one close order (no tag) for the one ClosePosition.
        expect(simOrders.filter((o) => o['customTag'] !== null).length).toBe(placed.length);
        expect(simOrders.filter((o) => o['customTag'] === null)).toEqual([expect.objectContaining({ type: 2, side: 1, size: 3, status: 2, fillVolume: 3 })]);

        // The stream: per order, statuses only move forward, sequences rise, the last one is the book's.
        stream.cancel();
        for (const p of placed) {
          const mine = updates.filter((u) => u.orderId === p.orderId);
          expect(mine.length, `updates of ${p.orderId}`).toBeGreaterThan(0);
          for (let i = 1; i < mine.length; i++) {
            expect(mine[i]!.sequence).toBeGreaterThan(mine[i - 1]!.sequence);
            expect(RANK[mine[i]!.status]!, `${p.orderId}: ${mine.map((u) => u.status).join(' → ')}`).toBeGreaterThanOrEqual(RANK[mine[i - 1]!.status]!);
            expect(FINAL.has(mine[i - 1]!.status), `${p.orderId}: an update after a final status`).toBe(false);
          }
          expect(mine.at(-1)!.status).toBe(p.orderId === probe.orderId ? 'CANCELLED' : 'FILLED');
        }

        // Reservations: each order's released once by the main thread, and nothing left in flight.
        const acct = engine.runtime.accounts[0]!;
        const c = engine.runtime.contracts.find((x) => x.contractId === contractId)!;
        const r = engine.runtime.state.reservations;
        await waitFor(
          () => r.pendingUnits(acct.slot) === 0 && r.pendingOpenOrders(acct.slot) === 0 && r.pending(acct.slot, c.slot, Side.BUY) === 0 && r.pending(acct.slot, c.slot, Side.SELL) === 0,
          20_000,
          'reservations back to zero',
        );
        expect(release.mock.calls.length - releasesBefore).toBe(placed.length);
        expect(samples.every((v) => v >= 0)).toBe(true);
        expect(logs.filter((l) => l.includes('reservation release failed'))).toEqual([]);
      } finally {
        sim.faults.reset();
      }
    }, 180_000);
  }

  it('fills_late: FlattenAll leaves the account flat when the closes fill after their answers', async () => {
    sim.faults.reset();
    await flatAtSimulator();
    const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ strategyName: 'ord_flatten', side: 'SELL', quantity: 2 }));
    expect(r.ok && r.value.success).toBe(true);
    await waitFor(() => simPositions()[0]?.netSize === -2, 20_000, 'short 2 at the simulator');
    await expectRiskMatchesSim('risk-manager = simulator before FlattenAll');
    sim.faults.set({ fillDelayMs: 150 });
    try {
      const flat = await call<orders.FlattenAllRequest, orders.FlattenAllResponse>(client, 'flattenAll', { accountId: 0, halt: false, clientRequestId: '' });
      if (!flat.ok) throw new Error(`flattenAll: ${JSON.stringify(flat.error)}`);
      expect(flat.value).toMatchObject({ success: true, closedPositions: 1, failedContracts: [] });
      await waitFor(() => sim.positions(ACCOUNT).length === 0, 20_000, 'flat at the simulator').catch(() => {
        const closes = sim.orders(ACCOUNT).filter((o) => o['customTag'] === null).slice(-1);
        throw new Error(`FlattenAll answered ${JSON.stringify(flat.value)} but the simulator holds ${JSON.stringify(simPositions())}; its close order: ${JSON.stringify(closes)}`);
      });
      await expectRiskMatchesSim('risk-manager = simulator after FlattenAll');
    } finally {
      sim.faults.reset();
    }
  }, 120_000);
});

// The risk-manager's own flatten (a loss limit) when the broker fills its close after the answer, later than the
// sweep's wait for flat (2 s) and than the enforcement's retry (2 s after the last): the close must neither be
// cancelled by the enforcement's own cancels (the position would stay open: a missed loss limit) nor be sent again by
// a retry while it works (both fill: a naked opposite position).
/** A describe's own simulator (seed 29, quiet) and ready engine in `tmp/orderings-<name>-<pid>`, started before its tests. */
function engineSuite(name: string, env: Record<string, string> = {}, onSim?: (sim: Simulator) => void): { sim: Simulator; engine: RunningEngine; client: OrdersClient; contractId: string } {
  const s = {} as { sim: Simulator; engine: RunningEngine; client: OrdersClient; contractId: string };
  const dataDir = join(ROOT, 'tmp', `orderings-${name}-${process.pid}`);
  beforeAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    s.sim = await createSimulator({ rateLimits: false, seed: 29, market: { tradesPerSecond: 0 } });
    onSim?.(s.sim);
    Object.assign(s, await startReadyEngine(s.sim, dataDir, silentLogger(), env));
    s.client = ordersClient(s.engine.grpcPort);
  }, 240_000);
  afterAll(async () => {
    s.client?.close();
    await s.engine?.stop();
    await s.sim?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return s;
}

describe('loss-limit enforcement when closes fill after the answer', () => {
  /** Net size of every position event the simulator published (long > 0, short < 0). */
  const nets: number[] = [];
  const suite = engineSuite('dll', { RISK_DLL: '200' }, (sim) => sim.on('position', (p) => nets.push(p['type'] === 2 ? -Number(p['size']) : Number(p['size']))));

  it('fills 5 s after the answer: the daily loss limit still flattens the account, exactly once', async () => {
    const { sim, engine, client, contractId } = suite;
    const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ strategyName: 'dll', side: 'BUY', quantity: 2 }));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    await waitFor(() => sim.positions(ACCOUNT)[0]?.['size'] === 2, 20_000, 'long 2 at the simulator');
    sim.faults.set({ fillDelayMs: 5_000 });
    // 100 points down on 2 MNQ: −$400 against a $200 daily loss limit.
    sim.setPrice(contractId, sim.quote(contractId).last - 100);
    const risk = async () => (await engine.supervisor.request('risk-manager', 'getRiskState', { accountId: ACCOUNT })) as { tradingState: string; reason: string; positions: unknown[] };
    await waitFor(async () => (await risk()).tradingState === 'HALTED', 20_000, 'HALTED on the daily loss limit');
    expect((await risk()).reason).toBe('DAILY_LOSS_LIMIT');
    await waitFor(() => sim.positions(ACCOUNT).length === 0, 30_000, 'flat at the simulator').catch(() => {
      const closes = sim.orders(ACCOUNT).filter((o) => o['customTag'] === null);
      throw new Error(`not flat: ${JSON.stringify(sim.positions(ACCOUNT))}; closes: ${JSON.stringify(closes.map((o) => ({ id: o['id'], status: o['status'], size: o['size'], fillVolume: o['fillVolume'] })))}`);
    });
    // Let every close still working fill (or not): none may take the account through zero.
    await waitFor(() => sim.orders(ACCOUNT).every((o) => o['status'] !== 1), 20_000, 'no order of the account still working');
    expect(sim.positions(ACCOUNT)).toEqual([]);
    expect(nets.every((n) => n >= 0)).toBe(true);
    const closes = sim.orders(ACCOUNT).filter((o) => o['customTag'] === null && o['fillVolume'] !== 0);
    expect(closes.reduce((n, o) => n + Number(o['fillVolume']), 0)).toBe(2);
    await waitFor(async () => (await risk()).positions.length === 0, 20_000, 'flat in the risk-manager');
  }, 120_000);
});

describe('an Order/place answer that comes after the executor gave up on it', () => {
  const suite = engineSuite('late-answer');

  it('the hub events placed and filled it: PlaceOrder answers the order, not UNKNOWN_OUTCOME, and sends it once', async () => {
    const { sim, client } = suite;
    // The simulator places and fills the order (its hub events go out at once) and answers 11 s later: past the
    // executor's 10 s request timeout, within the client's deadline.
    sim.faults.set({ answerDelayByEndpoint: { 'Order/place': 11_000 } });
    const r = await call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ strategyName: 'late_answer' }), 60_000);
    sim.faults.reset();
    if (!r.ok) throw new Error(`PlaceOrder failed: ${JSON.stringify(r.error)}`);
    const placed = sim.orders(ACCOUNT).filter((o) => o['customTag'] === r.value.customTag);
    expect(placed).toHaveLength(1);
    expect(r.value.success).toBe(true);
    expect(r.value.brokerOrderId).toBe(Number(placed[0]!['id']));
    const s = await call<orders.OrderStatusRequest, orders.OrderStatusResponse>(client, 'getOrderStatus', { orderId: r.value.orderId });
    if (!s.ok) throw new Error(JSON.stringify(s.error));
    expect(s.value.status).toBe('FILLED');
  }, 120_000);
});
