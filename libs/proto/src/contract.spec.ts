import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { ORDER_STATE_NUMBER, ORDER_STATES, RISK_REASON_CODES } from '@gateway/orders';
import { marketData, orders, risk } from './index';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Every (field number, wire type) of an encoded message, in wire order, with the raw scalar values. */
function wireFields(bytes: Uint8Array): Array<{ no: number; wt: WireType; value: unknown }> {
  const reader = new BinaryReader(bytes);
  const fields: Array<{ no: number; wt: WireType; value: unknown }> = [];
  while (reader.pos < reader.len) {
    const [no, wt] = reader.tag();
    let value: unknown;
    if (wt === WireType.LengthDelimited) value = reader.string();
    else if (wt === WireType.Bit64) value = reader.double();
    else if (wt === WireType.Varint) value = reader.int64();
    else value = reader.skip(wt, no);
    fields.push({ no, wt, value });
  }
  return fields;
}

const seedRequest: orders.OrderRequest = {
  symbol: 'MNQ',
  side: 'BUY',
  quantity: 3,
  price: 21000.25,
  orderType: 'LIMIT',
  strategyName: 'mean_revert.v2',
  stopLoss: 20990.25,
  takeProfit: 21020.5,
  accountId: 0,
  clientOrderId: '',
  reduceOnly: false,
};

