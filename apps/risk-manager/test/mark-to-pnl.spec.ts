// risk_mark_to_pnl_seconds with the real worker against the simulator: one observation per new mark
// version that reaches an open position's P&L in shared memory, none while the account has no position.
// Counts only: the times depend on the machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRICE_SCALE } from '@gateway/shared-state';
import { startHarness, waitFor, type Harness } from './harness';

const METRIC = 'risk_mark_to_pnl_seconds';

describe('risk-manager: mark → P&L latency metric (simulator)', () => {
  let h: Harness;

  /** The histogram's observation count in the worker's registry (labels app="risk-manager"). */
  const count = async (): Promise<number> => {
    const [json] = await h.supervisor.collectMetrics(10_000);
    const metric = json?.find((m) => m.name === METRIC);
    if (metric === undefined) throw new Error(`${METRIC} is not in the risk-manager's registry`);
    // Histogram values as JSON: one row per bucket, plus _sum and _count rows named by metricName.
    const v = metric.values.find((x) => (x as { metricName?: string }).metricName === `${METRIC}_count`);
    expect(v?.labels['app']).toBe('risk-manager');
    return v?.value ?? 0;
  };
  /** A trade mark written the way market-data writes it: wall-clock write time. */
  const mark = (price: number): void => {
    const now = Date.now();
    h.runtime.state.marks.writeTrade(h.contractSlot, Math.round(price * PRICE_SCALE), now, now);
  };

  beforeAll(async () => {
    h = await startHarness();
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('observes nothing while the account has no position', async () => {
    const before = await count();
    for (let i = 1; i <= 3; i++) {
      mark(20_000 + i);
      // Two evaluations later (RISK_EVAL_INTERVAL_MS 50) the mark has been read, if it ever will be.
      const updated = h.account().updatedMs;
      await waitFor('two publishes', () => h.account().updatedMs >= updated + 100);
    }
    expect(await count()).toBe(before);
  });

  it('observes each mark change once it is in the published P&L of an open position', async () => {
    h.move(20_000);
    await h.market(0, 1);
    await waitFor('long 1 published', () => h.position().netSize === 1);
    // Open P&L of the long at a price: MNQ ticks of 0.25 worth $0.50 (money units 1e-4 USD).
    const avg = h.position().avgPrice;
    const pnlAt = (price: number): number => ((Math.round(price * PRICE_SCALE) - avg) / 250_000_000) * 5_000;
    mark(19_990);
    await waitFor('marked at 19990', () => h.position().unrealized === pnlAt(19_990));
    const before = await count();
    const changes = 5;
    for (let i = 1; i <= changes; i++) {
      mark(20_000 + i);
      await waitFor(`P&L at ${20_000 + i} published`, () => h.position().unrealized === pnlAt(20_000 + i));
    }
    expect(await count()).toBe(before + changes);
  });
});
