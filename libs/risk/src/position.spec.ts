import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pnlUnits } from './money';
import { PositionBook, type Fill } from './position';
import { ct, E6, ES, MNQ, NQ, px, specOf, usd } from '../test/fixtures';
import { tradingDayOf } from '@gateway/session';

const T0 = ct(2026, 1, 14, 9, 0);
let seq = 0;
const fill = (over: Partial<Fill>): Fill => ({
  contractId: MNQ.contractId,
  side: 'BUY',
  size: 1,
  priceUnits: px('20000'),
  feesUnits: usd('0.37'),
  tsMs: T0,
  tradeId: `t${++seq}`,
  ...over,
});

describe('PositionBook', () => {
  it('averages entries exactly and realises gross P&L per closing fill (broker profitAndLoss semantics)', () => {
    const book = new PositionBook(1, specOf);
    expect(book.applyFill(fill({ size: 1, priceUnits: px('20000') })).realizedGrossUnits).toBe(0);
    book.applyFill(fill({ size: 1, priceUnits: px('20000.25') }));
    const p = book.position(MNQ.contractId)!;
    expect(p.netSize).toBe(2);
    expect(p.costUnits).toBe(BigInt(px('40000.25')));
    // 20000.125 is between ticks; it is exact in price units.
    expect(p.avgPriceUnits).toBe(px('20000.125'));
    const r = book.applyFill(fill({ side: 'SELL', size: 1, priceUnits: px('20010') }));
    // (20010 − 20000.125) × $2 = $19.75
    expect(r).toMatchObject({ applied: true, realizedGrossUnits: usd('19.75'), closedSize: 1, openedSize: 0, netSizeAfter: 1 });
    const r2 = book.applyFill(fill({ side: 'SELL', size: 1, priceUnits: px('20010') }));
    expect(r2.realizedGrossUnits).toBe(usd('19.75'));
    expect(book.netSize(MNQ.contractId)).toBe(0);
    expect(book.position(MNQ.contractId)!.costUnits).toBe(0n);
    const t = book.totals(() => undefined);
    expect(t.dayRealizedGrossUnits).toBe(usd('39.50'));
    expect(t.dayFeesUnits).toBe(usd('1.48'));
    expect(t.dayRealizedNetUnits).toBe(usd('38.02'));
    expect(t.dayNetPnlUnits).toBe(usd('38.02'));
  });

  it('matches the ES Trade/search example: buy 6064.25, sell 6065.25 → profitAndLoss 50, fees 1.40 per side', () => {
    const book = new PositionBook(1, specOf);
    book.applyFill(fill({ contractId: ES.contractId, priceUnits: px('6064.25'), feesUnits: usd('1.40') }));
    const r = book.applyFill(fill({ contractId: ES.contractId, side: 'SELL', priceUnits: px('6065.25'), feesUnits: usd('1.40') }));
    expect(r.realizedGrossUnits).toBe(usd('50'));
    expect(book.totals(() => undefined).dayRealizedNetUnits).toBe(usd('47.20'));
  });

  it('splits a reversing fill: long 2, sell 3 → realises 2, short 1 at the fill price', () => {
    const book = new PositionBook(1, specOf);
    book.applyFill(fill({ size: 2, priceUnits: px('20000') }));
    const r = book.applyFill(fill({ side: 'SELL', size: 3, priceUnits: px('19990'), feesUnits: usd('1.11') }));
    expect(r).toMatchObject({ realizedGrossUnits: usd('-40'), closedSize: 2, openedSize: 1, netSizeAfter: -1 });
    const p = book.position(MNQ.contractId)!;
    expect(p.avgPriceUnits).toBe(px('19990'));
    expect(book.unrealizedUnits(MNQ.contractId, px('19980'))).toBe(usd('20'));
    // And back: buy 2 → realise the short (+$20 at 19980), long 1 at 19980.
    const r2 = book.applyFill(fill({ side: 'BUY', size: 2, priceUnits: px('19980') }));
    expect(r2).toMatchObject({ realizedGrossUnits: usd('20'), closedSize: 1, openedSize: 1, netSizeAfter: 1 });
    expect(book.position(MNQ.contractId)!.avgPriceUnits).toBe(px('19980'));
  });

  it('ignores duplicate trade ids (REST rebuild overlapping hub events) and voided trades', () => {
    const book = new PositionBook(1, specOf);
    const f = fill({ size: 2, tradeId: 9001 });
    expect(book.applyFill(f).applied).toBe(true);
    expect(book.applyFill({ ...f }).applied).toBe(false);
    expect(book.applyFill(fill({ side: 'SELL', tradeId: 9002, voided: true })).applied).toBe(false);
    expect(book.netSize(MNQ.contractId)).toBe(2);
    expect(book.totals(() => undefined).dayFeesUnits).toBe(usd('0.37'));
  });

  it('computes unrealised P&L per contract and per account, and counts missing marks', () => {
    const book = new PositionBook(1, specOf);
    book.applyFill(fill({ size: 2, priceUnits: px('20000') }));
    book.applyFill(fill({ contractId: ES.contractId, side: 'SELL', size: 1, priceUnits: px('6000'), feesUnits: 0 }));
    expect(book.unrealizedUnits(MNQ.contractId, px('19900'))).toBe(usd('-400'));
    expect(book.unrealizedUnits(ES.contractId, px('5990'))).toBe(usd('500'));
    const marks = new Map([
      [MNQ.contractId, px('19900')],
      [ES.contractId, px('5990')],
    ]);
    const t = book.totals((id) => marks.get(id));
    expect(t).toMatchObject({ unrealizedUnits: usd('100'), dayNetPnlUnits: usd('99.63'), openContracts: 2, missingMarks: 0 });
    expect(book.totals((id) => (id === ES.contractId ? Number.NaN : marks.get(id))).missingMarks).toBe(1);
    expect(book.openContractIds().sort()).toEqual([ES.contractId, MNQ.contractId].sort());
  });

  it('resets day totals at 17:00 CT and keeps positions; a previous-day fill is not counted today', () => {
    const book = new PositionBook(1, specOf);
    book.applyFill(fill({ size: 1, priceUnits: px('20000') }));
    book.applyFill(fill({ side: 'SELL', size: 1, priceUnits: px('20010'), tsMs: ct(2026, 1, 14, 16, 59) }));
    book.applyFill(fill({ size: 1, priceUnits: px('20000'), tsMs: ct(2026, 1, 14, 16, 59) }));
    expect(book.dayId).toBe(20260114);
    expect(book.totals(() => undefined).dayRealizedGrossUnits).toBe(usd('20'));
    book.applyFill(fill({ side: 'SELL', size: 1, priceUnits: px('20005'), tsMs: ct(2026, 1, 14, 17, 0) }));
    expect(book.dayId).toBe(20260115);
    const t = book.totals(() => undefined);
    expect(t.dayRealizedGrossUnits).toBe(usd('10'));
    expect(t.dayFeesUnits).toBe(usd('0.37'));
    // A late replay of an earlier day's fill moves the position but not today's totals.
    book.applyFill(fill({ size: 1, priceUnits: px('20000'), tsMs: T0 }));
    expect(book.netSize(MNQ.contractId)).toBe(1);
    expect(book.totals(() => undefined).dayFeesUnits).toBe(usd('0.37'));
    expect(book.lifetimeRealizedGrossUnits).toBe(usd('30'));
    book.beginTradingDay(tradingDayOf(ct(2026, 1, 15, 17, 5)).id);
    expect(book.totals(() => undefined).dayRealizedGrossUnits).toBe(0);
    expect(book.netSize(MNQ.contractId)).toBe(1);
  });

  it('takes a position from the broker view when reconciling, then keeps accounting from it', () => {
    const book = new PositionBook(1, specOf);
    book.setPosition(MNQ.contractId, -3, px('20000.5'));
    expect(book.position(MNQ.contractId)).toMatchObject({ netSize: -3, avgPriceUnits: px('20000.5'), costUnits: BigInt(px('60001.5')) });
    const r = book.applyFill(fill({ side: 'BUY', size: 3, priceUnits: px('19990.5') }));
    expect(r.realizedGrossUnits).toBe(usd('60'));
    expect(book.positions()).toEqual([
      { contractId: MNQ.contractId, netSize: 0, avgPriceUnits: 0, costUnits: 0n, dayRealizedGrossUnits: usd('60'), dayFeesUnits: usd('0.37') },
    ]);
    expect(() => book.setPosition(MNQ.contractId, 1, Number.NaN)).toThrow(/avgPriceUnits/);
  });

  it('diffs the book against the broker: size or average, broker contracts first, then the book\'s own open ones', () => {
    const book = new PositionBook(1, specOf);
    book.applyFill(fill({ side: 'SELL', size: 2, priceUnits: px('20000') }));
    book.applyFill(fill({ contractId: ES.contractId, size: 1, priceUnits: px('6000') }));
    book.applyFill(fill({ contractId: NQ.contractId, size: 1, priceUnits: px('21000') }));
    book.applyFill(fill({ contractId: NQ.contractId, side: 'SELL', size: 1, priceUnits: px('21001') }));
    const same = [
      { contractId: MNQ.contractId, netSize: -2, avgPriceUnits: px('20000') },
      { contractId: ES.contractId, netSize: 1, avgPriceUnits: px('6000') },
    ];
    // A flat contract the broker does not list is no difference.
    expect(book.diff(same)).toEqual([]);
    expect(book.diff([{ ...same[0]!, avgPriceUnits: px('20000.25') }, same[1]!])).toEqual([
      { contractId: MNQ.contractId, bookNetSize: -2, brokerNetSize: -2, brokerAvgPriceUnits: px('20000.25'), sizeDiffers: false },
    ]);
    expect(book.diff([{ contractId: MNQ.contractId, netSize: -3, avgPriceUnits: px('20000') }])).toEqual([
      { contractId: MNQ.contractId, bookNetSize: -2, brokerNetSize: -3, brokerAvgPriceUnits: px('20000'), sizeDiffers: true },
      { contractId: ES.contractId, bookNetSize: 1, brokerNetSize: 0, brokerAvgPriceUnits: 0, sizeDiffers: true },
    ]);
    // Never seen by the book: differs even when the broker lists it flat (the reconcile records it).
    expect(book.diff([...same, { contractId: E6.contractId, netSize: 0, avgPriceUnits: 0 }])).toEqual([
      { contractId: E6.contractId, bookNetSize: 0, brokerNetSize: 0, brokerAvgPriceUnits: 0, sizeDiffers: false },
    ]);
    // Listed twice: the sizes add up, the last average counts.
    expect(book.diff([same[0]!, { contractId: ES.contractId, netSize: 1, avgPriceUnits: px('5990') }, same[1]!])).toEqual([
      { contractId: ES.contractId, bookNetSize: 1, brokerNetSize: 2, brokerAvgPriceUnits: px('6000'), sizeDiffers: true },
    ]);
    expect(() => book.diff([{ contractId: MNQ.contractId, netSize: 1.5, avgPriceUnits: 0 }])).toThrow(/netSize/);
  });

  it('rejects bad fills with a RangeError naming the field', () => {
    const book = new PositionBook(1, specOf);
    expect(() => book.applyFill(fill({ size: 0 }))).toThrow(/fill.size/);
    expect(() => book.applyFill(fill({ priceUnits: 1.5 }))).toThrow(/fill.priceUnits/);
    expect(() => book.applyFill(fill({ feesUnits: -1 }))).toThrow(/fill.feesUnits/);
    expect(() => book.applyFill(fill({ contractId: 'CON.F.US.XXX.H26' }))).toThrow(/contractId/);
    expect(() => book.applyFill(fill({ side: 'HOLD' as never }))).toThrow(/fill.side/);
  });

  it('property: realised + unrealised equals the exact P&L of every fill marked to the final price', () => {
    const fills = fc.array(
      fc.record({ buy: fc.boolean(), size: fc.integer({ min: 1, max: 7 }), ticks: fc.integer({ min: 79_000, max: 81_000 }) }),
      { minLength: 1, maxLength: 30 },
    );
    fc.assert(
      fc.property(fills, fc.integer({ min: 79_000, max: 81_000 }), (seqs, markTicks) => {
        const book = new PositionBook(1, specOf);
        const mark = markTicks * MNQ.tickSizeUnits;
        let reference = 0;
        let closing = 0;
        for (const s of seqs) {
          const p = s.ticks * MNQ.tickSizeUnits;
          const r = book.applyFill(fill({ side: s.buy ? 'BUY' : 'SELL', size: s.size, priceUnits: p, feesUnits: 0 }));
          if (r.closedSize > 0) closing++;
          reference += pnlUnits(p, mark, s.buy ? s.size : -s.size, MNQ.tickSizeUnits, MNQ.tickValueMoneyUnits);
        }
        const total = book.totals(() => mark).dayNetPnlUnits;
        // Each closing fill and the mark rounds once to the money unit (≤ 0.5 unit each).
        expect(Math.abs(total - reference)).toBeLessThanOrEqual((closing + 1) / 2);
        if (book.netSize(MNQ.contractId) === 0) {
          // Flat: the removed costs sum exactly to the cost paid, so with one entry price it is exact.
          if (new Set(seqs.map((s) => s.ticks)).size === 1) expect(total).toBe(reference);
        }
      }),
    );
  });
});

describe('PositionBook at large sizes', () => {
  it('keeps cost exact past 2^53 (1,000 MNQ at 21,000) and realizes the right P&L', () => {
    const book = new PositionBook(1, (id) => (id === MNQ.contractId ? MNQ : undefined));
    const entry = px('21000.25');
    book.applyFill({ contractId: MNQ.contractId, side: 'BUY', size: 1000, priceUnits: entry, feesUnits: 0, tsMs: Date.parse('2026-11-25T15:00:00Z'), tradeId: 9001 });
    expect(book.position(MNQ.contractId)!.costUnits).toBe(BigInt(entry) * 1000n);
    expect(book.unrealizedUnits(MNQ.contractId, px('21001.25'))).toBe(usd('2000'));
    const r = book.applyFill({ contractId: MNQ.contractId, side: 'SELL', size: 1000, priceUnits: px('21000.75'), feesUnits: 0, tsMs: Date.parse('2026-11-25T15:01:00Z'), tradeId: 9002 });
    expect(r.realizedGrossUnits).toBe(usd('1000'));
    expect(book.netSize(MNQ.contractId)).toBe(0);
  });
});
