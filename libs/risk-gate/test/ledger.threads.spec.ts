// Real worker threads that die holding risk-gate reservations recorded in the reservation ledger, several at once on
// the same account (seeded: spins, sides, sizes, how many are handed over, exit or uncaught error). The main thread
// takes each reservation over from the answer a thread posted or, once that thread is gone, from its ledger entry —
// whichever it sees first, as piscina drops an answer that arrives after it rejected the task. Every claim comes
// back exactly once: the in-flight totals end at zero, and no release underflows.
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allocateLedger, allocateSharedState, attachLedger, Side, type LedgerHold } from '@gateway/shared-state';
import { RiskGate, type Reservation } from '../src/index';
import { fixture, IN_SESSION_MS } from './support';

const ENTRY = fileURLToPath(new URL('./workers/entry.mjs', import.meta.url));
const THREADS = 3;
const ORDERS = 20;

describe('ledger: threads that die holding reservations', () => {
  it.each([1, 2, 3, 4])('seed %i: every claim is released once, from the answer or from the ledger', async (seed) => {
    let rng = seed * 7919;
    const next = (n: number): number => {
      rng = (rng * 48271) % 2147483647;
      return rng % n;
    };
    const buffers = allocateSharedState({ contracts: 4, accounts: 2 });
    const f = fixture(buffers);
    f.publish({ maxPositionUnits: 10_000, maxOpenOrders: 1_000, maxOrdersPerMinute: 0 });
    const ledgerBuffers = allocateLedger(THREADS * ORDERS);
    const ledger = attachLedger(ledgerBuffers);
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    let fromAnswers = 0;
    let fromLedger = 0;
    let handedOver = 0;
    const runs = Array.from({ length: THREADS }, (_, t) => {
      const holds: LedgerHold[] = Array.from({ length: ORDERS }, () => ledger.arm()!);
      const open = new Map(holds.map((h) => [h.entry, h]));
      const handOver = next(ORDERS + 1);
      handedOver += handOver;
      const how = next(2) === 0 ? 'exit' : 'uncaught';
      const w = new Worker(ENTRY, {
        workerData: { script: './holder.ts', buffers, ledger: ledgerBuffers, holds, handOver, how, seed: seed * 31 + t, nowMs: IN_SESSION_MS, accountSlot: f.acct, contractSlot: f.es },
      });
      w.on('message', (m: { entry: number; reservation: Reservation }) => {
        const hold = open.get(m.entry);
        if (!hold) return;
        open.delete(m.entry);
        ledger.settle(hold);
        gate.release(m.reservation);
        fromAnswers++;
      });
      return new Promise<void>((resolve) => {
        const takeOver = (): void => {
          for (const hold of open.values()) {
            const claim = ledger.reclaim(hold);
            if (claim) {
              gate.release(claim);
              fromLedger++;
            }
          }
          open.clear();
          // After an uncaught error the exit follows: wait for it, so no thread outlives the test.
          if (w.threadId === -1) resolve();
          else w.once('exit', () => resolve());
        };
        w.once('error', takeOver);
        w.once('exit', takeOver);
      });
    });
    await Promise.all(runs);
    expect(fromAnswers + fromLedger).toBe(THREADS * ORDERS);
    expect(fromAnswers).toBeLessThanOrEqual(handedOver);
    expect(ledger.armed()).toBe(0);
    const res = f.state.reservations;
    expect([res.pendingUnits(f.acct), res.pendingOpenOrders(f.acct), res.pending(f.acct, f.es, Side.BUY), res.pending(f.acct, f.es, Side.SELL)]).toEqual([0, 0, 0, 0]);
  }, 60_000);
});
