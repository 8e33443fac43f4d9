// Acceptance, periodic drift check, with the real worker against the simulator: a fill whose user-hub events are
// lost while the socket stays up (the simulator's userEventsDropped fault) leaves the book wrong until the check
// (RISK_RECONCILE_INTERVAL_MS, 300 ms here) finds the broker's position different twice and rebuilds the day; a
// book that matches the broker is never rebuilt. Waits on counts and published values, never on time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, ACCOUNT_ID, type Harness } from './harness';

describe('risk-manager: periodic drift check against the broker (simulator)', () => {
  let h: Harness;
  const requests: string[] = [];

  /** A counter's value in the risk-manager's registry, summed over the rows matching `labels`. */
  const counter = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const [json] = await h.supervisor.collectMetrics(10_000);
    const metric = json?.find((m) => m.name === name);
    if (metric === undefined) throw new Error(`${name} is not in the risk-manager's registry`);
    return metric.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
  };
  /** Polls an async probe (bounded in time). */
  const eventually = async (what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const checks = (): Promise<number> => counter('risk_reconcile_checks_total');
  const drifts = (): Promise<number> => counter('risk_reconcile_drift_total', { kind: 'position' });
  /** The broker's balance in money units (1e-4 USD). */
  const brokerBalance = (): number => Math.round((h.sim.account(ACCOUNT_ID)!['balance'] as number) * 10_000);

  beforeAll(async () => {
    // Checks every 300 ms would spend the risk-manager's own rate share (30 / 61 s) within seconds.
    h = await startHarness({ RISK_RECONCILE_INTERVAL_MS: '300', BROKER_RATE_LIMIT: 'false' });
    h.sim.on('request', ({ endpoint }) => requests.push(endpoint));
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
    h.move(20_000);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('leaves a book that matches the broker alone: checks complete, nothing is rebuilt', async () => {
    await h.market(1, 2);
    await waitFor('short 2 published from the hub events', () => h.position().netSize === -2);
    expect(h.brokerNet()).toBe(-2);
    const rebuildsBefore = requests.filter((e) => e === 'Trade/search').length;
    const from = await checks();
    await eventually('four more completed checks', async () => (await checks()) >= from + 4);
    expect(await drifts()).toBe(0);
    // A rebuild reads the day's trades: none was asked for.
    expect(requests.filter((e) => e === 'Trade/search').length).toBe(rebuildsBefore);
    expect(h.position().netSize).toBe(-2);
  }, 60_000);

  it('repairs a position, its P&L and the balance after a fill whose hub events were all lost', async () => {
    const feesBefore = h.account().fees;
    const balanceBefore = h.account().balance;
    expect(balanceBefore).toBe(brokerBalance());
    // A filled market order: order added, trade, position, account, order filled.
    h.sim.faults.set({ userEventsDropped: 5 });
    await h.market(0, 3);
    expect(h.sim.faults.current().userEventsDropped).toBe(0);
    // The drop is real: the broker is long 1, the published book still short 2 with the old fees and balance.
    expect(h.brokerNet()).toBe(1);
    expect(h.position().netSize).toBe(-2);
    expect(h.account().fees).toBe(feesBefore);
    expect(brokerBalance()).not.toBe(balanceBefore);

    await waitFor('the broker position published', () => h.position().netSize === 1, 30_000);
    expect(await drifts()).toBeGreaterThanOrEqual(1);
    // The lost trade is in the book now: its fees (3 × $0.37) count, and the balance is the broker's.
    expect(h.account().fees).toBe(feesBefore + 3 * 3_700);
    await waitFor('the broker balance published', () => h.account().balance === brokerBalance(), 30_000);
    expect(h.runtime.state.accounts.isReady(h.accountSlot)).toBe(true);
  }, 60_000);

  it('applies a fill while a check is reading the broker: the event does not wait for the slow REST read', async () => {
    expect(h.position().netSize).toBe(1);
    const done = (endpoint: string): number => requests.filter((e) => e === endpoint).length;
    const rebuildsBefore = done('Trade/search');
    const driftsBefore = await drifts();
    h.sim.faults.set({ latencyByEndpoint: { 'Position/searchOpen': 6_000 } });
    // A check reads both at once: its Account/search answers at once, its Position/searchOpen 6 s later.
    const positionsDone = await new Promise<number>((resolve) => {
      const onRequest = ({ endpoint }: { endpoint: string }): void => {
        if (endpoint !== 'Account/search') return;
        h.sim.off('request', onRequest);
        resolve(done('Position/searchOpen'));
      };
      h.sim.on('request', onRequest);
    });
    await h.market(0, 1);
    await waitFor('the fill published', () => h.position().netSize === 2, 30_000);
    // Published while the check's read was still in flight.
    expect(done('Position/searchOpen')).toBe(positionsDone);

    h.sim.faults.set({ latencyByEndpoint: { 'Position/searchOpen': 0 } });
    await eventually('the slow read answered', async () => done('Position/searchOpen') > positionsDone);
    const from = await checks();
    await eventually('two more completed checks', async () => (await checks()) >= from + 2);
    // The fill is counted once (the read's answer included it): no drift, no rebuild.
    expect(await drifts()).toBe(driftsBefore);
    expect(done('Trade/search')).toBe(rebuildsBefore);
    expect(h.position().netSize).toBe(2);
    expect(h.brokerNet()).toBe(2);
  }, 60_000);

  it('repairs a lost fill while another fill lands during the rebuild\'s read: neither is lost or counted twice', async () => {
    const done = (endpoint: string): number => requests.filter((e) => e === endpoint).length;
    const driftsBefore = await drifts();
    // The rebuild reads the day's trades slowly: the second fill lands while that read is in flight.
    h.sim.faults.set({ latencyByEndpoint: { 'Trade/search': 2_000 } });
    h.sim.faults.set({ userEventsDropped: 5 });
    await h.market(0, 1);
    expect([h.brokerNet(), h.position().netSize]).toEqual([3, 2]);
    await eventually('the drift confirmed', async () => (await drifts()) > driftsBefore);
    const rebuildsBefore = done('Trade/search');
    await h.market(0, 1);
    expect(h.brokerNet()).toBe(4);
    // From here the published size only goes up to the broker's. A rebuild applied with the sizes read before
    // the second fill would take that fill away again, and a further drift would be needed to repair it.
    const seen: number[] = [];
    await waitFor('the broker size published and both rebuild reads done', () => {
      const n = h.position().netSize;
      if (seen.at(-1) !== n) seen.push(n);
      return n === 4 && done('Trade/search') >= rebuildsBefore + 2;
    }, 30_000);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    h.sim.faults.set({ latencyByEndpoint: { 'Trade/search': 0 } });
    const from = await checks();
    await eventually('two more completed checks', async () => (await checks()) >= from + 2);
    expect(await drifts()).toBe(driftsBefore + 1);
    expect(h.position().netSize).toBe(4);
    // Every fill's fees once.
    const brokerFees = h.sim.trades(ACCOUNT_ID).reduce((n, t) => n + Math.round((t['fees'] as number) * 10_000), 0);
    expect(h.account().fees).toBe(brokerFees);
  }, 60_000);
});
