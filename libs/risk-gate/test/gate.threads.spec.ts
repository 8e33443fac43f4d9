// 50 concurrent gate checks for 1 ES each (weight 10) against a maximum position of 5 lots (50 units), from
// real worker_threads, repeated with several seeds (the spins between checks): exactly 5 must pass every time.
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateSharedState } from '@gateway/shared-state';
import { fixture, IN_SESSION_MS } from './support';

const ENTRY = fileURLToPath(new URL('./workers/entry.mjs', import.meta.url));
const THREADS = 5;

describe('RiskGate across threads', () => {
  let workers: Worker[] = [];

  beforeAll(() => {
    workers = Array.from({ length: THREADS }, () => new Worker(ENTRY, { workerData: { script: './contender.ts' } }));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.terminate()));
  });

  async function race(seed: number): Promise<{ allowed: number; reasons: string[]; pendingUnits: number }> {
    const buffers = allocateSharedState({ contracts: 4, accounts: 2 });
    const f = fixture(buffers);
    f.publish({ maxPositionUnits: 50, maxOpenOrders: 100, maxOrdersPerMinute: 200 });
    const ctl = new SharedArrayBuffer(16);
    const c = new Int32Array(ctl);
    const results = workers.map(
      (w, i) =>
        new Promise<{ allowed: number; reasons: string[] }>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.postMessage({ buffers, ctl, checks: 50 / THREADS, seed: seed * 97 + i, nowMs: IN_SESSION_MS, accountSlot: f.acct, contractSlot: f.es });
        }),
    );
    const deadline = Date.now() + 90_000;
    while (Atomics.load(c, 1) < THREADS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(Atomics.load(c, 1)).toBe(THREADS);
    Atomics.store(c, 0, 1);
    Atomics.notify(c, 0);
    const out = await Promise.all(results);
    return { allowed: out.reduce((n, r) => n + r.allowed, 0), reasons: out.flatMap((r) => r.reasons), pendingUnits: f.state.reservations.pendingUnits(f.acct) };
  }

  it('allows exactly 5 of 50 concurrent 1-lot entries against a 5-lot maximum, for every seed', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await race(seed);
      expect(r.allowed).toBe(5);
      expect(r.reasons).toHaveLength(45);
      expect(new Set(r.reasons)).toEqual(new Set(['MAX_POSITION']));
      expect(r.pendingUnits).toBe(50);
    }
  }, 120_000);
});
