import { describe, expect, it } from 'vitest';
import { OrderBook, brokerOrderEvent, modifiedPriceUnits } from './book';

const init = (i: number, clientOrderId = '') => ({
  orderId: `r-${i}`,
  accountId: 1001,
  accountSlot: 0,
  contractId: 'CON.F.US.MNQ.Z26',
  contractSlot: 0,
  symbol: 'MNQ',
  side: 'BUY' as const,
  quantity: 2,
  orderType: 'MARKET',
  price: undefined,
  strategyName: 's',
  clientOrderId,
  paramsKey: 'k',
  customTag: `TradingBot-v1.0-strategy-s-MARKET-${i}-1790000000`,
  counter: i,
  stopLossTicks: 0,
  takeProfitTicks: 0,
  createdAtMs: 1000,
});

describe('OrderBook', () => {
  it('finds an order by our id, the broker id once known, its tag and its client order id', () => {
    const book = new OrderBook();
    const e = book.add(init(1, 'c-1'));
    expect(book.find('r-1')).toBe(e);
    expect(book.find('555')).toBeUndefined();
    book.apply(e, { kind: 'sent', atMs: 1001 });
    book.apply(e, { kind: 'accepted', brokerOrderId: 555, atMs: 1002 });
    expect(book.find('555')).toBe(e);
    expect(book.byCustomTag(e.customTag)).toBe(e);
    expect(book.byClientOrderId(1001, 'c-1')).toBe(e);
    expect(book.byClientOrderId(1002, 'c-1')).toBeUndefined();
    book.releaseClientId(e);
    expect(book.byClientOrderId(1001, 'c-1')).toBeUndefined();
  });

  it('tells listeners every applied change in order and nothing for ignored events', () => {
    const book = new OrderBook();
    const e = book.add(init(2));
    const seen: string[] = [];
    const off = book.subscribe((x) => seen.push(`${x.sm.record.status}:${x.sm.record.version}`));
    book.apply(e, { kind: 'sent', atMs: 1 });
    book.apply(e, { kind: 'broker', brokerOrderId: 9, status: 1, fillVolume: 1, atMs: 2 });
    book.apply(e, { kind: 'broker', brokerOrderId: 9, status: 2, fillVolume: 2, filledPriceUnits: 21_000_000_000_000, atMs: 3 });
    expect(book.apply(e, { kind: 'broker', brokerOrderId: 9, status: 1, fillVolume: 0, atMs: 4 })).toBe(false);
    off();
    book.apply(e, { kind: 'rejected', reasonCode: 'X', message: 'late', atMs: 5 });
    expect(seen).toEqual(['SENT:1', 'PARTIALLY_FILLED:2', 'FILLED:3']);
    expect(e.sm.record.filledQuantity).toBe(2);
  });
});

describe('OrderBook retention', () => {
  const fill = (book: OrderBook, e: ReturnType<OrderBook['add']>, brokerId: number): void => {
    book.apply(e, { kind: 'sent', atMs: 1 });
    book.apply(e, { kind: 'broker', brokerOrderId: brokerId, status: 2, fillVolume: 2, filledPriceUnits: 21_000_000_000_000, atMs: 2 });
  };

  it('forgets the oldest final orders past the limit, keeps working ones and client-order-id ones', () => {
    const book = new OrderBook(undefined, 2);
    const working = book.add(init(100));
    book.apply(working, { kind: 'sent', atMs: 1 });
    const withClientId = book.add(init(101, 'keep-me'));
    fill(book, withClientId, 1101);
    const plain = [102, 103, 104].map((i) => {
      const e = book.add(init(i));
      fill(book, e, 1000 + i);
      return e;
    });
    // Final in order: 101 (client id: kept), 102 (forgotten), 103, 104 (the two newest).
    expect(book.get(plain[0]!.orderId)).toBeUndefined();
    expect(book.find('1102')).toBeUndefined();
    expect(book.byCustomTag(plain[0]!.customTag)).toBeUndefined();
    expect(book.get(plain[1]!.orderId)).toBe(plain[1]);
    expect(book.get(plain[2]!.orderId)).toBe(plain[2]);
    expect(book.get(working.orderId)).toBe(working);
    expect(book.byClientOrderId(withClientId.accountId, 'keep-me')).toBe(withClientId);
    expect(book.get(withClientId.orderId)).toBe(withClientId);
  });
});

