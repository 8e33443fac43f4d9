// An executor thread that dies holding a risk-gate reservation (ADR 0003 "Releasing"): real piscina threads running
// this app's worker with a test fault cued by strategy name (ExecutorPoolOptions.faults), the simulator in this
// process (port 0), shared memory from bootstrapRuntime, and the front door's orders service on the main thread. The
// risk-manager is stood in for: an ACTIVE account and fresh marks in shared memory, user.order events emitted by hand.
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestSimulator, freshDataDir, startOrdersHarness, TEST_ACCOUNT as ACCOUNT, waitFor, type OrdersHarness } from '@gateway/front-door/testing';
import type { ExecutorFault } from '@gateway/runtime';
import type { Simulator } from '@gateway/topstepx-sim';

interface Harness extends OrdersHarness {
  pendingUnits(): number;
  pendingOpenOrders(): number;
}

describe('an executor thread that dies holding a reservation', () => {
  let sim: Simulator;
  const open: Harness[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    sim = await createTestSimulator(11);
  }, 60_000);

  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
  });

  afterAll(async () => {
    await sim?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function start(name: string, maxPositionUnits: number, faults: ExecutorFault[]): Promise<Harness> {
    const dir = freshDataDir(`executor-death-${process.pid}-${name}`);
    dirs.push(dir);
    const base = await startOrdersHarness({
      sim,
      dataDir: dir,
      account: { maxPositionUnits, maxOpenOrders: 100 },
      executor: { maxQueue: 100, faults },
      // An order absent at the broker is declared never placed after three searches, without the 30 s wait.
      orders: 'service',
      ordersOptions: { absentAfterMs: 0 },
      captureLogs: true,
    });
    const r = base.runtime.state.reservations;
    const h: Harness = {
      ...base,
      pendingUnits: () => r.pendingUnits(base.acctSlot),
      pendingOpenOrders: () => r.pendingOpenOrders(base.acctSlot),
    };
    open.push(h);
    return h;
  }

  /** A working order: a buy limit 100 points under the market. */
  function restingBuy(strategyName: string, clientOrderId: string, quantity: number) {
    const mnq = open[0]!.runtime.contracts[0]!.contractId;
    return { symbol: 'MNQ', side: 'BUY', quantity, orderType: 'LIMIT', price: Math.round(sim.quote(mnq).last - 100), strategyName, clientOrderId };
  }
  const atBroker = (strategy: string): Array<Record<string, unknown> & { id: number; customTag: string }> =>
    (sim.orders(ACCOUNT) as unknown as Array<Record<string, unknown> & { id: number; customTag?: string }>).filter(
      (o): o is Record<string, unknown> & { id: number; customTag: string } => typeof o.customTag === 'string' && o.customTag.includes(`-strategy-${strategy}-`),
    );
  /** The risk-manager's user.order event for an order at the broker (it has applied it to shared memory first). */
  const userOrder = (h: Harness, order: Record<string, unknown>): void => void h.supervisor.emit('event', 'risk-manager', 'user.order', order);

  it.each(['exit', 'uncaught'] as const)(
    'dies after claiming (%s): the claim follows the unknown order, is released once it resolves, and the size passes again',
    async (how) => {
      const strategy = `die${how}`;
      // At most 2 MNQ (weight 1): the lost order holds all of it.
      const h = await start(`claim-${how}`, 2, [{ strategy, when: 'after-claim', how }]);
      const lost = await h.svc.place(restingBuy(strategy, `lost-${how}`, 2), 0);
      expect(lost.error?.code).toBe('UNKNOWN_OUTCOME');
      expect(atBroker(strategy)).toHaveLength(0);
      // Unresolved, it may still be on the wire as far as the engine knows: its size stays held (fail closed).
      expect(h.pendingUnits()).toBe(2);
      const meanwhile = await h.svc.place(restingBuy('review', `meanwhile-${how}`, 1), 0);
      expect(meanwhile.error?.code).toBe('MAX_POSITION');
      // Absent from the broker's orders by its custom tag: never placed, and its reservation released.
      await waitFor(() => h.svc.status(lost.response.orderId).sm.record.status === 'REJECTED', 60_000, 'the lost order resolved as never placed');
      expect(h.pendingUnits()).toBe(0);
      expect(h.pendingOpenOrders()).toBe(0);
      await waitFor(() => h.executor.pool.threads.length === 1, 30_000, 'piscina to replace the thread');
      const again = await h.svc.place(restingBuy('review', `again-${how}`, 2), 0);
      expect(again.error).toBeUndefined();
      expect(atBroker('review').some((o) => o.id === again.response.brokerOrderId)).toBe(true);
      expect(h.executor.ledger.armed()).toBe(0);
    },
    120_000,
  );

  it('releases each reservation once: answered orders, a repeated event, and a thread that dies right after answering', async () => {
    const h = await start('once', 10, [{ strategy: 'dielate', when: 'after-answer', how: 'exit' }]);
    // Held until the risk-manager has seen it; its event is never delivered here, so its unit stays reserved:
    // a second release of any other order would take that unit rather than fail loudly.
    const kept = await h.svc.place(restingBuy('review', 'kept', 1), 0);
    expect(kept.error).toBeUndefined();
    const seen = await h.svc.place(restingBuy('review', 'seen', 2), 0);
    expect(seen.error).toBeUndefined();
    expect(h.pendingUnits()).toBe(3);
    const seenRow = atBroker('review').find((o) => o.id === seen.response.brokerOrderId)!;
    userOrder(h, seenRow);
    userOrder(h, seenRow);
    expect(h.pendingUnits()).toBe(1);
    const denied = await h.svc.place(restingBuy('review', 'denied', 10), 0);
    expect(denied.error?.code).toBe('MAX_POSITION');
    expect(h.pendingUnits()).toBe(1);

    // The answer is posted, then the thread exits: piscina resolves the task or rejects it, whichever it sees
    // first, and the claim is taken over from the answer or from the ledger — once either way.
    const late = await h.svc.place(restingBuy('dielate', 'late', 3), 0);
    await waitFor(() => atBroker('dielate').length === 1, 30_000, 'the late order at the broker');
    await waitFor(() => h.executor.pool.threads.length === 1 && h.logs.some((l) => l.includes('executor thread exited')), 30_000, 'the thread to exit and be replaced');
    await waitFor(() => h.svc.status(late.response.orderId).sm.record.brokerOrderId !== undefined, 30_000, 'the late order known by its broker id');
    // Answered: held until the risk-manager's event. Unknown: found by its tag, and released then (found at the
    // broker, the risk-manager counts it); the event that follows releases nothing more.
    userOrder(h, atBroker('dielate')[0]!);
    await waitFor(() => h.svc.status(late.response.orderId).reservation === undefined, 30_000, 'the late order to give its reservation back');
    expect(h.pendingUnits()).toBe(1);
    expect(h.pendingOpenOrders()).toBe(1);
    expect(h.logs.filter((l) => l.includes('reservation release failed'))).toEqual([]);
    expect(h.executor.ledger.armed()).toBe(0);
  }, 120_000);
});
