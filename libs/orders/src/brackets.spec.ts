import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bracketTicks, MIN_BRACKET_TICKS } from './index';

const TICK = 250_000_000; // 0.25
const ENTRY = 21_000_000_000_000;

describe('bracketTicks', () => {
  it('signs ticks as the broker wants: long SL < 0 < TP, short TP < 0 < SL', () => {
    expect(bracketTicks('BUY', ENTRY, ENTRY - 10 * TICK, TICK, 'stop_loss')).toEqual({ ok: true, ticks: -10, levelUnits: ENTRY - 10 * TICK });
    expect(bracketTicks('BUY', ENTRY, ENTRY + 20 * TICK, TICK, 'take_profit')).toMatchObject({ ok: true, ticks: 20 });
    expect(bracketTicks('SELL', ENTRY, ENTRY + 10 * TICK, TICK, 'stop_loss')).toMatchObject({ ok: true, ticks: 10 });
    expect(bracketTicks('SELL', ENTRY, ENTRY - 20 * TICK, TICK, 'take_profit')).toMatchObject({ ok: true, ticks: -20 });
  });

  it('refuses a level on the wrong side, naming the field', () => {
    expect(bracketTicks('BUY', ENTRY, ENTRY + 10 * TICK, TICK, 'stop_loss')).toMatchObject({ ok: false, field: 'stop_loss' });
    expect(bracketTicks('SELL', ENTRY, ENTRY + 10 * TICK, TICK, 'take_profit')).toMatchObject({ ok: false, field: 'take_profit' });
    expect(bracketTicks('BUY', ENTRY, ENTRY, TICK, 'take_profit')).toMatchObject({ ok: false, field: 'take_profit' });
  });

  it(`refuses levels nearer than ${MIN_BRACKET_TICKS} ticks and accepts exactly ${MIN_BRACKET_TICKS}`, () => {
    expect(bracketTicks('BUY', ENTRY, ENTRY - 3 * TICK, TICK, 'stop_loss')).toMatchObject({
      ok: false,
      field: 'stop_loss',
      message: 'stop_loss: must be at least 4 ticks below the entry price, got 3',
    });
    expect(bracketTicks('BUY', ENTRY, ENTRY - 4 * TICK, TICK, 'stop_loss')).toMatchObject({ ok: true, ticks: -4 });
  });

  it('takes an off-grid level to the nearest tick and reports the effective level', () => {
    expect(bracketTicks('BUY', ENTRY, ENTRY - 10 * TICK - 100_000_000, TICK, 'stop_loss')).toEqual({
      ok: true,
      ticks: -10,
      levelUnits: ENTRY - 10 * TICK,
    });
    expect(bracketTicks('BUY', ENTRY, ENTRY + 10 * TICK + 200_000_000, TICK, 'take_profit')).toMatchObject({ ticks: 11 });
  });

  it('fails loudly on a broken tick size (a configuration bug, not user input)', () => {
    expect(() => bracketTicks('BUY', ENTRY, ENTRY - 10 * TICK, 0, 'stop_loss')).toThrow(RangeError);
  });

  it('property: an accepted bracket is signed by side and field and at least 4 ticks away', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('BUY' as const, 'SELL' as const),
        fc.constantFrom('stop_loss' as const, 'take_profit' as const),
        fc.integer({ min: 10_000, max: 1_000_000 }),
        fc.integer({ min: -5_000, max: 5_000 }),
        fc.integer({ min: -(TICK / 2) + 1, max: TICK / 2 - 1 }),
        (side, field, entryTicks, offsetTicks, jitter) => {
          const entry = entryTicks * TICK;
          const result = bracketTicks(side, entry, entry + offsetTicks * TICK + jitter, TICK, field);
          const below = (side === 'BUY') === (field === 'stop_loss');
          const wantedSign = below ? -1 : 1;
          const valid = Math.sign(offsetTicks) === wantedSign && Math.abs(offsetTicks) >= MIN_BRACKET_TICKS;
          if (!valid) return !result.ok && result.field === field;
          return result.ok && result.ticks === offsetTicks && result.levelUnits === entry + offsetTicks * TICK;
        },
      ),
    );
  });
});
