import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ContractInfo, type OrderRequestInput, validateOrderRequest, type ValidationContext } from './index';

const MNQ: ContractInfo = { contractId: 'CON.F.US.MNQ.Z26', tickSizeUnits: 250_000_000, tickValueUnits: 5_000, isMicro: true };
const SIXE: ContractInfo = { contractId: 'CON.F.US.EU6.Z26', tickSizeUnits: 50_000, tickValueUnits: 62_500, isMicro: false };
const MARK = 21_000_000_000_000; // 21000.00

function ctx(overrides: Partial<ValidationContext> = {}): ValidationContext {
  return {
    resolveSymbol: (s) => (s === 'MNQ' || s === MNQ.contractId ? MNQ : s === '6E' ? SIXE : undefined),
    maxQuantity: 10,
    defaultAccountId: 7001,
    isKnownAccount: (id) => id === 7001 || id === 7002,
    markPriceUnits: (id) => (id === MNQ.contractId ? MARK : undefined),
    ...overrides,
  };
}

const base = {
  symbol: 'MNQ',
  side: 'BUY',
  quantity: 2,
  price: 21000.25,
  orderType: 'LIMIT',
  strategyName: 'mean_revert.v2',
};

function failure(req: OrderRequestInput, c: ValidationContext = ctx()) {
  const result = validateOrderRequest(req, c);
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result;
}

describe('validateOrderRequest: accepted requests', () => {
  it('normalises a LIMIT order with brackets into fixed-point units and signed ticks', () => {
    const result = validateOrderRequest({ ...base, side: 'buy', stopLoss: 20990.25, takeProfit: 21020.25 }, ctx());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      accountId: 7001,
      contract: MNQ,
      side: 'BUY',
      quantity: 2,
      orderType: 'LIMIT',
      limitPriceUnits: 21_000_250_000_000,
      entryPriceUnits: 21_000_250_000_000,
      stopLoss: { ticks: -40, levelUnits: 20_990_250_000_000 },
      takeProfit: { ticks: 80, levelUnits: 21_020_250_000_000 },
      strategyName: 'mean_revert.v2',
      clientOrderId: '',
      reduceOnly: false,
    });
  });

  it('treats an empty order_type as MARKET, ignores its price and measures brackets from the mark', () => {
    const result = validateOrderRequest(
      { symbol: 'MNQ', side: 'SELL', quantity: 1, price: 21000.13, orderType: '', strategyName: 's', stopLoss: 21010, takeProfit: 20990 },
      ctx(),
    );
    expect(result.ok && result.value).toMatchObject({
      orderType: 'MARKET',
      limitPriceUnits: undefined,
      entryPriceUnits: MARK,
      stopLoss: { ticks: 40 },
      takeProfit: { ticks: -40 },
    });
  });

  it('accepts snake_case JSON bodies and an explicit known account', () => {
    const result = validateOrderRequest(
      { symbol: 'MNQ', side: 'SELL', quantity: 1, order_type: 'stop', stop_price: 20950.5, strategy_name: 'x', account_id: 7002, client_order_id: 'abc-1', reduce_only: true },
      ctx(),
    );
    expect(result.ok && result.value).toMatchObject({ orderType: 'STOP', stopPriceUnits: 20_950_500_000_000, accountId: 7002, clientOrderId: 'abc-1', reduceOnly: true });
  });

  it('takes a STOP level from price when stop_price is unset (seed clients)', () => {
    const result = validateOrderRequest({ ...base, orderType: 'STOP', price: 21050 }, ctx());
    expect(result.ok && result.value.stopPriceUnits).toBe(21_050_000_000_000);
  });

  it('accepts proto3 optional fields left unset (undefined) and null from JSON', () => {
    const result = validateOrderRequest({ ...base, stopLoss: undefined, take_profit: null, accountId: 0, clientOrderId: '' }, ctx());
    expect(result.ok && result.value).toMatchObject({ stopLoss: undefined, takeProfit: undefined, accountId: 7001 });
  });

  it('checks the tick grid of a 0.00005 contract exactly', () => {
    expect(validateOrderRequest({ ...base, symbol: '6E', price: 1.08735 }, ctx()).ok).toBe(true);
    expect(failure({ ...base, symbol: '6E', price: 1.08736 }).field).toBe('price');
  });
});

