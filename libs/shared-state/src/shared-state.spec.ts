import { describe, expect, it } from 'vitest';
import { AccountState, newAccountRecord, newPositionRecord } from './accounts';
import { SharedStateError } from './errors';
import { HEADER, MARK, RATE } from './layout';
import { newMark } from './marks';
import { Side } from './reservations';
import { seqWriteBegin, seqWriteEnd } from './seqlock';
import { allocateSharedState, attachSharedState, type SharedStateBuffers } from './shared-state';

const ES = { contractId: 'CON.F.US.EP.Z25', tickSize: 250_000_000, tickValue: 125_000, weight: 10 };
const MES = { contractId: 'CON.F.US.MES.Z25', tickSize: 250_000_000, tickValue: 12_500, weight: 1 };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as SharedStateError).code;
  }
  return undefined;
}

describe('allocate / attach', () => {
  it('hands out a structured-clonable plain object whose clone attaches to the same memory', () => {
    const b = allocateSharedState({ contracts: 4, accounts: 2 });
    expect(b.options).toEqual({ contracts: 4, accounts: 2, rateLogCapacity: 256, closeLeases: 64 });
    const clone = structuredClone(b);
    expect(clone.buffer).toBeInstanceOf(SharedArrayBuffer);
    const s1 = attachSharedState(b);
    const s2 = attachSharedState(clone);
    expect(s1.directory.register(ES)).toBe(0);
    expect(s2.directory.slotOf(ES.contractId)).toBe(0);
  });

  it('refuses a foreign or mismatched buffer with LAYOUT_MISMATCH and a message naming what differs', () => {
    const b = allocateSharedState({ contracts: 4, accounts: 2 });
    const bad = (x: unknown) => () => attachSharedState(x as SharedStateBuffers);
    expect(codeOf(bad({ buffer: new ArrayBuffer(64), options: b.options }))).toBe('LAYOUT_MISMATCH');
    expect(() => attachSharedState({ buffer: new SharedArrayBuffer(b.buffer.byteLength), options: b.options })).toThrow(/magic/);
    expect(() => attachSharedState({ ...b, options: { ...b.options, contracts: 5 } })).toThrow(/totalBytes/);
    expect(() => attachSharedState({ ...b, options: { ...b.options, contracts: 0 } })).toThrow(/options\.contracts/);
    const other = allocateSharedState({ contracts: 4, accounts: 2 });
    new Int32Array(other.buffer)[HEADER.VERSION] = 99;
    expect(() => attachSharedState(other)).toThrow(/version: buffer has layout v99/);
  });
});

describe('contract directory', () => {
  it('registers idempotently, finds slots from another thread view, and refuses conflicts and bad ids', () => {
    const b = allocateSharedState({ contracts: 2, accounts: 1 });
    const main = attachSharedState(b);
    const worker = attachSharedState(b);
    expect(worker.directory.slotOf(ES.contractId)).toBe(-1);
    expect(main.directory.register(ES)).toBe(0);
    expect(main.directory.register(ES)).toBe(0);
    expect(worker.directory.slotOf(ES.contractId)).toBe(0);
    expect(main.directory.register(MES)).toBe(1);
    expect(worker.directory.slotOf(MES.contractId)).toBe(1);
    expect(worker.directory.read(1)).toEqual(MES);
    expect(worker.directory.weight(0)).toBe(10);
    expect(worker.directory.tickValue(1)).toBe(12_500);
    expect(codeOf(() => main.directory.register({ ...ES, weight: 1 }))).toBe('DIRECTORY_CONFLICT');
    expect(codeOf(() => main.directory.register({ ...ES, contractId: 'CON.F.US.NQ.Z25' }))).toBe('DIRECTORY_FULL');
    expect(() => main.directory.register({ ...ES, contractId: 'x'.repeat(49) })).toThrow(/contractId/);
    expect(() => main.directory.register({ ...ES, contractId: 'has space' })).toThrow(/contractId/);
    expect(() => main.directory.register({ ...ES, contractId: 'N', tickSize: 0.5 })).toThrow(/tickSize/);
    expect(() => main.directory.register({ ...ES, contractId: 'N', weight: 0 })).toThrow(/weight/);
    expect(codeOf(() => worker.directory.read(2))).toBe('SLOT_OUT_OF_RANGE');
  });
});

