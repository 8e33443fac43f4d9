// An executor thread in miniature: gate checks with ledger holds (a seeded spin before each, sides and sizes
// varied), the first `handOver` reservations posted back to the main thread (the task's answer), then the thread
// dies holding the rest, by process.exit or by an uncaught error.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLedger, attachSharedState, type LedgerBuffers, type LedgerHold, type SharedStateBuffers } from '@gateway/shared-state';
import { RiskGate } from '../../src/index';

interface Job {
  buffers: SharedStateBuffers;
  ledger: LedgerBuffers;
  holds: LedgerHold[];
  handOver: number;
  how: 'exit' | 'uncaught';
  seed: number;
  nowMs: number;
  accountSlot: number;
  contractSlot: number;
}

const job = workerData as Job;
const gate = new RiskGate(attachSharedState(job.buffers), { clock: () => job.nowMs, ledger: attachLedger(job.ledger) });
let rng = job.seed >>> 0 || 1;
const next = (): number => {
  rng ^= rng << 13;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  return (rng >>> 0) / 2 ** 32;
};
const spin = new Int32Array(1);
job.holds.forEach((hold, i) => {
  for (let k = Math.floor(next() * 2000); k > 0; k--) Atomics.load(spin, 0);
  const r = gate.check({ accountSlot: job.accountSlot, contractSlot: job.contractSlot, side: next() < 0.5 ? 0 : 1, size: 1 + Math.floor(next() * 3) }, hold);
  if (!r.allowed) throw new Error(`check ${i} denied: ${r.reason}`);
  if (i < job.handOver) parentPort!.postMessage({ entry: hold.entry, reservation: r.reservation });
});
if (job.how === 'exit') process.exit(3);
setImmediate(() => {
  throw new Error('thread dies holding reservations');
});
