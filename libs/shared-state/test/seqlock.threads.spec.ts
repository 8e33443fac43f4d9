import { describe, expect, it } from 'vitest';
import { allocateSharedState, attachSharedState, newMark, newPositionRecord } from '../src/index';
import { CTL, fillMark, fillPosition, isConsistentMark, isConsistentPosition } from './support/records';
import { startWorker } from './support/spawn';

interface WriterResult {
  marks: number;
  positions: number;
}
interface ReaderResult {
  reads: number;
  torn: number;
  backwards: number;
  changedSeen: number;
  firstTorn: unknown;
  lastMarkK: number[];
  lastPosK: number[];
}

const SEED = 0x5eed1234;
const UPDATES = 1_000_000;
const SLOTS = 4;
const READERS = 3;

describe('consistency checker', () => {
  it('accepts whole records and rejects a record mixing two counters', () => {
    const m = fillMark(7, newMark());
    expect(isConsistentMark(m)).toBe(true);
    expect(isConsistentMark({ ...m, ask: fillMark(8, newMark()).ask })).toBe(false);
    const p = fillPosition(9, newPositionRecord());
    expect(isConsistentPosition(p)).toBe(true);
    expect(isConsistentPosition({ ...p, fees: 11 })).toBe(false);
  });
});

describe('seqlock across real threads', () => {
  it(`one writer publishes ${UPDATES} multi-field updates while ${READERS} readers never see a torn record`, async () => {
    const shared = allocateSharedState({ contracts: SLOTS, accounts: 1 });
    const main = attachSharedState(shared);
    main.accounts.registerAccount(1);
    const ctlBuffer = new SharedArrayBuffer(CTL.WORDS * 4);
    const ctl = new Int32Array(ctlBuffer);
    const readers = Array.from({ length: READERS }, (_, i) =>
      startWorker<ReaderResult>('./seqlock-reader.ts', { shared, ctlBuffer, seed: SEED + i, slots: SLOTS, maxReads: 200_000_000 }),
    );
    const writer = startWorker<WriterResult>('./seqlock-writer.ts', { shared, ctlBuffer, updates: UPDATES, slots: SLOTS });
    await Promise.all([writer.ready, ...readers.map((r) => r.ready)]);
    Atomics.store(ctl, CTL.GO, 1);
    Atomics.notify(ctl, CTL.GO);
    const w = await writer.done;
    const rs = await Promise.all(readers.map((r) => r.done));
    const totalReads = rs.reduce((n, r) => n + r.reads, 0);
    console.log(
      `seqlock: ${w.marks + w.positions} updates (${w.marks} marks, ${w.positions} positions); ` +
        rs.map((r, i) => `reader${i}: ${r.reads} reads, ${r.changedSeen} new values, ${r.torn} torn`).join('; '),
    );
    expect(w.marks + w.positions).toBe(UPDATES);
    for (const r of rs) {
      expect(r.firstTorn).toBeNull();
      expect(r.torn).toBe(0);
      expect(r.backwards).toBe(0);
      expect(r.reads).toBeGreaterThan(1000);
      // After DONE every reader saw the final published values.
      expect(r.lastMarkK.length).toBe(SLOTS);
    }
    expect(totalReads).toBeGreaterThan(0);
    // The main thread reads the final records: the last k written to each slot.
    const m = newMark();
    const p = newPositionRecord();
    for (let slot = 0; slot < SLOTS; slot++) {
      let lastEven = 0;
      let lastOdd = 0;
      for (let k = UPDATES; k > UPDATES - 4 * SLOTS; k--) {
        if (((k >> 1) % SLOTS) !== slot) continue;
        if ((k & 1) === 0) lastEven = Math.max(lastEven, k);
        else lastOdd = Math.max(lastOdd, k);
      }
      expect(main.marks.read(slot, m).updatedMs).toBe(lastEven);
      expect(isConsistentMark(m)).toBe(true);
      expect(main.accounts.readPosition(0, slot, p).updatedMs).toBe(lastOdd);
      expect(isConsistentPosition(p)).toBe(true);
    }
    expect(main.brokenCanaries()).toEqual([]);
  }, 180_000);
});