describe('marks', () => {
  it('round-trips records, partial updates and the stale flag (stale until market-data clears it)', () => {
    const s = attachSharedState(allocateSharedState({ contracts: 2, accounts: 1 }));
    const out = newMark();
    expect(s.marks.read(1, out)).toEqual({ last: 0, bid: 0, ask: 0, lastTradeMs: 0, updatedMs: 0 });
    expect(s.marks.isStale(1)).toBe(true);
    s.marks.write(1, { last: 6_335_250_000_000, bid: 6_335_000_000_000, ask: 6_335_500_000_000, lastTradeMs: 1_764_000_000_000, updatedMs: 1_764_000_000_001 });
    s.marks.setStale(1, false);
    expect(s.marks.isStale(1)).toBe(false);
    s.marks.writeQuote(1, -5, 2 ** 53 - 1, 1_764_000_000_005);
    expect(s.marks.read(1, out)).toEqual({ last: 6_335_250_000_000, bid: -5, ask: 2 ** 53 - 1, lastTradeMs: 1_764_000_000_000, updatedMs: 1_764_000_000_005 });
    s.marks.writeTrade(1, 7, 1_764_000_000_006, 1_764_000_000_007);
    expect(s.marks.read(1, out)).toMatchObject({ last: 7, lastTradeMs: 1_764_000_000_006, updatedMs: 1_764_000_000_007, bid: -5 });
    const before = { ...out };
    expect(() => s.marks.write(1, { ...before, ask: 0.5 })).toThrow(/^ask: /);
    expect(s.marks.read(1, out)).toEqual(before);
    expect(codeOf(() => s.marks.read(2, out))).toBe('SLOT_OUT_OF_RANGE');
  });
});

describe('seqlock', () => {
  it('throws SEQLOCK_WRITER_STUCK when a writer died mid-record, and a restarted writer recovers it', () => {
    const b = allocateSharedState({ contracts: 1, accounts: 1 });
    const s = attachSharedState(b, { seqlock: { spins: 10, maxParks: 3, parkMs: 0.01 } });
    const seq = s.layout.regions.marks.offset + MARK.SEQ;
    const w = seqWriteBegin(s.words, seq);
    expect(w & 1).toBe(1);
    expect(codeOf(() => s.marks.read(0, newMark()))).toBe('SEQLOCK_WRITER_STUCK');
    // The restarted writer: its begin keeps the word odd, its end publishes a consistent record.
    s.marks.write(0, { last: 1, bid: 2, ask: 3, lastTradeMs: 4, updatedMs: 5 });
    expect(Atomics.load(s.words, seq) & 1).toBe(0);
    expect(Atomics.load(s.words, seq)).toBe(w + 3);
    expect(s.marks.read(0, newMark())).toEqual({ last: 1, bid: 2, ask: 3, lastTradeMs: 4, updatedMs: 5 });
    seqWriteEnd(s.words, seq, seqWriteBegin(s.words, seq));
    expect(Atomics.load(s.words, seq)).toBe(w + 5);
  });
});

describe('accounts and positions', () => {
  it('registers accounts, publishes records, fails closed until ready', () => {
    const b = allocateSharedState({ contracts: 2, accounts: 2 });
    const main = attachSharedState(b);
    const risk = attachSharedState(b);
    const exec = attachSharedState(b);
    expect(main.accounts.registerAccount(123456)).toBe(0);
    expect(main.accounts.registerAccount(123456)).toBe(0);
    expect(main.accounts.registerAccount(2 ** 40)).toBe(1);
    expect(codeOf(() => main.accounts.registerAccount(7))).toBe('DIRECTORY_FULL');
    expect(exec.accounts.slotOf(2 ** 40)).toBe(1);
    expect(exec.accounts.slotOf(99)).toBe(-1);
    expect(exec.accounts.accountIdOf(0)).toBe(123456);
    expect(exec.accounts.isReady(0)).toBe(false);
    const rec = {
      ...newAccountRecord(),
      accountId: 123456,
      state: AccountState.REDUCING,
      reason: 3,
      tradingDayId: 20251124,
      balance: 50_000_0000,
      startOfDayBalance: 50_250_0000,
      realizedGross: -200_0000,
      fees: 8_5600,
      unrealized: -41_2500,
      dayNetPnl: -250_0000,
      dllLimit: 1_000_0000,
      mllFloor: 48_000_0000,
      headroom: 750_0000,
      positionUnits: 12,
      maxPositionUnits: 50,
      maxOpenOrders: 10,
      maxOrdersPerMinute: 60,
      openOrders: 2,
      updatedMs: 1_764_000_000_000,
    };
    risk.accounts.writeAccount(0, rec);
    risk.accounts.setReady(0, true);
    expect(exec.accounts.isReady(0)).toBe(true);
    expect(exec.accounts.readAccount(0, newAccountRecord())).toEqual(rec);
    expect(() => risk.accounts.writeAccount(0, { ...rec, accountId: 1 })).toThrow(/accountId: slot 0 belongs to account 123456/);
    expect(() => risk.accounts.writeAccount(0, { ...rec, state: 4 })).toThrow(/^INVALID_ARGUMENT: state/);
    expect(() => risk.accounts.writeAccount(0, { ...rec, balance: Number.NaN })).toThrow(/^balance: /);
    expect(() => risk.accounts.writeAccount(0, { ...rec, dllLimit: -1 })).toThrow(/dllLimit/);
    expect(exec.accounts.readAccount(0, newAccountRecord())).toEqual(rec);
    const pos = { netSize: -3, avgPrice: 6_335_250_000_000, realizedGross: 12_5000, fees: -1, unrealized: -(2 ** 52), workingStopLoss: 300_0000, updatedMs: 1_764_000_000_001, workingBuy: 2, workingSell: 7 };
    risk.accounts.writePosition(1, 1, pos);
    expect(exec.accounts.readPosition(1, 1, newPositionRecord())).toEqual(pos);
    expect(exec.accounts.readPosition(1, 0, newPositionRecord())).toEqual(newPositionRecord());
    expect(() => risk.accounts.writePosition(1, 1, { ...pos, netSize: 1.5 })).toThrow(/netSize/);
    expect(() => risk.accounts.writePosition(1, 1, { ...pos, workingBuy: -1 })).toThrow(/workingBuy/);
    expect(() => risk.accounts.writePosition(1, 1, { ...pos, workingSell: 0.5 })).toThrow(/workingSell/);
    expect(codeOf(() => exec.accounts.readPosition(1, 2, newPositionRecord()))).toBe('SLOT_OUT_OF_RANGE');
  });
});

