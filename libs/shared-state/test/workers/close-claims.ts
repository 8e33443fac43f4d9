import { parentPort, workerData } from 'node:worker_threads';
import { Side, attachSharedState, type SharedStateBuffers } from '../../src/index';
import { CLAIM_CTL, type CloseClaimsParams } from '../support/close-claims';
import { waitForGo } from '../support/records';
import { mulberry32, randInt } from '../support/rng';

/*
 * One sender of closes (the front door or the risk-manager in the engine) claiming close leases against the others.
 *
 * `rounds`: every thread claims the same key at the same moment, `rounds` times: a barrier (every thread arrived)
 * before the claim, another (every thread claimed) before the round's winner releases. Reports which rounds it won,
 * the index of the expired lease each win reported (-1: none), and how each loss was answered.
 *
 * `random`: `ops` claims of seeded random keys, each won lease held for a random number of steps, then marked sent
 * and released. A winner marks the key's holder word (compareExchange 0 → its id) right after the claim and clears
 * it right before its release: two live winners of one key would find the word taken (an overlap).
 */
const { shared, ctlBuffer, params } = workerData as { shared: SharedStateBuffers; ctlBuffer: SharedArrayBuffer; params: CloseClaimsParams };
const leases = attachSharedState(shared).closes;
const ctl = new Int32Array(ctlBuffer);
const holders = CLAIM_CTL.BARRIERS + params.rounds * 2;

/**
 * Arrives at barrier `b` and waits (bounded) until every thread did: a short spin first, so that the threads leave
 * the barrier together and their claims really race, then sleeps of at most 1 ms (woken by the last arrival).
 */
function barrier(b: number): void {
  const idx = CLAIM_CTL.BARRIERS + b;
  if (Atomics.add(ctl, idx, 1) + 1 >= params.threads) {
    Atomics.notify(ctl, idx);
    return;
  }
  for (let i = 0; i < 20_000; i++) if (Atomics.load(ctl, idx) >= params.threads) return;
  for (let i = 0; i < 100_000; i++) {
    const n = Atomics.load(ctl, idx);
    if (n >= params.threads) return;
    Atomics.wait(ctl, idx, n, 1);
  }
  throw new Error(`thread ${params.id}: barrier ${b} never filled`);
}

parentPort!.postMessage({ kind: 'ready' });
waitForGo(ctl);

if (params.mode === 'rounds') {
  const won: number[] = [];
  const expired: number[] = [];
  let lostHeld = 0;
  let lostFull = 0;
  for (let r = 0; r < params.rounds; r++) {
    const contractId = `CON.F.US.R${r % params.keys}.Z26`;
    barrier(r * 2);
    const c = leases.tryClaim(7, contractId, Side.SELL, 2, params.nowMs, params.id);
    barrier(r * 2 + 1);
    if (c.ok) {
      won.push(r);
      expired.push(c.expired?.index ?? -1);
      leases.release(c.lease);
    } else if ('held' in c) lostHeld++;
    else lostFull++;
  }
  parentPort!.postMessage({ kind: 'done', won, expired, lostHeld, lostFull });
} else {
  const rng = mulberry32(params.seed);
  const mine: { key: number; lease: { index: number; gen: number }; steps: number }[] = [];
  let wins = 0;
  let losses = 0;
  let overlaps = 0;
  for (let i = 0; i < params.ops; i++) {
    const key = randInt(rng, 0, params.keys - 1);
    if (!mine.some((m) => m.key === key)) {
      const c = leases.tryClaim(7, `CON.F.US.K${key}.Z26`, rng() < 0.5 ? Side.BUY : Side.SELL, randInt(rng, 1, 5), params.nowMs, params.id);
      if (c.ok) {
        wins++;
        if (Atomics.compareExchange(ctl, holders + key, 0, params.id) !== 0) overlaps++;
        mine.push({ key, lease: c.lease, steps: randInt(rng, 0, 3) });
      } else losses++;
    }
    for (let j = mine.length - 1; j >= 0; j--) {
      const m = mine[j]!;
      if (m.steps-- > 0) continue;
      if (m.steps === -1 && rng() < 0.5) {
        leases.markSent(m.lease, params.nowMs);
        continue;
      }
      Atomics.compareExchange(ctl, holders + m.key, params.id, 0);
      leases.release(m.lease);
      mine.splice(j, 1);
    }
  }
  for (const m of mine) {
    Atomics.compareExchange(ctl, holders + m.key, params.id, 0);
    leases.release(m.lease);
  }
  parentPort!.postMessage({ kind: 'done', wins, losses, overlaps });
}
