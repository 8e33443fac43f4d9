// The orders service against real components: the simulator (in this process, port 0), a broker session
// and shared memory from bootstrapRuntime, and the real order-executor threads in an ExecutorPool. The
// risk-manager is stood in for (an ACTIVE account and fresh marks in shared memory; user.order events are
// emitted by hand where a test needs them).
import { readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '@gateway/topstepx-sim';
import { JournalWriter, intentOf } from '@gateway/order-journal';
import { createTestSimulator, freshDataDir, startOrdersHarness, TEST_ACCOUNT as ACCOUNT, waitFor, type OrdersHarness } from '../testing';

describe('OrdersService with real executor threads', () => {
  let sim: Simulator;
  const open: OrdersHarness[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    sim = await createTestSimulator(7);
  }, 60_000);

  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
    sim.faults.reset();
  });

  afterAll(async () => {
    await sim?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function dataDir(name: string): string {
    const d = freshDataDir(`orders-service-${process.pid}-${name}`);
    dirs.push(d);
    return d;
  }

  async function start(dir: string, maxPositionUnits = 1_000_000): Promise<OrdersHarness> {
    const h = await startOrdersHarness({ sim, dataDir: dir, orders: 'service', account: { maxPositionUnits } });
    open.push(h);
    return h;
  }

  /** A working order: a buy limit 100 points under the market. */
  const restingBuy = (clientOrderId: string, quantity = 1) => {
    const price = Math.round(sim.quote(contractOf()).last - 100);
    return { symbol: 'MNQ', side: 'BUY', quantity, orderType: 'LIMIT', price, strategyName: 'review', clientOrderId };
  };
  let mnq = '';
  const contractOf = (): string => mnq;
  const ours = (): Array<{ id: number; customTag: string }> =>
    (sim.orders(ACCOUNT) as unknown as Array<{ id: number; customTag?: string }>).filter((o): o is { id: number; customTag: string } => typeof o.customTag === 'string' && o.customTag.includes('-strategy-review-'));

  beforeAll(async () => {
    const probe = await start(dataDir('probe'));
    mnq = probe.runtime.contracts[0]!.contractId;
    await probe.close();
    open.splice(0);
  }, 120_000);

  it('an executor thread that dies with the order on the wire: the order is not REJECTED and its client order id is not placed again', async () => {
    const h = await start(dataDir('thread-death'));
    const before = ours().length;
    // The simulator creates the order but never answers; the thread dies while it waits.
    sim.faults.set({ placeTimeouts: 1, placeTimeoutMode: 'hang' });
    const first = h.svc.place(restingBuy('death-1'), 0);
    await waitFor(() => ours().length === before + 1, 30_000, 'the order at the broker');
    await h.executor.pool.threads[0]!.terminate();
    const r = await first;
    expect(r.response.status).not.toBe('REJECTED');
    expect(r.error?.code).toBe('UNKNOWN_OUTCOME');
    // A client retrying after the error must get the first order, not a second one at the broker.
    await waitFor(() => h.executor.pool.threads.length === 1, 30_000, 'piscina to replace the thread');
    const again = await h.svc.place(restingBuy('death-1'), 0);
    expect(again.response.orderId).toBe(r.response.orderId);
    expect(ours().length).toBe(before + 1);
    // And the resolver finds it at the broker by its tag.
    await waitFor(() => h.svc.status(r.response.orderId).sm.record.status === 'WORKING', 30_000, 'the order resolved WORKING');
  }, 120_000);

  it('all_or_none: a client order id used twice in the batch with other parameters sends nothing and reserves nothing', async () => {
    const h = await start(dataDir('aon-dup'));
    const before = ours().length;
    const res = await h.svc.placeBatch({ orders: [restingBuy('aon-x', 1), restingBuy('aon-x', 2)], allOrNone: true }, 0);
    expect(res.succeeded).toBe(0);
    expect(ours().length).toBe(before);
    expect(res.results.map((x) => x.reasonCode)).toEqual(['ALREADY_EXISTS', 'ALREADY_EXISTS']);
    expect(h.runtime.state.reservations.pendingUnits(h.acctSlot)).toBe(0);
    expect(h.runtime.state.reservations.pendingOpenOrders(h.acctSlot)).toBe(0);
    // The same against an order already on the book.
    const first = await h.svc.place(restingBuy('aon-e', 1), 0);
    expect(first.error).toBeUndefined();
    const sent = ours().length;
    const res2 = await h.svc.placeBatch({ orders: [restingBuy('aon-f', 1), restingBuy('aon-e', 2)], allOrNone: true }, 0);
    expect(res2.succeeded).toBe(0);
    expect(ours().length).toBe(sent);
    expect(res2.results[1]!.reasonCode).toBe('ALREADY_EXISTS');
  }, 120_000);

  it('ModifyOrder cannot raise a working order past the risk gate (refused naming quantity, the order unchanged)', async () => {
    // At most 2 MNQ (weight 1): a 1-lot passes the gate; a modify to 5 must not.
    const h = await start(dataDir('modify-up'), 2);
    const r = await h.svc.place(restingBuy('modify-up'), 0);
    expect(r.error).toBeUndefined();
    await expect(h.svc.modify({ orderId: r.response.orderId, quantity: 5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'quantity' });
    const atBroker = (sim.orders(ACCOUNT) as unknown as Array<{ id: number; size: number }>).find((o) => o.id === r.response.brokerOrderId);
    expect(atBroker?.size).toBe(1);
    // Lowering stays allowed.
    const down = await h.svc.modify({ orderId: r.response.orderId, quantity: 1 });
    expect(down.success).toBe(true);
  }, 120_000);

  it('restart: an unanswered order found working at the broker gives back the reservation the replay took for it', async () => {
    const dir = dataDir('restart-working');
    const h1 = await start(dir);
    // The order reaches the broker, the connection drops before the answer: an unknown outcome.
    sim.faults.set({ placeTimeouts: 1, placeTimeoutMode: 'reset' });
    const r = await h1.svc.place(restingBuy('restart-w'), 0);
    expect(r.error?.code).toBe('UNKNOWN_OUTCOME');
    await h1.close();
    open.splice(open.indexOf(h1), 1);
    const h2 = await start(dir);
    expect(h2.svc.status(r.response.orderId).sm.record.status).toBe('WORKING');
    // The risk-manager counts a working order itself (reconciled at its start): a reservation on top blocks size for nothing.
    expect(h2.runtime.state.reservations.pendingUnits(h2.acctSlot)).toBe(0);
    expect(h2.runtime.state.reservations.pendingOpenOrders(h2.acctSlot)).toBe(0);
  }, 120_000);

  it('restart: an unanswered order of another account in the journal does not keep this account\'s orders UNKNOWN', async () => {
    const dir = dataDir('foreign-account');
    const h1 = await start(dir);
    sim.faults.set({ placeTimeouts: 1, placeTimeoutMode: 'reset' });
    const r = await h1.svc.place(restingBuy('foreign-w'), 0);
    expect(r.error?.code).toBe('UNKNOWN_OUTCOME');
    await h1.close();
    open.splice(open.indexOf(h1), 1);
    // An earlier run traded account 9999 (since switched: the broker now answers "Account not found" for it).
    const old = new JournalWriter(dir, '1-1');
    const at = Date.now() - 60_000;
    await old.appendIntent(
      intentOf(
        {
          kind: 'place', orderId: 'old-1', accountId: 9999, accountSlot: 0, contractId: mnq, contractSlot: 0, symbol: 'MNQ', side: 'BUY', quantity: 1,
          orderType: 'MARKET', brokerType: 2, reduceOnly: false, strategyName: 'review', clientOrderId: '', paramsKey: '', customTag: 'TradingBot-v1.0-strategy-review-MARKET-0-1790000000',
          counter: 0, createdAtMs: at, deadlineMs: 0,
        },
        at,
      ),
    );
    old.close();
    const h2 = await start(dir);
    await waitFor(() => h2.svc.status(r.response.orderId).sm.record.status === 'WORKING', 20_000, 'the order of this account resolved WORKING');
  }, 120_000);

  it('restart: a client order id refused once then placed stays bound whatever the order of the journal files', async () => {
    const dir = dataDir('replay-order');
    const h1 = await start(dir);
    // A batch whose deadline has passed: both intents journalled, neither sent (not-sent DEADLINE).
    const refused = await h1.svc.placeBatch({ orders: [restingBuy('order-x'), restingBuy('order-z')] }, Date.now() - 1);
    expect(refused.results.map((x) => x.reasonCode)).toEqual(['DEADLINE', 'DEADLINE']);
    await h1.close();
    open.splice(open.indexOf(h1), 1);
    // The first run was pid 999: its files sort after those of a later pid 1000 ("1000" < "999").
    for (const n of readdirSync(dir)) renameSync(join(dir, n), join(dir, n.replace(/^journal-\d+-/, 'journal-999-')));
    const h2 = await start(dir);
    const placed = await h2.svc.place(restingBuy('order-x'), 0);
    expect(placed.error).toBeUndefined();
    await h2.close();
    open.splice(open.indexOf(h2), 1);
    for (const n of readdirSync(dir)) if (!n.startsWith('journal-999-')) renameSync(join(dir, n), join(dir, n.replace(/^journal-\d+-/, 'journal-1000-')));
    const h3 = await start(dir);
    const before = ours().length;
    const again = await h3.svc.place(restingBuy('order-x'), 0);
    expect(again.response.duplicate).toBe(true);
    expect(again.response.orderId).toBe(placed.response.orderId);
    expect(ours().length).toBe(before);
  }, 180_000);
});
