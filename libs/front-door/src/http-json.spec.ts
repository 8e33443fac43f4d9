// The proto3 JSON mapping of numbers on the REST twins: 64-bit integers travel as strings (and numbers), every
// other integer and double may too; a string that is no number, or out of the field's range, is refused naming it.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FrontDoorError } from './errors';
import { orders } from '@gateway/proto';
import { PROTO_JSON_NUMBERS, protoJsonFields, protoJsonNumber, withProtoJsonNumbers, type ProtoJsonNumberType } from './http-json';

function refusal(f: () => unknown): FrontDoorError {
  try {
    f();
  } catch (err) {
    if (err instanceof FrontDoorError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('protoJsonNumber', () => {
  it.each([
    ['123', 'int64', 123],
    ['-5', 'int64', -5],
    ['9007199254740991', 'int64', Number.MAX_SAFE_INTEGER],
    ['-9007199254740991', 'int64', -Number.MAX_SAFE_INTEGER],
    ['0', 'uint64', 0],
    ['1e3', 'int64', 1000],
    ['3', 'int32', 3],
    ['3.0', 'int32', 3],
    ['-2147483648', 'int32', -2_147_483_648],
    ['4294967295', 'uint32', 4_294_967_295],
    ['21000.25', 'double', 21000.25],
    ['-1.5e2', 'double', -150],
    ['Infinity', 'double', Number.POSITIVE_INFINITY],
    ['-Infinity', 'double', Number.NEGATIVE_INFINITY],
  ] as const)('reads %j as %s %d', (text, type, value) => {
    expect(protoJsonNumber(text, type, 'f')).toBe(value);
  });

  it('reads "NaN" as a double NaN (the validators refuse it where a price must be finite)', () => {
    expect(protoJsonNumber('NaN', 'double', 'price')).toBeNaN();
  });

  it.each([
    ['abc', 'int64', /account_id: must be a number or a numeric string, got "abc"/],
    ['', 'int64', /account_id: must be a number or a numeric string, got ""/],
    [' 12', 'int64', /got " 12"/],
    ['0x10', 'int64', /got "0x10"/],
    ['12abc', 'int32', /got "12abc"/],
    ['NaN', 'int64', /got "NaN"/],
    ['1.5', 'int64', /account_id: must be an integer, got "1.5"/],
    ['9007199254740992', 'int64', /account_id: out of range .*9007199254740991.*got "9007199254740992"/],
    ['-9007199254740992', 'int64', /account_id: out of range/],
    ['99999999999999999999999', 'int64', /account_id: out of range/],
    ['1e300', 'int64', /account_id: out of range/],
    ['-1', 'uint64', /account_id: out of range/],
    ['2147483648', 'int32', /account_id: out of range .*2147483647/],
    ['-1', 'uint32', /account_id: out of range/],
    ['1e400', 'double', /account_id: out of range/],
    ['x'.repeat(5000), 'int64', /a 5000-character string/],
  ] as const)('refuses %j as %s with INVALID_ARGUMENT naming the field', (text, type, message) => {
    const e = refusal(() => protoJsonNumber(text, type, 'account_id'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.field).toBe('account_id');
    expect(e.message).toMatch(message);
    expect(e.message.length).toBeLessThan(200);
  });
});

describe('withProtoJsonNumbers', () => {
  const fields = { account_id: 'int64', quantity: 'int32', price: 'double' } as const;

  it('turns numeric strings of the numeric fields into numbers, by proto or lowerCamelCase name, and leaves the rest as sent', () => {
    const body = { accountId: '1001', quantity: '2', price: 21000.25, symbol: '123', reduce_only: 'true', nested: { quantity: '7' } };
    const out = withProtoJsonNumbers(body, fields);
    expect(out).toEqual({ accountId: 1001, quantity: 2, price: 21000.25, symbol: '123', reduce_only: 'true', nested: { quantity: '7' } });
    expect(body.accountId).toBe('1001');
    expect(withProtoJsonNumbers({ account_id: '7' }, fields)).toEqual({ account_id: 7 });
  });

  it('leaves values that are not strings to the validators (they name the field with the domain rule)', () => {
    const body = { quantity: 1.5, account_id: true, price: null };
    expect(withProtoJsonNumbers(body, fields)).toEqual(body);
  });

  it('names the key as the client sent it, under the prefix of a nested message', () => {
    expect(refusal(() => withProtoJsonNumbers({ accountId: 'abc' }, fields)).field).toBe('accountId');
    expect(refusal(() => withProtoJsonNumbers({ quantity: '3x' }, fields, 'orders[2].')).field).toBe('orders[2].quantity');
  });
});

describe('protoJsonFields', () => {
  const order = orders.OrderRequest.fromPartial({});
  const read = (body: unknown, prefix?: string) => protoJsonFields(body, 'orders.OrderRequest', order, prefix === undefined ? {} : { prefix });

  it('returns the fields sent by lowerCamelCase name, numbers read, null left out', () => {
    expect(read({ symbol: 'MNQ', stop_loss: '20990.25', accountId: '1001', take_profit: null, reduceOnly: true })).toEqual({ symbol: 'MNQ', stopLoss: 20990.25, accountId: 1001, reduceOnly: true });
  });

  it.each([
    [{ stoploss: 1 }, 'stoploss', /^stoploss: no such field in orders\.OrderRequest$/],
    [{ stop_loss: 1, stopLoss: 2 }, 'stopLoss', /^stopLoss: sent twice, also as stop_loss$/],
    [{ Stop_Loss: 1 }, 'Stop_Loss', /no such field/],
    [{ side: 5 }, 'side', /^side: must be a string, got number$/],
  ])('refuses %j naming %s', (body, field, message) => {
    const e = refusal(() => read(body));
    expect({ code: e.code, field: e.field }).toEqual({ code: 'INVALID_ARGUMENT', field });
    expect(e.message).toMatch(message);
  });

  it('names the key under the prefix of an order of a batch, and the order itself when it is no object', () => {
    expect(refusal(() => read({ stoploss: 1 }, 'orders[3].')).message).toMatch(/^orders\[3\]\.stoploss: no such field/);
    expect(refusal(() => read({ stop_loss: 1, stopLoss: 2 }, 'orders[0].')).message).toBe('orders[0].stopLoss: sent twice, also as orders[0].stop_loss');
    expect(refusal(() => read({ quantity: 'x' }, 'orders[1].')).field).toBe('orders[1].quantity');
    expect(refusal(() => read('MNQ', 'orders[2].')).field).toBe('orders[2]');
    expect(refusal(() => read([])).field).toBe('body');
  });

  it('reads a repeated field with its reader, which names the key as sent', () => {
    const batch = orders.BatchOrderRequest.fromPartial({});
    const fields = { orders: (v: unknown, key: string) => (v as unknown[]).map((o, i) => read(o, `${key}[${i}].`)) };
    expect(protoJsonFields({ orders: [{ quantity: '2' }], all_or_none: true }, 'orders.BatchOrderRequest', batch, { fields })).toEqual({ orders: [{ quantity: 2 }], allOrNone: true });
    expect(refusal(() => protoJsonFields({ orders: [{}, { stoploss: 1 }] }, 'orders.BatchOrderRequest', batch, { fields })).field).toBe('orders[1].stoploss');
    expect(() => protoJsonFields({ orders: [] }, 'orders.BatchOrderRequest', batch)).toThrow(/no JSON reading here/);
  });
});

describe('PROTO_JSON_NUMBERS', () => {
  const NUMERIC = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'double', 'float']);

  /** Numeric fields of every message an rpc takes (and the messages those hold), read from proto/*.proto. */
  function requestNumbers(): Record<string, Record<string, string>> {
    const dir = fileURLToPath(new URL('../../../proto/', import.meta.url));
    const out: Record<string, Record<string, string>> = {};
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.proto'))) {
      const text = readFileSync(dir + file, 'utf8').replace(/\/\/.*$/gm, '');
      const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(text)![1]!;
      const messages = new Map<string, Array<{ type: string; name: string }>>();
      for (const m of text.matchAll(/\bmessage\s+(\w+)\s*\{/g)) {
        let depth = 1;
        let i = m.index! + m[0].length;
        const start = i;
        for (; depth > 0; i++) depth += text[i] === '{' ? 1 : text[i] === '}' ? -1 : 0;
        const body = text.slice(start, i - 1).replace(/\b(enum|message)\s+\w+\s*\{[^}]*\}/g, '');
        messages.set(m[1]!, [...body.matchAll(/^\s*(?:optional\s+|repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*\d+/gm)].map((f) => ({ type: f[1]!, name: f[2]! })));
      }
      const pending = [...text.matchAll(/\brpc\s+\w+\s*\(\s*(?:stream\s+)?(\w+)\s*\)/g)].map((r) => r[1]!);
      const seen = new Set<string>();
      while (pending.length > 0) {
        const name = pending.pop()!;
        if (seen.has(name) || !messages.has(name)) continue;
        seen.add(name);
        const numeric: Record<string, string> = {};
        for (const f of messages.get(name)!) {
          if (NUMERIC.has(f.type)) numeric[f.name] = f.type;
          else if (messages.has(f.type)) pending.push(f.type);
        }
        if (Object.keys(numeric).length > 0) out[`${pkg}.${name}`] = numeric;
      }
    }
    return out;
  }

  it('lists exactly the numeric fields of the request messages in proto/*.proto', () => {
    const table: Record<string, Record<string, ProtoJsonNumberType>> = { ...PROTO_JSON_NUMBERS };
    expect(table).toEqual(requestNumbers());
  });
});