describe('generated code is current', () => {
  it('proto-gen --check exits 0 against the committed generated code', () => {
    const result = spawnSync(process.execPath, [path.join(root, 'tools/scripts/proto-gen.mjs'), '--check'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('up to date');
  });

  it('proto-gen --check exits 1 naming a stale, a missing and an extra file', () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'proto-check-'));
    try {
      cpSync(path.join(root, 'libs/proto/src/generated'), copy, { recursive: true });
      writeFileSync(path.join(copy, 'orders.ts'), '// edited by hand\n');
      rmSync(path.join(copy, 'risk.ts'));
      writeFileSync(path.join(copy, 'old.ts'), 'export {};\n');
      const result = spawnSync(process.execPath, [path.join(root, 'tools/scripts/proto-gen.mjs'), '--check', '--out', copy], {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/stale .*orders\.ts/);
      expect(result.stderr).toMatch(/missing .*risk\.ts/);
      expect(result.stderr).toMatch(/extra .*old\.ts/);
      expect(result.stderr).not.toMatch(/market_data\.ts/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('seed contract on the wire (orders.OrderRequest fields 1-8)', () => {
  it('encodes fields 1-8 with the seed numbers and wire types', () => {
    const bytes = orders.OrderRequest.encode(seedRequest).finish();
    const fields = wireFields(bytes);
    expect(fields.map((f) => [f.no, f.wt])).toEqual([
      [1, WireType.LengthDelimited], // string symbol
      [2, WireType.LengthDelimited], // string side
      [3, WireType.Varint], // int32 quantity
      [4, WireType.Bit64], // double price
      [5, WireType.LengthDelimited], // string order_type
      [6, WireType.LengthDelimited], // string strategy_name
      [7, WireType.Bit64], // optional double stop_loss
      [8, WireType.Bit64], // optional double take_profit
    ]);
    expect(fields.map((f) => f.value)).toEqual(['MNQ', 'BUY', 3n, 21000.25, 'LIMIT', 'mean_revert.v2', 20990.25, 21020.5]);
  });

  it('round-trips through encode/decode unchanged', () => {
    const decoded = orders.OrderRequest.decode(orders.OrderRequest.encode(seedRequest).finish());
    expect(decoded).toEqual(seedRequest);
  });

  it('keeps presence of the proto3 optional stop_loss/take_profit: unset is absent, 0 is sent', () => {
    const unset = orders.OrderRequest.decode(
      orders.OrderRequest.encode({ ...seedRequest, stopLoss: undefined, takeProfit: undefined }).finish(),
    );
    expect(unset.stopLoss).toBeUndefined();
    expect(unset.takeProfit).toBeUndefined();
    const zero = orders.OrderRequest.encode({ ...seedRequest, stopLoss: 0, takeProfit: undefined }).finish();
    expect(wireFields(zero).filter((f) => f.no === 7)).toEqual([{ no: 7, wt: WireType.Bit64, value: 0 }]);
    expect(orders.OrderRequest.decode(zero).stopLoss).toBe(0);
  });

  it('decodes bytes written field by field as an older (seed) client would send them', () => {
    const w = new BinaryWriter();
    w.uint32((1 << 3) | WireType.LengthDelimited).string('ES');
    w.uint32((2 << 3) | WireType.LengthDelimited).string('sell');
    w.uint32((3 << 3) | WireType.Varint).int32(2);
    w.uint32((4 << 3) | WireType.Bit64).double(6000.5);
    w.uint32((6 << 3) | WireType.LengthDelimited).string('breakout');
    w.uint32((8 << 3) | WireType.Bit64).double(5990);
    const decoded = orders.OrderRequest.decode(w.finish());
    expect(decoded).toMatchObject({
      symbol: 'ES',
      side: 'sell',
      quantity: 2,
      price: 6000.5,
      orderType: '',
      strategyName: 'breakout',
      takeProfit: 5990,
      accountId: 0,
      clientOrderId: '',
    });
    expect(decoded.stopLoss).toBeUndefined();
  });

  it('puts the first OrderResponse fields where a seed client reads them', () => {
    const bytes = orders.OrderResponse.encode({
      ...orders.OrderResponse.fromPartial({}),
      success: true,
      orderId: 'o-1',
      message: 'placed',
      status: 'WORKING',
      brokerOrderId: 9_007_199_254,
      orderStatus: orders.OrderStatus.WORKING,
    }).finish();
    expect(wireFields(bytes).map((f) => [f.no, f.wt, f.value])).toEqual([
      [1, WireType.Varint, 1n],
      [2, WireType.LengthDelimited, 'o-1'],
      [3, WireType.LengthDelimited, 'placed'],
      [4, WireType.LengthDelimited, 'WORKING'],
      [5, WireType.Varint, 9_007_199_254n],
      [9, WireType.Varint, 3n],
    ]);
  });

  it('refuses an int64 beyond Number.MAX_SAFE_INTEGER instead of rounding it (forceLong=number)', () => {
    const w = new BinaryWriter();
    w.uint32((5 << 3) | WireType.Varint).int64(2n ** 60n);
    expect(() => orders.OrderResponse.decode(w.finish())).toThrow(/MAX_SAFE_INTEGER/);
  });
});

describe('service definitions', () => {
  it('serves the seed rpc paths of orders.OrderService', () => {
    expect(orders.OrderServiceService.placeOrder.path).toBe('/orders.OrderService/PlaceOrder');
    expect(orders.OrderServiceService.placeBatch.path).toBe('/orders.OrderService/PlaceBatch');
    expect(orders.OrderServiceService.getOrderStatus.path).toBe('/orders.OrderService/GetOrderStatus');
    expect(orders.OrderServiceService.streamOrderUpdates.responseStream).toBe(true);
    expect(marketData.MarketDataServiceService.streamBars.path).toBe('/market_data.MarketDataService/StreamBars');
    expect(risk.RiskServiceService.getRiskState.path).toBe('/risk.RiskService/GetRiskState');
    expect(risk.RiskServiceService.streamRiskEvents.responseStream).toBe(true);
  });

  it('numbers the order status enum as documented', () => {
    expect([
      orders.OrderStatus.UNSPECIFIED,
      orders.OrderStatus.NEW,
      orders.OrderStatus.SENT,
      orders.OrderStatus.WORKING,
      orders.OrderStatus.PARTIALLY_FILLED,
      orders.OrderStatus.FILLED,
      orders.OrderStatus.CANCELLED,
      orders.OrderStatus.REJECTED,
      orders.OrderStatus.EXPIRED,
      orders.OrderStatus.UNKNOWN,
    ]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(risk.TradingState.NOT_READY).toBe(4);
  });

  it('matches the order domain: every @gateway/orders state has the same number in orders.OrderStatus', () => {
    for (const state of ORDER_STATES) expect(ORDER_STATE_NUMBER[state]).toBe(orders.OrderStatus[state]);
    expect(RISK_REASON_CODES).toHaveLength(10);
  });
});
