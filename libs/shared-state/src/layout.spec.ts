import { describe, expect, it } from 'vitest';
import { ACC, CLOSE_LEASE, DIR, HEADER, LAYOUT_VERSION, MAGIC, MARK, POS, RATE, RES_ACC, RES_POS, computeLayout, describeLayout } from './layout';
import { allocateSharedState, attachSharedState } from './shared-state';
import { AccountState } from './accounts';
import { Side } from './reservations';

// Pinned on purpose: any change to the layout must fail here, bump LAYOUT_VERSION and update these numbers.
describe('layout pin', () => {
  it('pins version, magic, header and record field offsets', () => {
    expect(LAYOUT_VERSION).toBe(3);
    expect(MAGIC).toBe(0x47575353);
    expect(HEADER).toEqual({ MAGIC: 0, VERSION: 1, TOTAL_BYTES: 2, CONTRACTS: 3, ACCOUNTS: 4, RATE_LOG_CAPACITY: 5, CONTRACT_COUNT: 6, ACCOUNT_COUNT: 7, PARK: 8, CLOSE_LEASES: 9 });
    expect(DIR).toEqual({ ID: 0, ID_LENGTH: 12, WEIGHT: 13, TICK_SIZE: 14, TICK_VALUE: 16, WORDS: 32 });
    expect(MARK).toEqual({ SEQ: 0, LAST: 2, BID: 4, ASK: 6, LAST_TRADE_MS: 8, UPDATED_MS: 10, WORDS: 16 });
    expect(ACC).toEqual({
      SEQ: 0, STATE: 1, REASON: 2, TRADING_DAY_ID: 3, POSITION_UNITS: 4, MAX_POSITION_UNITS: 5, MAX_OPEN_ORDERS: 6,
      MAX_ORDERS_PER_MINUTE: 7, OPEN_ORDERS: 8, ACCOUNT_ID: 10, BALANCE: 12, START_OF_DAY_BALANCE: 14, REALIZED_GROSS: 16,
      FEES: 18, UNREALIZED: 20, DAY_NET_PNL: 22, DLL_LIMIT: 24, MLL_FLOOR: 26, HEADROOM: 28, UPDATED_MS: 30, WORDS: 32,
    });
    expect(POS).toEqual({ SEQ: 0, NET_SIZE: 1, AVG_PRICE: 2, REALIZED_GROSS: 4, FEES: 6, UNREALIZED: 8, WORKING_STOP_LOSS: 10, UPDATED_MS: 12, WORKING_BUY: 14, WORKING_SELL: 15, WORDS: 16 });
    expect(RES_ACC).toEqual({ PENDING_UNITS: 0, OPEN_ORDERS: 1, WORDS: 16 });
    expect(RES_POS).toEqual({ PENDING_BUY: 0, PENDING_SELL: 1, WORDS: 2 });
    expect(RATE).toEqual({ LIMIT: 0, WINDOW_MS: 1, ENABLED: 2, COUNT: 8, HEADER_WORDS: 16, SLOT_INDEX: 0, SLOT_TIME: 1, SLOT_WORDS: 4 });
    expect(CLOSE_LEASE).toEqual({
      FULL_COUNT: 0, EVICTIONS: 1, HEADER_WORDS: 16, STATE: 0, OWNER: 1, SIDE: 2, SIZE: 3, ACCOUNT_ID: 4, CLAIMED_MS: 6,
      SENT_MS: 8, ID_LENGTH: 10, ID_HASH: 11, ID: 12, ID_BYTES: 48, WORDS: 32,
    });
    expect(AccountState).toEqual({ NOT_READY: 0, ACTIVE: 1, REDUCING: 2, HALTED: 3 });
    expect(Side).toEqual({ BUY: 0, SELL: 1 });
  });

  it('pins region offsets and sizes (words) for the default options', () => {
    const l = computeLayout();
    expect(l.options).toEqual({ contracts: 64, accounts: 8, rateLogCapacity: 256, closeLeases: 64 });
    const table = Object.values(l.regions).map((r) => [r.name, r.canary, r.offset, r.words]);
    expect(table).toEqual([
      ['contractDirectory', 16, 32, 2048],
      ['marks', 2080, 2096, 1024],
      ['markStale', 3120, 3136, 64],
      ['accountDirectory', 3200, 3216, 16],
      ['accountReady', 3232, 3248, 8],
      ['accounts', 3264, 3280, 256],
      ['positions', 3536, 3552, 8192],
      ['reservationAccounts', 11744, 11760, 128],
      ['reservationPositions', 11888, 11904, 1024],
      ['rateBuckets', 12928, 12944, 2080],
      ['orderRate', 15024, 15040, 8320],
      ['closeLeases', 23360, 23376, 2064],
    ]);
    expect(l.canaries).toEqual([16, 2080, 3120, 3200, 3232, 3264, 3536, 11744, 11888, 12928, 15024, 23360, 25440]);
    expect(l.totalWords).toBe(25456);
    expect(l.totalBytes).toBe(101824);
  });

  it('pins a non-default layout too', () => {
    const l = computeLayout({ contracts: 3, accounts: 2, rateLogCapacity: 10, closeLeases: 2 });
    expect(Object.values(l.regions).map((r) => [r.name, r.canary, r.offset, r.words])).toEqual([
      ['contractDirectory', 16, 32, 96],
      ['marks', 128, 144, 48],
      ['markStale', 192, 208, 3],
      ['accountDirectory', 224, 240, 4],
      ['accountReady', 256, 272, 2],
      ['accounts', 288, 304, 64],
      ['positions', 368, 384, 96],
      ['reservationAccounts', 480, 496, 32],
      ['reservationPositions', 528, 544, 12],
      ['rateBuckets', 560, 576, 112],
      ['orderRate', 688, 704, 112],
      ['closeLeases', 816, 832, 80],
    ]);
    expect(l.totalWords).toBe(928);
    expect(l.totalBytes).toBe(3712);
  });

  it('describes itself', () => {
    const d = describeLayout();
    expect(d).toContain('totalBytes=101824');
    expect(d).toMatch(/marks\s+8384\s+4096\s+market-data/);
  });

  it('rejects bad options naming the key', () => {
    expect(() => computeLayout({ contracts: 0 })).toThrow(/options\.contracts/);
    expect(() => computeLayout({ accounts: 1.5 })).toThrow(/options\.accounts/);
    expect(() => computeLayout({ rateLogCapacity: -1 })).toThrow(/options\.rateLogCapacity/);
    expect(() => computeLayout({ closeLeases: 0 })).toThrow(/options\.closeLeases/);
  });
});