describe('validateOrderRequest: every bad input names its field', () => {
  const cases: Array<[string, OrderRequestInput, string, RegExp?]> = [
    ['empty symbol', { ...base, symbol: '' }, 'symbol', /required/],
    ['missing symbol', { ...base, symbol: undefined }, 'symbol'],
    ['unknown symbol', { ...base, symbol: 'XYZ' }, 'symbol', /unknown symbol "XYZ"/],
    ['numeric symbol', { ...base, symbol: 5 }, 'symbol'],
    ['HOLD side', { ...base, side: 'HOLD' }, 'side', /BUY or SELL, got "HOLD"/],
    ['empty side', { ...base, side: '' }, 'side'],
    ['numeric side', { ...base, side: 0 }, 'side'],
    ['zero quantity', { ...base, quantity: 0 }, 'quantity', /1 to 10, got 0/],
    ['negative quantity', { ...base, quantity: -1 }, 'quantity'],
    ['2^31 quantity from JSON', { ...base, quantity: 2 ** 31 }, 'quantity', /got 2147483648/],
    ['quantity above the maximum', { ...base, quantity: 11 }, 'quantity'],
    ['fractional quantity', { ...base, quantity: 1.5 }, 'quantity'],
    ['NaN quantity', { ...base, quantity: Number.NaN }, 'quantity'],
    ['string quantity', { ...base, quantity: '2' }, 'quantity'],
    ['unknown order type', { ...base, orderType: 'ICEBERG' }, 'order_type', /got "ICEBERG"/],
    ['numeric order type', { ...base, orderType: 2 }, 'order_type'],
    ['NaN price', { ...base, price: Number.NaN }, 'price', /finite/],
    ['negative price', { ...base, price: -5 }, 'price', /> 0/],
    ['Infinity price', { ...base, price: Number.POSITIVE_INFINITY }, 'price', /finite/],
    ['NaN price on a MARKET order', { ...base, orderType: 'MARKET', price: Number.NaN }, 'price'],
    ['negative price on a MARKET order', { ...base, orderType: 'MARKET', price: -1 }, 'price'],
    ['LIMIT without price', { ...base, price: 0 }, 'price', /required for LIMIT/],
    ['LIMIT without price (absent)', { ...base, price: undefined }, 'price', /required for LIMIT/],
    ['price off the tick grid', { ...base, price: 21000.1 }, 'price', /not a multiple of the tick size 0.25/],
    ['price beyond the fixed-point range', { ...base, price: 1e300 }, 'price', /out of range/],
    ['STOP without a level', { ...base, orderType: 'STOP', price: 0 }, 'stop_price', /required/],
    ['stop_price off grid', { ...base, orderType: 'STOP', stopPrice: 21000.3 }, 'stop_price'],
    ['stop_price on a LIMIT order', { ...base, stopPrice: 21000 }, 'stop_price', /only for STOP/],
    ['TRAILING_STOP without a level', { ...base, orderType: 'TRAILING_STOP', price: 0 }, 'trail_price'],
    ['trail beyond 1000 ticks', { ...base, side: 'SELL', orderType: 'TRAILING_STOP', trailPrice: 20700 }, 'trail_price', /1000 ticks/],
    ['trail_price on a MARKET order', { ...base, orderType: 'MARKET', trailPrice: 21000 }, 'trail_price'],
    ['missing strategy_name', { ...base, strategyName: undefined }, 'strategy_name', /required/],
    ['empty strategy_name', { ...base, strategyName: '' }, 'strategy_name'],
    ['800-char strategy_name', { ...base, strategyName: 'a'.repeat(800) }, 'strategy_name', /at most 64 characters, got 800/],
    ['strategy_name with a space', { ...base, strategyName: 'my strategy' }, 'strategy_name', /letters, digits/],
    ['strategy_name with unicode', { ...base, strategyName: 'stratégie' }, 'strategy_name'],
    ['65-char client_order_id', { ...base, clientOrderId: 'c'.repeat(65) }, 'client_order_id', /at most 64/],
    ['client_order_id with a space', { ...base, clientOrderId: 'a b' }, 'client_order_id'],
    ['numeric client_order_id', { ...base, client_order_id: 12 }, 'client_order_id'],
    ['negative account_id', { ...base, accountId: -3 }, 'account_id'],
    ['fractional account_id', { ...base, accountId: 1.5 }, 'account_id'],
    ['unknown account_id', { ...base, accountId: 9999 }, 'account_id', /unknown account 9999/],
    ['string reduce_only', { ...base, reduce_only: 'yes' }, 'reduce_only'],
    ['BUY stop_loss above entry', { ...base, stopLoss: 21010 }, 'stop_loss', /below the entry price for a BUY/],
    ['BUY take_profit below entry', { ...base, takeProfit: 20990 }, 'take_profit', /above the entry price for a BUY/],
    ['SELL stop_loss below entry', { ...base, side: 'SELL', stopLoss: 20990 }, 'stop_loss', /above the entry price for a SELL/],
    ['SELL take_profit above entry', { ...base, side: 'SELL', takeProfit: 21010 }, 'take_profit'],
    ['stop_loss equal to entry', { ...base, stopLoss: 21000.25 }, 'stop_loss'],
    ['stop_loss 3 ticks away', { ...base, stopLoss: 20999.5 }, 'stop_loss', /at least 4 ticks below the entry price, got 3/],
    ['NaN stop_loss', { ...base, stopLoss: Number.NaN }, 'stop_loss', /finite/],
    ['negative take_profit', { ...base, takeProfit: -1 }, 'take_profit'],
  ];
  it.each(cases)('%s → %s', (_name, req, field, message) => {
    const result = failure(req);
    expect(result.field).toBe(field);
    expect(result.code).toBe('INVALID_ARGUMENT');
    expect(result.message.startsWith(`${field}: `)).toBe(true);
    if (message) expect(result.message).toMatch(message);
  });

  it('requires account_id when no default account is configured', () => {
    expect(failure({ ...base, accountId: 0 }, ctx({ defaultAccountId: undefined })).field).toBe('account_id');
  });

  it('reports a missing mark for a bracketed MARKET order as STALE_MARKET_DATA on the bracket field', () => {
    const result = failure({ ...base, orderType: 'MARKET', price: 0, takeProfit: 21010 }, ctx({ markPriceUnits: () => undefined }));
    expect(result.field).toBe('take_profit');
    expect(result.code).toBe('STALE_MARKET_DATA');
  });

  it('does not echo an 800-character name back into the message', () => {
    expect(failure({ ...base, strategyName: 'x'.repeat(800) }).message.length).toBeLessThan(100);
  });
});

describe('validateOrderRequest: properties', () => {
  it('any quantity outside 1..max, or not an integer, is refused naming quantity', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -(2 ** 40), max: 0 }), fc.integer({ min: 11, max: 2 ** 40 }), fc.double({ noInteger: true })),
        (quantity) => {
          const result = validateOrderRequest({ ...base, quantity }, ctx());
          return !result.ok && result.field === 'quantity';
        },
      ),
    );
  });

  it('a LIMIT price is accepted exactly when it is a positive multiple of the tick', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 0, max: 3 }), (ticks, quarterOffset) => {
        const price = ticks * 0.25 + quarterOffset * 0.05;
        const result = validateOrderRequest({ ...base, price }, ctx());
        return quarterOffset === 0 ? result.ok && result.value.limitPriceUnits === ticks * 250_000_000 : !result.ok && result.field === 'price';
      }),
    );
  });
});
