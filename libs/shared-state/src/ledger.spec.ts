import { describe, expect, it } from 'vitest';
import { Held, LEDGER_ENTRY, LEDGER_HEADER, LEDGER_MAGIC, LEDGER_ORDER, LEDGER_VERSION, allocateLedger, attachLedger } from './ledger';
import { Side } from './reservations';

describe('reservation ledger', () => {
  it('pins its layout: 16-word header, 8-word entries', () => {
    expect(LEDGER_MAGIC).toBe(0x47574c44);
    expect(LEDGER_VERSION).toBe(1);
    expect(LEDGER_HEADER).toEqual({ MAGIC: 0, VERSION: 1, ENTRIES: 2, WORDS: 16 });
    expect(LEDGER_ENTRY).toEqual({ STATE: 0, ORDER: 1, SIZE: 2, WEIGHT: 3, GENERATION: 4, WORDS: 8 });
    expect(LEDGER_ORDER).toEqual({ CONTRACT_SHIFT: 10, SIDE_BIT: 1 << 22, REDUCING_BIT: 1 << 23, ACCOUNT_MASK: 0x3ff, CONTRACT_MASK: 0xfff });
    expect(Held).toEqual({ NONE: 0, SIZE: 1, ALL: 3 });
    expect(allocateLedger(3).buffer.byteLength).toBe((16 + 3 * 8) * 4);
  });

  it('refuses a bad size and a buffer that is not a ledger', () => {
    expect(() => allocateLedger(0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const b = allocateLedger(2);
    expect(() => attachLedger({ buffer: b.buffer, entries: 3 })).toThrow(expect.objectContaining({ code: 'LAYOUT_MISMATCH' }));
    expect(() => attachLedger({ buffer: new SharedArrayBuffer(96), entries: 1 })).toThrow(expect.objectContaining({ code: 'LAYOUT_MISMATCH' }));
  });

  it('arms every entry once, then reports full; settle frees an entry without returning anything', () => {
    const main = attachLedger(allocateLedger(2));
    const a = main.arm()!;
    const b = main.arm()!;
    expect(a.entry).not.toBe(b.entry);
    expect(main.arm()).toBeUndefined();
    expect(main.armed()).toBe(2);
    main.settle(a);
    expect(main.armed()).toBe(1);
    expect(main.heldBits(a.entry)).toBe(-1);
    // Settled or reclaimed twice is a bookkeeping bug of the caller, refused.
    expect(() => main.settle(a)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('reclaims what the thread recorded and moved: nothing, the size alone, or both claims', () => {
    const b = allocateLedger(4);
    const main = attachLedger(b);
    const thread = attachLedger(b);
    const none = main.arm()!;
    expect(thread.record(none, 1, 2, Side.SELL, 3, 10, false)).toBe(true);
    expect(main.reclaim(none)).toBeUndefined();

    const size = main.arm()!;
    thread.record(size, 1, 2, Side.SELL, 3, 10, false);
    expect(thread.move(size, Held.NONE, Held.SIZE)).toBe(true);
    expect(main.reclaim(size)).toEqual({ accountSlot: 1, contractSlot: 2, side: Side.SELL, size: 3, weight: 10, reducing: false, openOrder: false });

    const all = main.arm()!;
    thread.record(all, 0, 1, Side.BUY, 2, 1, true);
    expect(thread.move(all, Held.NONE, Held.SIZE)).toBe(true);
    expect(thread.move(all, Held.SIZE, Held.ALL)).toBe(true);
    expect(thread.heldBits(all.entry)).toBe(Held.ALL);
    expect(main.reclaim(all)).toEqual({ accountSlot: 0, contractSlot: 1, side: Side.BUY, size: 2, weight: 1, reducing: true, openOrder: true });

    // The largest slots a layout allows, and the largest int32 size.
    const edge = main.arm()!;
    thread.record(edge, 1023, 4095, Side.SELL, 2 ** 31 - 1, 10, true);
    thread.move(edge, Held.NONE, Held.SIZE);
    expect(main.reclaim(edge)).toEqual({ accountSlot: 1023, contractSlot: 4095, side: Side.SELL, size: 2 ** 31 - 1, weight: 10, reducing: true, openOrder: false });
    const wide = main.arm()!;
    expect(() => thread.record(wide, 1024, 0, Side.BUY, 1, 1, false)).toThrow(expect.objectContaining({ code: 'SLOT_OUT_OF_RANGE' }));
    expect(main.reclaim(wide)).toBeUndefined();
    expect(main.armed()).toBe(0);
  });

  it('a thread whose entry was reclaimed can neither record nor move, even once the entry is armed for another task', () => {
    const b = allocateLedger(1);
    const main = attachLedger(b);
    const thread = attachLedger(b);
    const first = main.arm()!;
    thread.record(first, 0, 0, Side.BUY, 1, 1, false);
    expect(main.reclaim(first)).toBeUndefined();
    expect(thread.move(first, Held.NONE, Held.SIZE)).toBe(false);
    const second = main.arm()!;
    expect(second.entry).toBe(first.entry);
    expect(second.ticket).not.toBe(first.ticket);
    // The late thread of the first task: refused on the second task's entry.
    expect(thread.record(first, 0, 0, Side.BUY, 9, 9, false)).toBe(false);
    expect(thread.move(first, Held.NONE, Held.SIZE)).toBe(false);
    expect(main.heldBits(second.entry)).toBe(Held.NONE);
    // A move back refused after the reclaim: the thread learns the main thread released what was recorded.
    thread.record(second, 0, 0, Side.BUY, 1, 1, false);
    expect(thread.move(second, Held.NONE, Held.SIZE)).toBe(true);
    expect(main.reclaim(second)?.size).toBe(1);
    expect(thread.move(second, Held.SIZE, Held.NONE)).toBe(false);
  });

  it('refuses holds that name no entry or carry a malformed ticket', () => {
    const main = attachLedger(allocateLedger(1));
    const h = main.arm()!;
    expect(() => main.record({ entry: 1, ticket: h.ticket }, 0, 0, Side.BUY, 1, 1, false)).toThrow(expect.objectContaining({ code: 'SLOT_OUT_OF_RANGE' }));
    expect(() => main.record({ entry: 0, ticket: h.ticket + 1 }, 0, 0, Side.BUY, 1, 1, false)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => main.reclaim({ entry: 0, ticket: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
