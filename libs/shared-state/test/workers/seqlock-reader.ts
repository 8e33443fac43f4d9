import { parentPort, workerData } from 'node:worker_threads';
import { attachSharedState, newMark, newPositionRecord, type SharedStateBuffers } from '../../src/index';
import { CTL, isConsistentMark, isConsistentPosition, waitForGo } from '../support/records';
import { mulberry32 } from '../support/rng';

// A reader (plays the executor's gate): reads random records continuously until the writer is done.
const { shared, ctlBuffer, seed, slots, maxReads } = workerData as {
  shared: SharedStateBuffers;
  ctlBuffer: SharedArrayBuffer;
  seed: number;
  slots: number;
  maxReads: number;
};
const s = attachSharedState(shared);
const ctl = new Int32Array(ctlBuffer);
const rng = mulberry32(seed);
const m = newMark();
const p = newPositionRecord();
const lastMarkK = new Array<number>(slots).fill(0);
const lastPosK = new Array<number>(slots).fill(0);
let reads = 0;
let torn = 0;
let backwards = 0;
let changedSeen = 0;
let firstTorn: unknown = null;
parentPort!.postMessage({ kind: 'ready' });
waitForGo(ctl);
// Bounded: stop at DONE or after maxReads. One more pass after DONE reads the final state.
for (let done = 0; reads < maxReads && done < 2; ) {
  if (Atomics.load(ctl, CTL.DONE) === 1) done++;
  const slot = Math.floor(rng() * slots);
  if (rng() < 0.5) {
    s.marks.read(slot, m);
    if (!isConsistentMark(m)) {
      torn++;
      firstTorn ??= { ...m };
    }
    if (m.updatedMs < lastMarkK[slot]!) backwards++;
    if (m.updatedMs !== lastMarkK[slot]) changedSeen++;
    lastMarkK[slot] = m.updatedMs;
  } else {
    s.accounts.readPosition(0, slot, p);
    if (!isConsistentPosition(p)) {
      torn++;
      firstTorn ??= { ...p };
    }
    if (p.updatedMs < lastPosK[slot]!) backwards++;
    if (p.updatedMs !== lastPosK[slot]) changedSeen++;
    lastPosK[slot] = p.updatedMs;
  }
  reads++;
}
parentPort!.postMessage({ kind: 'done', reads, torn, backwards, changedSeen, firstTorn, lastMarkK, lastPosK });
