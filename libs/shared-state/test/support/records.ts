import type { Mark, PositionRecord } from '../../src/index';

/*
 * Records whose every field is a function of one counter k (k = updatedMs). A reader that sees fields from two
 * different k — a torn read — fails `isConsistent*`. Values move both words of each i64 pair.
 */
const TWO_32 = 4294967296;
export const MAX_K = 2_000_000;

export function fillMark(k: number, m: Mark): Mark {
  m.last = k * (TWO_32 + 1);
  m.bid = -k;
  m.ask = k * TWO_32 - 1;
  m.lastTradeMs = 1_764_000_000_000 + k;
  m.updatedMs = k;
  return m;
}

export function isConsistentMark(m: Mark): boolean {
  const k = m.updatedMs;
  if (k === 0) return m.last === 0 && m.bid === 0 && m.ask === 0 && m.lastTradeMs === 0;
  return m.last === k * (TWO_32 + 1) && m.bid === -k && m.ask === k * TWO_32 - 1 && m.lastTradeMs === 1_764_000_000_000 + k;
}

export function fillPosition(k: number, p: PositionRecord): PositionRecord {
  p.netSize = k;
  p.avgPrice = k * 3;
  p.realizedGross = -k * TWO_32;
  p.fees = k + 1;
  p.unrealized = -(k * 5);
  p.workingStopLoss = k * (TWO_32 + 1);
  p.updatedMs = k;
  p.workingBuy = k + 2;
  p.workingSell = k + 3;
  return p;
}

export function isConsistentPosition(p: PositionRecord): boolean {
  const k = p.updatedMs;
  if (k === 0) return p.netSize === 0 && p.avgPrice === 0 && p.realizedGross === 0 && p.fees === 0 && p.unrealized === 0 && p.workingStopLoss === 0 && p.workingBuy === 0 && p.workingSell === 0;
  return (
    p.netSize === k &&
    p.avgPrice === k * 3 &&
    p.realizedGross === -k * TWO_32 &&
    p.fees === k + 1 &&
    p.unrealized === -(k * 5) &&
    p.workingStopLoss === k * (TWO_32 + 1) &&
    p.workingBuy === k + 2 &&
    p.workingSell === k + 3
  );
}

/** Control words of the test harness (a separate small SharedArrayBuffer). */
export const CTL = { GO: 0, DONE: 1, WORDS: 4 } as const;

/** Blocks a worker (never a socket-owning thread) until the test sets GO; bounded. */
export function waitForGo(ctl: Int32Array): void {
  for (let i = 0; i < 6000 && Atomics.load(ctl, CTL.GO) === 0; i++) Atomics.wait(ctl, CTL.GO, 0, 10);
  if (Atomics.load(ctl, CTL.GO) === 0) throw new Error('worker: GO never came');
}
