import { describe, expect, it } from 'vitest';
import { Side, allocateSharedState, attachSharedState } from '../src/index';
import type { ContentionParams } from './workers/contention';
import { CTL } from './support/records';
import { startWorker } from './support/spawn';

interface Result {
  granted: number;
  denied: number;
  overLimit: number;
  heldUnits: number[];
  heldSides: number[];
  openGranted: number;
  openDenied: number;
  openOver: number;
  heldOpen: number[];
  grants: number[];
  rateDenied: number;
  orderGrants: number[];
}

const THREADS = 4;
const SEEDS = [11, 2024, 90210];
const RATE_LIMIT = 20;
const RATE_WINDOW_MS = 100;
const ORDER_RATE_LIMIT = 30;

/** Largest number of grant times inside any half-open window [t, t + windowMs). */
function maxInWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (j < t.length && t[j]! < t[i]! + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

describe('window checker', () => {
  it('counts the fullest window', () => {
    expect(maxInWindow([0, 5, 9, 10, 19], 10)).toBe(3);
    expect(maxInWindow([0, 10, 20], 10)).toBe(1);
    expect(maxInWindow([3, 3, 3], 1)).toBe(3);
  });
});

describe.each(SEEDS)(`seed %i: ${THREADS} threads contending`, (seed) => {
  it('never exceed position, open-order and rate limits, and the shared sums equal what was granted', async () => {
    const contracts = 3;
    const accounts = 2;
    const shared = allocateSharedState({ contracts, accounts, rateLogCapacity: 64 });
    const main = attachSharedState(shared);
    main.rate.configure('general', { limit: RATE_LIMIT, windowMs: RATE_WINDOW_MS, enabled: true });
    const ctlBuffer = new SharedArrayBuffer(CTL.WORDS * 4);
    const ctl = new Int32Array(ctlBuffer);
    const base: Omit<ContentionParams, 'seed'> = {
      ops: 20_000,
      accounts,
      contracts,
      weights: [10, 1, 10],
      limitUnits: 100,
      currentUnits: [20, 0],
      maxOpenOrders: 7,
      rateAttempts: 5_000,
      rateMaxStepMs: 3,
      orderRateLimit: ORDER_RATE_LIMIT,
      orderRateMaxStepMs: 200,
      t0: 1_764_000_000_000,
    };
    const workers = Array.from({ length: THREADS }, (_, i) =>
      startWorker<Result>('./contention.ts', { shared, ctlBuffer, params: { ...base, seed: seed * 100 + i } }),
    );
    await Promise.all(workers.map((w) => w.ready));
    Atomics.store(ctl, CTL.GO, 1);
    Atomics.notify(ctl, CTL.GO);
    const rs = await Promise.all(workers.map((w) => w.done));

    const granted = rs.reduce((n, r) => n + r.granted, 0);
    const denied = rs.reduce((n, r) => n + r.denied, 0);
    const grants = rs.flatMap((r) => r.grants);
    const orderGrants = rs.flatMap((r) => r.orderGrants);
    console.log(
      `seed ${seed}: reservations ${granted} granted / ${denied} denied; open orders ${rs.reduce((n, r) => n + r.openGranted, 0)} / ` +
        `${rs.reduce((n, r) => n + r.openDenied, 0)}; rate ${grants.length} granted / ${rs.reduce((n, r) => n + r.rateDenied, 0)} denied, ` +
        `fullest window ${maxInWindow(grants, RATE_WINDOW_MS)}/${RATE_LIMIT}; order rate ${orderGrants.length} granted, fullest minute ${maxInWindow(orderGrants, 60_000)}/${ORDER_RATE_LIMIT}`,
    );

    // Reservations: no observation over the limit, and contention really happened (denials exist).
    for (const r of rs) {
      expect(r.overLimit).toBe(0);
      expect(r.openOver).toBe(0);
    }
    expect(granted).toBeGreaterThan(1000);
    expect(denied).toBeGreaterThan(100);
    for (let a = 0; a < accounts; a++) {
      const held = rs.reduce((n, r) => n + r.heldUnits[a]!, 0);
      expect(main.reservations.pendingUnits(a)).toBe(held);
      expect(held + base.currentUnits[a]!).toBeLessThanOrEqual(base.limitUnits);
      expect(main.reservations.pendingOpenOrders(a)).toBe(rs.reduce((n, r) => n + r.heldOpen[a]!, 0));
      expect(main.reservations.pendingOpenOrders(a)).toBeLessThanOrEqual(base.maxOpenOrders);
      for (let c = 0; c < contracts; c++) {
        for (const side of [Side.BUY, Side.SELL]) {
          const sum = rs.reduce((n, r) => n + r.heldSides[(a * contracts + c) * 2 + side]!, 0);
          expect(main.reservations.pending(a, c, side)).toBe(sum);
        }
      }
    }

    // Rate budget: never more than `limit` grants in any window, and the shared counter equals the grants seen.
    expect(grants.length).toBe(main.rate.granted('general'));
    expect(grants.length).toBeGreaterThan(RATE_LIMIT);
    expect(maxInWindow(grants, RATE_WINDOW_MS)).toBeLessThanOrEqual(RATE_LIMIT);
    expect(orderGrants.length).toBe(main.rate.grantedOrders(0));
    expect(orderGrants.length).toBeGreaterThan(ORDER_RATE_LIMIT);
    expect(maxInWindow(orderGrants, 60_000)).toBeLessThanOrEqual(ORDER_RATE_LIMIT);
    expect(main.brokenCanaries()).toEqual([]);
  }, 180_000);
});
