import { checkSlot } from './errors';
import { assertSafeInt } from './fixed';
import { loadI64Plain, storeI64 } from './int64';
import { MARK, type Layout } from './layout';
import { SeqlockReader, seqWriteBegin, seqWriteEnd } from './seqlock';

/** Latest market marks of one contract. Prices in price units (1e-9), 0 = unknown; times epoch ms. */
export interface Mark {
  last: number;
  bid: number;
  ask: number;
  lastTradeMs: number;
  updatedMs: number;
}

export function newMark(): Mark {
  return { last: 0, bid: 0, ask: 0, lastTradeMs: 0, updatedMs: 0 };
}

/**
 * Marks region: one seqlocked record per contract slot plus a separate atomic stale flag.
 * Writer: the market-data thread only (write*, setStale); while that thread is dead, the main thread sets
 * every flag (setStale(…, true) only: fail closed until the restarted thread sees its feed). Readers: any thread.
 * Every stale flag starts at 1 (allocateSharedState): entries fail closed until market-data has a live feed.
 */
export class Marks {
  private readonly base: number;
  private readonly staleBase: number;
  private readonly capacity: number;

  constructor(
    private readonly a: Int32Array,
    layout: Layout,
    private readonly reader: SeqlockReader,
  ) {
    this.base = layout.regions.marks.offset;
    this.staleBase = layout.regions.markStale.offset;
    this.capacity = layout.options.contracts;
  }

  /** market-data thread only. Publishes the whole record; validates every field before the seqlock opens. */
  write(slot: number, m: Mark): void {
    checkSlot(slot, this.capacity, 'contractSlot');
    assertSafeInt(m.last, 'last');
    assertSafeInt(m.bid, 'bid');
    assertSafeInt(m.ask, 'ask');
    assertSafeInt(m.lastTradeMs, 'lastTradeMs');
    assertSafeInt(m.updatedMs, 'updatedMs');
    const a = this.a;
    const r = this.base + slot * MARK.WORDS;
    const w = seqWriteBegin(a, r + MARK.SEQ);
    storeI64(a, r + MARK.LAST, m.last);
    storeI64(a, r + MARK.BID, m.bid);
    storeI64(a, r + MARK.ASK, m.ask);
    storeI64(a, r + MARK.LAST_TRADE_MS, m.lastTradeMs);
    storeI64(a, r + MARK.UPDATED_MS, m.updatedMs);
    seqWriteEnd(a, r + MARK.SEQ, w);
  }

  /** market-data thread only. A quote: bid and ask change, last and lastTradeMs are kept. */
  writeQuote(slot: number, bid: number, ask: number, updatedMs: number): void {
    checkSlot(slot, this.capacity, 'contractSlot');
    assertSafeInt(bid, 'bid');
    assertSafeInt(ask, 'ask');
    assertSafeInt(updatedMs, 'updatedMs');
    const a = this.a;
    const r = this.base + slot * MARK.WORDS;
    const w = seqWriteBegin(a, r + MARK.SEQ);
    storeI64(a, r + MARK.BID, bid);
    storeI64(a, r + MARK.ASK, ask);
    storeI64(a, r + MARK.UPDATED_MS, updatedMs);
    seqWriteEnd(a, r + MARK.SEQ, w);
  }

  /** market-data thread only. A trade: last and lastTradeMs change, bid and ask are kept. */
  writeTrade(slot: number, last: number, tradeMs: number, updatedMs: number): void {
    checkSlot(slot, this.capacity, 'contractSlot');
    assertSafeInt(last, 'last');
    assertSafeInt(tradeMs, 'lastTradeMs');
    assertSafeInt(updatedMs, 'updatedMs');
    const a = this.a;
    const r = this.base + slot * MARK.WORDS;
    const w = seqWriteBegin(a, r + MARK.SEQ);
    storeI64(a, r + MARK.LAST, last);
    storeI64(a, r + MARK.LAST_TRADE_MS, tradeMs);
    storeI64(a, r + MARK.UPDATED_MS, updatedMs);
    seqWriteEnd(a, r + MARK.SEQ, w);
  }

  /** Any thread. Fills the caller-owned `out` with one consistent record and returns it; allocation-free. */
  read(slot: number, out: Mark): Mark {
    checkSlot(slot, this.capacity, 'contractSlot');
    const a = this.a;
    const seq = this.base + slot * MARK.WORDS + MARK.SEQ;
    const r = this.base + slot * MARK.WORDS;
    for (let tries = 0; tries < this.reader.maxRetries; tries++) {
      const s = this.reader.begin(seq);
      out.last = loadI64Plain(a, r + MARK.LAST);
      out.bid = loadI64Plain(a, r + MARK.BID);
      out.ask = loadI64Plain(a, r + MARK.ASK);
      out.lastTradeMs = loadI64Plain(a, r + MARK.LAST_TRADE_MS);
      out.updatedMs = loadI64Plain(a, r + MARK.UPDATED_MS);
      if (this.reader.valid(seq, s)) return out;
    }
    return this.reader.livelock(seq, `marks[${slot}]`);
  }

  /** market-data thread (and the main thread, to true only, while market-data is dead). A contract whose feed went quiet is marked stale; the executor refuses entries on it. */
  setStale(slot: number, stale: boolean): void {
    checkSlot(slot, this.capacity, 'contractSlot');
    Atomics.store(this.a, this.staleBase + slot, stale ? 1 : 0);
  }

  /** Any thread. */
  isStale(slot: number): boolean {
    checkSlot(slot, this.capacity, 'contractSlot');
    return Atomics.load(this.a, this.staleBase + slot) !== 0;
  }
}