describe('reservations', () => {
  it('reserves weighted units against the limit, releases, and refuses underflow without changing anything', () => {
    const s = attachSharedState(allocateSharedState({ contracts: 2, accounts: 1 }));
    const r = s.reservations;
    expect(r.tryReserve(0, 0, Side.BUY, 2, 10, 50, 20)).toBe(true); // 20 + 20 ≤ 50
    expect(r.tryReserve(0, 1, Side.SELL, 11, 1, 50, 20)).toBe(false); // 20 + 20 + 11 > 50
    expect(r.tryReserve(0, 1, Side.SELL, 10, 1, 50, 20)).toBe(true); // exactly 50
    expect(r.pendingUnits(0)).toBe(30);
    expect(r.pending(0, 0, Side.BUY)).toBe(2);
    expect(r.pending(0, 1, Side.SELL)).toBe(10);
    expect(codeOf(() => r.release(0, 0, Side.BUY, 3, 10))).toBe('RESERVATION_UNDERFLOW');
    expect(codeOf(() => r.release(0, 0, Side.SELL, 1, 10))).toBe('RESERVATION_UNDERFLOW');
    expect(r.pendingUnits(0)).toBe(30);
    r.release(0, 0, Side.BUY, 2, 10);
    r.release(0, 1, Side.SELL, 10, 1);
    expect([r.pendingUnits(0), r.pending(0, 0, Side.BUY), r.pending(0, 1, Side.SELL)]).toEqual([0, 0, 0]);
    expect(() => r.tryReserve(0, 0, 2 as 0, 1, 1, 10, 0)).toThrow(/side/);
    expect(() => r.tryReserve(0, 0, Side.BUY, 0, 1, 10, 0)).toThrow(/size/);
    expect(() => r.tryReserve(0, 0, Side.BUY, 1, 1.5, 10, 0)).toThrow(/weight/);
  });

  it('counts open orders against a max', () => {
    const s = attachSharedState(allocateSharedState({ contracts: 1, accounts: 1 }));
    const r = s.reservations;
    expect(r.tryReserveOpenOrder(0, 3, 1)).toBe(true);
    expect(r.tryReserveOpenOrder(0, 3, 1)).toBe(true);
    expect(r.tryReserveOpenOrder(0, 3, 1)).toBe(false);
    expect(r.pendingOpenOrders(0)).toBe(2);
    r.releaseOpenOrder(0);
    r.releaseOpenOrder(0);
    expect(codeOf(() => r.releaseOpenOrder(0))).toBe('RESERVATION_UNDERFLOW');
  });

  it('clears one account without touching another', () => {
    const s = attachSharedState(allocateSharedState({ contracts: 2, accounts: 2 }));
    const r = s.reservations;
    for (const acct of [0, 1]) {
      expect(r.tryReserve(acct, 1, Side.SELL, 3, 10, 100, 0)).toBe(true);
      expect(r.tryReserveOpenOrder(acct, 5)).toBe(true);
    }
    r.clearAccount(0);
    expect([r.pendingUnits(0), r.pendingOpenOrders(0), r.pending(0, 1, Side.SELL)]).toEqual([0, 0, 0]);
    expect([r.pendingUnits(1), r.pendingOpenOrders(1), r.pending(1, 1, Side.SELL)]).toEqual([30, 1, 3]);
    expect(s.brokenCanaries()).toEqual([]);
  });
});

