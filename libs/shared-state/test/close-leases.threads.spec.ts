import { describe, expect, it } from 'vitest';
import { CLOSE_LEASE_TTL_MS, Side, allocateSharedState, attachSharedState } from '../src/index';
import { CTL } from './support/records';
import { startWorker } from './support/spawn';
import { CLAIM_CTL, type CloseClaimsParams } from './support/close-claims';

// Close leases claimed from real threads at the same moment (the front door and the risk-manager in the engine):
// a claim is one decision over shared memory, so of the threads that claim one key at once exactly one wins, and no
// key ever has two live leases. Bounded: a fixed number of rounds and operations per thread.

interface RoundsResult {
  won: number[];
  expired: number[];
  lostHeld: number;
  lostFull: number;
}
interface RandomResult {
  wins: number;
  losses: number;
  overlaps: number;
}

const NOW = 1_764_000_000_000;

/** `before`: what the main thread does to the table before the workers start. */
async function run<T>(threads: number, base: Omit<CloseClaimsParams, 'id' | 'threads'>, closeLeases: number, before?: (main: ReturnType<typeof attachSharedState>) => void) {
  const shared = allocateSharedState({ contracts: 1, accounts: 1, closeLeases });
  const main = attachSharedState(shared);
  before?.(main);
  const ctlBuffer = new SharedArrayBuffer((CLAIM_CTL.BARRIERS + base.rounds * 2 + base.keys) * 4);
  const ctl = new Int32Array(ctlBuffer);
  const workers = Array.from({ length: threads }, (_, i) =>
    startWorker<T>('./close-claims.ts', { shared, ctlBuffer, params: { ...base, id: i + 1, threads, seed: base.seed * 100 + i } satisfies CloseClaimsParams }),
  );
  await Promise.all(workers.map((w) => w.ready));
  Atomics.store(ctl, CTL.GO, 1);
  Atomics.notify(ctl, CTL.GO);
  return { results: await Promise.all(workers.map((w) => w.done)), main };
}

describe.each([2, 4])('close leases claimed by %i threads at once', (threads) => {
  it('exactly one thread wins each round; the others see the winner’s lease', async () => {
    const rounds = 1_000;
    const { results, main } = await run<RoundsResult>(threads, { mode: 'rounds', rounds, ops: 0, keys: 3, seed: 1, nowMs: NOW }, 8);
    const winners = new Array<number>(rounds).fill(0);
    for (const r of results) for (const round of r.won) winners[round]!++;
    const wrong = winners.flatMap((n, round) => (n === 1 ? [] : [`round ${round}: ${n} winners`]));
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(results.reduce((n, r) => n + r.lostHeld, 0)).toBe(rounds * (threads - 1));
    expect(results.reduce((n, r) => n + r.lostFull, 0)).toBe(0);
    expect(main.brokenCanaries()).toEqual([]);
  }, 120_000);

  it('past an expired lease of the key (a close that may still work): one thread wins each round and reports it; its entry stays', async () => {
    const rounds = 500;
    const stuck: number[] = [];
    const { results, main } = await run<RoundsResult>(threads, { mode: 'rounds', rounds, ops: 0, keys: 3, seed: 3, nowMs: NOW }, 8, (m) => {
      for (let k = 0; k < 3; k++) {
        const c = m.closes.tryClaim(7, `CON.F.US.R${k}.Z26`, Side.SELL, 0, NOW - CLOSE_LEASE_TTL_MS - 10, 99);
        if (!c.ok) throw new Error('setup claim refused');
        m.closes.markSent(c.lease, NOW - CLOSE_LEASE_TTL_MS - 5);
        stuck.push(c.lease.index);
      }
    });
    const reported = new Array<number>(rounds).fill(-2);
    for (const r of results) r.won.forEach((round, i) => (reported[round] = r.expired[i]!));
    const wrong = reported.flatMap((index, round) => (index === stuck[round % 3] ? [] : [`round ${round}: reported ${index}, expected ${stuck[round % 3]}`]));
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(results.reduce((n, r) => n + r.lostHeld, 0)).toBe(rounds * (threads - 1));
    expect(main.brokenCanaries()).toEqual([]);
  }, 120_000);

  it.each([7, 2024])('seed %i: random claims, sends and releases never leave two live leases on one key', async (seed) => {
    const { results, main } = await run<RandomResult>(threads, { mode: 'random', rounds: 0, ops: 10_000, keys: 3, seed, nowMs: NOW }, 16);
    expect(results.reduce((n, r) => n + r.overlaps, 0)).toBe(0);
    // Contention really happened: keys were won and refused.
    expect(results.reduce((n, r) => n + r.wins, 0)).toBeGreaterThan(500);
    expect(results.reduce((n, r) => n + r.losses, 0)).toBeGreaterThan(100);
    for (let k = 0; k < 3; k++) expect(main.closes.find(7, `CON.F.US.K${k}.Z26`, NOW)).toBeUndefined();
    expect(main.brokenCanaries()).toEqual([]);
  }, 120_000);
});