describe('canaries', () => {
  it('survive every region written to its last record with all-ones patterns', () => {
    const opts = { contracts: 5, accounts: 3, rateLogCapacity: 12, closeLeases: 4 };
    const b = allocateSharedState(opts);
    const s = attachSharedState(b);
    expect(s.brokenCanaries()).toEqual([]);
    for (let c = 0; c < 5; c++) {
      const slot = s.directory.register({ contractId: 'X'.repeat(47) + String(c), tickSize: 2 ** 53 - 1, tickValue: 2 ** 53 - 1, weight: 1_000_000 });
      expect(slot).toBe(c);
      s.marks.write(c, { last: -1, bid: -(2 ** 53 - 1), ask: 2 ** 53 - 1, lastTradeMs: -1, updatedMs: -1 });
      s.marks.setStale(c, true);
    }
    const rec = {
      accountId: 0, state: 3, reason: -1, tradingDayId: 99_991_231, balance: -1, startOfDayBalance: -1, realizedGross: -1,
      fees: -1, unrealized: -1, dayNetPnl: -1, dllLimit: 2 ** 53 - 1, mllFloor: -1, headroom: -1, positionUnits: 2 ** 31 - 1,
      maxPositionUnits: 2 ** 31 - 1, maxOpenOrders: 2 ** 31 - 1, maxOrdersPerMinute: 2 ** 31 - 1, openOrders: 2 ** 31 - 1, updatedMs: -1,
    };
    for (let a = 0; a < 3; a++) {
      rec.accountId = 2 ** 53 - 1 - a;
      expect(s.accounts.registerAccount(rec.accountId)).toBe(a);
      s.accounts.writeAccount(a, rec);
      s.accounts.setReady(a, true);
      for (let c = 0; c < 5; c++) {
        s.accounts.writePosition(a, c, { netSize: -1, avgPrice: -1, realizedGross: -1, fees: -1, unrealized: -1, workingStopLoss: -1, updatedMs: -1, workingBuy: 2 ** 31 - 1, workingSell: 2 ** 31 - 1 });
        expect(s.reservations.tryReserve(a, c, Side.BUY, 1000, 1000, 2 ** 31 - 1, 0)).toBe(true);
        expect(s.reservations.tryReserve(a, c, Side.SELL, 1000, 1000, 2 ** 31 - 1, 0)).toBe(true);
      }
      expect(s.reservations.tryReserveOpenOrder(a, 10)).toBe(true);
      for (let k = 0; k < 12; k++) expect(s.rate.tryAcquireOrderRate(a, 1_000 + k, 12)).toBe(0);
    }
    for (const bucket of ['general', 'bars'] as const) {
      s.rate.configure(bucket, { limit: 12, windowMs: 1000, enabled: true });
      for (let k = 0; k < 30; k++) s.rate.tryAcquire(bucket, 5_000 + k * 100);
    }
    for (let k = 0; k < 4; k++) {
      const c = s.closes.tryClaim(2 ** 53 - 1, 'Y'.repeat(200) + String(k), Side.SELL, 2 ** 31 - 1, 2 ** 53 - 1, 2 ** 31 - 1);
      expect(c.ok && s.closes.markSent(c.lease, 2 ** 53 - 1)).toBe(true);
    }
    expect(s.brokenCanaries()).toEqual([]);
    expect(() => attachSharedState(b)).not.toThrow();
  });

  it('are detected when overwritten', () => {
    const b = allocateSharedState({ contracts: 2, accounts: 1, rateLogCapacity: 4 });
    const s = attachSharedState(b);
    const idx = s.layout.regions.positions.canary;
    s.words[idx] = 0;
    expect(s.brokenCanaries()).toEqual([idx]);
    expect(() => attachSharedState(b)).toThrow(/LAYOUT_MISMATCH: canaries overwritten at words/);
  });
});