describe('rate budget', () => {
  it('defaults to the broker buckets and grants at most limit per window, answering the wait', () => {
    const s = attachSharedState(allocateSharedState({ contracts: 1, accounts: 1 }));
    expect(s.rate.config('general')).toEqual({ limit: 200, windowMs: 60_000, enabled: true });
    expect(s.rate.config('bars')).toEqual({ limit: 50, windowMs: 30_000, enabled: true });
    const t0 = 1_764_000_000_000;
    for (let i = 0; i < 50; i++) expect(s.rate.tryAcquire('bars', t0 + i * 10)).toBe(0);
    expect(s.rate.tryAcquire('bars', t0 + 1000)).toBe(29_000);
    expect(s.rate.tryAcquire('bars', t0 + 29_999)).toBe(1);
    expect(s.rate.tryAcquire('bars', t0 + 30_000)).toBe(0);
    expect(s.rate.tryAcquire('bars', t0 + 30_000)).toBe(10);
    expect(s.rate.granted('bars')).toBe(51);
    expect(s.rate.granted('general')).toBe(0);
    s.rate.configure('bars', { limit: 2, windowMs: 100, enabled: false });
    for (let i = 0; i < 10; i++) expect(s.rate.tryAcquire('bars', t0)).toBe(0);
    expect(s.rate.granted('bars')).toBe(51);
    expect(() => s.rate.configure('general', { limit: 257, windowMs: 1, enabled: true })).toThrow(/rate\.general\.limit/);
    expect(() => s.rate.tryAcquire('other' as 'bars', t0)).toThrow(/bucket/);
    expect(() => s.rate.tryAcquire('general', 1.5)).toThrow(/nowMs/);
  });

  it('never grants past a claimant preempted between its claim and its publish: it asks to retry in 1 ms', () => {
    const s = attachSharedState(allocateSharedState({ contracts: 1, accounts: 1, rateLogCapacity: 4 }));
    s.rate.configure('general', { limit: 2, windowMs: 1000, enabled: true });
    const t0 = 1_764_000_000_000;
    expect(s.rate.tryAcquire('general', t0)).toBe(0);
    expect(s.rate.tryAcquire('general', t0 + 1)).toBe(0);
    // Simulate a thread that won grant #2 (compareExchange on COUNT) and stopped before publishing its slot.
    const base = s.layout.regions.rateBuckets.offset;
    expect(Atomics.compareExchange(s.words, base + RATE.COUNT, 2, 3)).toBe(2);
    // Grant #3 must see grant #1 published (t0 + 1): still inside the window → a real wait.
    expect(s.rate.tryAcquire('general', t0 + 500)).toBe(501);
    // Past the window grant #3 could pass on grant #1, but its own slot #3 check is fine; the unpublished #2 blocks #4.
    expect(s.rate.tryAcquire('general', t0 + 5000)).toBe(0);
    expect(s.rate.tryAcquire('general', t0 + 5000)).toBe(1);
    expect(s.rate.granted('general')).toBe(4);
  });

  it('limits orders per account per minute (0 = off)', () => {
    const s = attachSharedState(allocateSharedState({ contracts: 1, accounts: 2 }));
    const t0 = 1_764_000_000_000;
    for (let i = 0; i < 3; i++) expect(s.rate.tryAcquireOrderRate(0, t0 + i, 3)).toBe(0);
    expect(s.rate.tryAcquireOrderRate(0, t0 + 10, 3)).toBe(59_990);
    expect(s.rate.tryAcquireOrderRate(1, t0 + 10, 3)).toBe(0);
    expect(s.rate.tryAcquireOrderRate(0, t0 + 60_000, 3)).toBe(0);
    expect(s.rate.tryAcquireOrderRate(0, t0 + 60_000, 0)).toBe(0);
    expect(s.rate.grantedOrders(0)).toBe(4);
    expect(() => s.rate.tryAcquireOrderRate(0, t0, 1000)).toThrow(/limitPerMinute/);
  });
});
