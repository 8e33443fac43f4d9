// One contending thread, reused across rounds: for each round message it attaches that round's shared
// memory, waits for GO, runs its share of gate checks (1 contract each) with a seeded spin before each
// one, and posts how many were allowed.
import { parentPort } from 'node:worker_threads';
import { attachSharedState, type SharedStateBuffers } from '@gateway/shared-state';
import { RiskGate } from '../../src/index';

interface Round {
  buffers: SharedStateBuffers;
  ctl: SharedArrayBuffer;
  checks: number;
  seed: number;
  nowMs: number;
  accountSlot: number;
  contractSlot: number;
}

parentPort!.on('message', (r: Round) => {
  const gate = new RiskGate(attachSharedState(r.buffers), { clock: () => r.nowMs });
  const c = new Int32Array(r.ctl);
  let rng = r.seed >>> 0 || 1;
  const next = (): number => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return (rng >>> 0) / 2 ** 32;
  };
  Atomics.add(c, 1, 1);
  Atomics.wait(c, 0, 0);
  let allowed = 0;
  const reasons: string[] = [];
  for (let i = 0; i < r.checks; i++) {
    const spin = Math.floor(next() * 2000);
    for (let k = 0; k < spin; k++) Atomics.load(c, 2);
    const d = gate.check({ accountSlot: r.accountSlot, contractSlot: r.contractSlot, side: 0, size: 1 });
    if (d.allowed) allowed++;
    else reasons.push(d.reason);
  }
  parentPort!.postMessage({ allowed, reasons });
});
