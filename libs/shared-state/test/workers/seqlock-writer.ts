import { parentPort, workerData } from 'node:worker_threads';
import { attachSharedState, newMark, newPositionRecord, type SharedStateBuffers } from '../../src/index';
import { CTL, fillMark, fillPosition, waitForGo } from '../support/records';

// The single writer of marks and positions (plays market-data and risk-manager).
const { shared, ctlBuffer, updates, slots } = workerData as { shared: SharedStateBuffers; ctlBuffer: SharedArrayBuffer; updates: number; slots: number };
const s = attachSharedState(shared);
const ctl = new Int32Array(ctlBuffer);
const m = newMark();
const p = newPositionRecord();
parentPort!.postMessage({ kind: 'ready' });
waitForGo(ctl);
let marks = 0;
let positions = 0;
for (let k = 1; k <= updates; k++) {
  const slot = (k >> 1) % slots;
  if ((k & 1) === 0) {
    s.marks.write(slot, fillMark(k, m));
    marks++;
  } else {
    s.accounts.writePosition(0, slot, fillPosition(k, p));
    positions++;
  }
}
Atomics.store(ctl, CTL.DONE, 1);
parentPort!.postMessage({ kind: 'done', marks, positions });
