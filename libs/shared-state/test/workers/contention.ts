import { parentPort, workerData } from 'node:worker_threads';
import { Side, attachSharedState, type SharedStateBuffers, type SideCode } from '../../src/index';
import { waitForGo } from '../support/records';
import { mulberry32, randInt } from '../support/rng';

/*
 * One executor-like thread hammering reservations, open orders and the rate budget with a seeded RNG.
 * It checks the invariants it can observe at every step and reports what it holds and every grant time.
 */
export interface ContentionParams {
  seed: number;
  ops: number;
  accounts: number;
  contracts: number;
  weights: number[];
  limitUnits: number;
  currentUnits: number[];
  maxOpenOrders: number;
  rateAttempts: number;
  rateMaxStepMs: number;
  orderRateLimit: number;
  orderRateMaxStepMs: number;
  t0: number;
}

const { shared, ctlBuffer, params } = workerData as { shared: SharedStateBuffers; ctlBuffer: SharedArrayBuffer; params: ContentionParams };
const s = attachSharedState(shared);
const r = s.reservations;
const rng = mulberry32(params.seed);
const ctl = new Int32Array(ctlBuffer);

interface Held {
  account: number;
  contract: number;
  side: SideCode;
  size: number;
}
const held: Held[] = [];
const heldOpen = new Array<number>(params.accounts).fill(0);
let granted = 0;
let denied = 0;
let overLimit = 0;
let openGranted = 0;
let openDenied = 0;
let openOver = 0;

parentPort!.postMessage({ kind: 'ready' });
waitForGo(ctl);

for (let i = 0; i < params.ops; i++) {
  if (held.length > 0 && rng() < 0.45) {
    const h = held.splice(randInt(rng, 0, held.length - 1), 1)[0]!;
    r.release(h.account, h.contract, h.side, h.size, params.weights[h.contract]!);
  } else {
    const account = randInt(rng, 0, params.accounts - 1);
    const contract = randInt(rng, 0, params.contracts - 1);
    const side: SideCode = rng() < 0.5 ? Side.BUY : Side.SELL;
    const size = randInt(rng, 1, 5);
    const current = params.currentUnits[account]!;
    if (r.tryReserve(account, contract, side, size, params.weights[contract]!, params.limitUnits, current)) {
      granted++;
      held.push({ account, contract, side, size });
    } else denied++;
    if (r.pendingUnits(account) + current > params.limitUnits) overLimit++;
  }
  const acc = randInt(rng, 0, params.accounts - 1);
  if (heldOpen[acc]! > 0 && rng() < 0.5) {
    r.releaseOpenOrder(acc);
    heldOpen[acc]!--;
  } else if (r.tryReserveOpenOrder(acc, params.maxOpenOrders)) {
    heldOpen[acc]!++;
    openGranted++;
  } else openDenied++;
  if (r.pendingOpenOrders(acc) > params.maxOpenOrders) openOver++;
}

// Rate budget: this thread's own clock, starting at t0 and moving forward by random steps (clocks of different threads
// disagree on purpose).
const grants: number[] = [];
let rateDenied = 0;
let now = params.t0;
for (let i = 0; i < params.rateAttempts; i++) {
  now += randInt(rng, 0, params.rateMaxStepMs);
  if (s.rate.tryAcquire('general', now) === 0) grants.push(now);
  else rateDenied++;
}
const orderGrants: number[] = [];
now = params.t0;
for (let i = 0; i < params.rateAttempts; i++) {
  now += randInt(rng, 0, params.orderRateMaxStepMs);
  if (s.rate.tryAcquireOrderRate(0, now, params.orderRateLimit) === 0) orderGrants.push(now);
}

const heldUnits = new Array<number>(params.accounts).fill(0);
const heldSides: number[] = new Array<number>(params.accounts * params.contracts * 2).fill(0);
for (const h of held) {
  heldUnits[h.account]! += h.size * params.weights[h.contract]!;
  heldSides[(h.account * params.contracts + h.contract) * 2 + h.side]! += h.size;
}
parentPort!.postMessage({
  kind: 'done',
  granted,
  denied,
  overLimit,
  heldUnits,
  heldSides,
  openGranted,
  openDenied,
  openOver,
  heldOpen,
  grants,
  rateDenied,
  orderGrants,
});