describe('order size and price level after a modify', () => {
  const order = (orderType: string, price: number | undefined) => ({ ...init(200), orderType, price });
  const row = { id: 900, status: 1, fillVolume: 0, size: 1, limitPrice: 20_001.25, stopPrice: 19_990.5, filledPrice: null };

  it('a broker order event carries its size and the price level that is the order\'s own', () => {
    const book = new OrderBook();
    const at = (orderType: string) => brokerOrderEvent(book.add({ ...order(orderType, undefined), orderId: orderType, customTag: orderType }), row, 7);
    expect(at('LIMIT')).toEqual({ kind: 'broker', brokerOrderId: 900, status: 1, fillVolume: 0, size: 1, priceUnits: 20_001_250_000_000, atMs: 7 });
    expect(at('JOIN_BID')).toMatchObject({ size: 1, priceUnits: 20_001_250_000_000 });
    expect(at('STOP')).toMatchObject({ size: 1, priceUnits: 19_990_500_000_000 });
    // A trailing stop's stop price moves with the market: its level stays the one last set.
    expect(at('TRAILING_STOP')).not.toHaveProperty('priceUnits');
    expect(at('MARKET')).not.toHaveProperty('priceUnits');
    expect(brokerOrderEvent(book.get('LIMIT')!, { id: 900, status: 2, fillVolume: 1, filledPrice: 20_001.25 }, 8)).toEqual({
      kind: 'broker', brokerOrderId: 900, status: 2, fillVolume: 1, filledPriceUnits: 20_001_250_000_000, atMs: 8,
    });
  });

  it('a modify sets the level of its order type: price for LIMIT and JOIN orders, stop_price for STOP, trail_price for TRAILING_STOP', () => {
    const req = { price: 20_001.25, stopPrice: 19_990.5, trailPrice: 19_980 };
    expect(modifiedPriceUnits('LIMIT', req)).toBe(20_001_250_000_000);
    expect(modifiedPriceUnits('JOIN_ASK', req)).toBe(20_001_250_000_000);
    expect(modifiedPriceUnits('STOP', req)).toBe(19_990_500_000_000);
    expect(modifiedPriceUnits('TRAILING_STOP', req)).toBe(19_980_000_000_000);
    expect(modifiedPriceUnits('MARKET', req)).toBeUndefined();
    expect(modifiedPriceUnits('LIMIT', { stopPrice: 19_990.5 })).toBeUndefined();
  });

  it('an entry starts at the size and level placed; a modify and a later snapshot move them, and listeners hear each change', () => {
    const book = new OrderBook();
    const e = book.add(order('LIMIT', 20_000));
    expect(e.sm.record).toMatchObject({ quantity: 2, priceUnits: 20_000_000_000_000 });
    const heard: string[] = [];
    book.subscribe((x) => heard.push(`${x.sm.record.quantity}@${x.sm.record.priceUnits}`));
    book.apply(e, { kind: 'sent', atMs: 1 });
    book.apply(e, { kind: 'accepted', brokerOrderId: 900, atMs: 2 });
    book.apply(e, { kind: 'modified', quantity: 1, priceUnits: 20_001_250_000_000, atMs: 3 });
    expect(book.apply(e, brokerOrderEvent(e, row, 4))).toBe(false);
    book.apply(e, brokerOrderEvent(e, { ...row, size: 2, limitPrice: 20_000.5 }, 5));
    expect(heard).toEqual(['2@20000000000000', '2@20000000000000', '1@20001250000000', '2@20000500000000']);
    expect(e.quantity).toBe(2);
  });
});
