// JSON over HTTP for the REST twins: bounded body reads, errors that name the problem, one place that
// writes responses, and the proto3 JSON mapping of numbers (64-bit integers as strings). Main thread.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FrontDoorError } from './errors';

/** Bodies beyond this are refused (400 INVALID_ARGUMENT naming `body`) before they are parsed. */
export const MAX_JSON_BODY_BYTES = 1_048_576;

export async function readJson(req: IncomingMessage, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (type && !/^application\/json\b/i.test(type)) {
    throw new FrontDoorError('INVALID_ARGUMENT', `content-type must be application/json, got "${type}"`, 'body');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new FrontDoorError('INVALID_ARGUMENT', `body: exceeds ${maxBytes} bytes`, 'body');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new FrontDoorError('INVALID_ARGUMENT', 'body: a JSON object is required', 'body');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FrontDoorError('INVALID_ARGUMENT', `body: malformed JSON (${(err as Error).message})`, 'body');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The error body every REST twin uses: `{ error: { code, message, field?, reasonCode?, …metadata } }`. */
export function sendError(res: ServerResponse, err: unknown): void {
  const e = FrontDoorError.from(err);
  sendJson(res, e.httpStatus, {
    error: {
      code: e.code,
      message: e.message,
      ...(e.field ? { field: e.field } : {}),
      ...(e.reasonCode ? { reasonCode: e.reasonCode } : {}),
      ...(e.metadata ?? {}),
    },
  });
}

/** Numeric scalar types of the proto3 JSON mapping that the request messages use. */
export type ProtoJsonNumberType = 'int32' | 'uint32' | 'int64' | 'uint64' | 'double';

/**
 * The numeric fields (proto names) of every message an rpc takes, and of the messages those hold: the REST twin of a
 * call passes its body through withProtoJsonNumbers with its message's entry. Written by hand; http-json.spec.ts
 * reads proto/*.proto and fails when this table and the contracts differ.
 */
export const PROTO_JSON_NUMBERS: Readonly<Record<string, Readonly<Record<string, ProtoJsonNumberType>>>> = {
  'market_data.GetBarsRequest': { limit: 'int32' },
  'orders.OrderRequest': {
    quantity: 'int32',
    price: 'double',
    stop_loss: 'double',
    take_profit: 'double',
    account_id: 'int64',
    stop_price: 'double',
    trail_price: 'double',
  },
  'orders.BatchOrderRequest': { max_concurrency: 'int32' },
  'orders.ModifyOrderRequest': { quantity: 'int32', price: 'double', stop_price: 'double', trail_price: 'double' },
  'orders.StreamOrderUpdatesRequest': { account_id: 'int64' },
  'orders.ClosePositionRequest': { account_id: 'int64', quantity: 'int32' },
  'orders.FlattenAllRequest': { account_id: 'int64' },
  'risk.GetRiskStateRequest': { account_id: 'int64' },
  'risk.StreamRiskEventsRequest': { account_id: 'int64' },
  'risk.HaltRequest': { account_id: 'int64' },
  'risk.ResumeRequest': { account_id: 'int64' },
};

/**
 * 64-bit integers are JS numbers in the engine (ts-proto forceLong=number): exact only up to 2^53 − 1, so a larger
 * one is refused as out of range rather than silently rounded to another account or order id.
 */
const INTEGER_RANGES: Readonly<Record<Exclude<ProtoJsonNumberType, 'double'>, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER)],
  uint64: [0n, BigInt(Number.MAX_SAFE_INTEGER)],
};
/** A JSON number, as the proto3 JSON mapping allows it inside a string (no blanks, no hex, no leading '+'). */
const NUMERIC_TEXT = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INTEGER_TEXT = /^-?\d+$/;

/** Quoted when short; a long string is described by its length so an error message stays small. */
function shown(text: string): string {
  return text.length > 24 ? `a ${text.length}-character string` : JSON.stringify(text);
}

/**
 * A number of the proto3 JSON mapping given as a string: decimal (exponent allowed), and for doubles also "NaN",
 * "Infinity", "-Infinity". Integers must be integral and inside their type's range. Throws INVALID_ARGUMENT naming
 * `field` otherwise.
 */
export function protoJsonNumber(text: string, type: ProtoJsonNumberType, field: string): number {
  if (type === 'double') {
    if (text === 'NaN') return Number.NaN;
    if (text === 'Infinity') return Number.POSITIVE_INFINITY;
    if (text === '-Infinity') return Number.NEGATIVE_INFINITY;
  }
  if (!NUMERIC_TEXT.test(text)) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: must be a number or a numeric string, got ${shown(text)}`, field);
  const value = Number(text);
  if (type === 'double') {
    if (!Number.isFinite(value)) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: out of range for a double, got ${shown(text)}`, field);
    return value;
  }
  const [min, max] = INTEGER_RANGES[type];
  const range = (): FrontDoorError =>
    new FrontDoorError('INVALID_ARGUMENT', `${field}: out of range for ${type} (${min} to ${max}${type.endsWith('64') ? ', 2^53 − 1 in this engine' : ''}), got ${shown(text)}`, field);
  if (INTEGER_TEXT.test(text)) {
    // Exact: a Number of a long digit string is already rounded.
    const exact = BigInt(text);
    if (exact < min || exact > max) throw range();
    return Number(exact);
  }
  if (!Number.isFinite(value)) throw range();
  if (!Number.isInteger(value)) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: must be an integer, got ${shown(text)}`, field);
  if (value < Number(min) || value > Number(max)) throw range();
  return value;
}

const lowerCamel = (protoName: string): string => protoName.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/**
 * A copy of a JSON body with the strings of its numeric fields (by proto name or lowerCamelCase name) read as
 * numbers, as the proto3 JSON mapping allows. Values of other types are left as sent for the validators, which
 * name the field with the domain rule (quantity 1 to max, a known account); an unreadable string is refused here,
 * naming the key as the client sent it under `prefix` (`orders[2].`).
 */
export function withProtoJsonNumbers(body: Readonly<Record<string, unknown>>, fields: Readonly<Record<string, ProtoJsonNumberType>>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  for (const [name, type] of Object.entries(fields)) {
    for (const key of new Set([name, lowerCamel(name)])) {
      const v = out[key];
      if (typeof v === 'string') out[key] = protoJsonNumber(v, type, prefix + key);
    }
  }
  return out;
}

const protoName = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export interface ProtoJsonFieldsOptions {
  /** Put before every key an error names: `orders[3].` for the fourth order of a batch (the body itself is then `orders[3]`). */
  readonly prefix?: string;
  /**
   * Readers of the message's repeated and message fields, by lowerCamelCase name: each gets the value sent (not
   * null) and the key to name in its errors (`orders`, with the prefix), and returns the field's value.
   */
  readonly fields?: Readonly<Record<string, (value: unknown, key: string) => unknown>>;
}

/**
 * The fields of a REST body read as the proto3 JSON mapping reads the request message `message` ("orders.FlattenAllRequest"),
 * strictly: every JSON body of the REST twins comes through here. `template` is the message with its defaults
 * (ts-proto `fromPartial({})`): its keys are the fields. A field comes by its lowerCamelCase or its proto name, not
 * both; null is the default (left out); numbers are read as PROTO_JSON_NUMBERS[message] types them, strings too
 * (withProtoJsonNumbers), and must fit their type; strings and booleans only as such (`"halt": "false"` is no
 * boolean); repeated and message fields by `options.fields`. An unknown key is refused, not ignored: a misspelt
 * `account_id` would act on the engine's default account, a misspelt `stop_loss` would place an order without its
 * stop. Returns the fields sent, by lowerCamelCase name; throws INVALID_ARGUMENT naming the key as the client sent
 * it, after `options.prefix`.
 */
export function protoJsonFields(body: unknown, message: string, template: object, options: ProtoJsonFieldsOptions = {}): Record<string, unknown> {
  const prefix = options.prefix ?? '';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    const where = prefix === '' ? 'body' : prefix.replace(/\.$/, '');
    throw new FrontDoorError('INVALID_ARGUMENT', `${where}: a JSON object is required`, where);
  }
  const numbers = PROTO_JSON_NUMBERS[message] ?? {};
  const read = withProtoJsonNumbers(body as Record<string, unknown>, numbers, prefix);
  const out: Record<string, unknown> = {};
  const sentAs = new Map<string, string>();
  for (const [key, value] of Object.entries(read)) {
    const named = prefix + key;
    const camel = Object.hasOwn(template, key) ? key : lowerCamel(key);
    if (!Object.hasOwn(template, camel) || (camel !== key && protoName(camel) !== key)) {
      throw new FrontDoorError('INVALID_ARGUMENT', `${named}: no such field in ${message}`, named);
    }
    const earlier = sentAs.get(camel);
    if (earlier !== undefined) throw new FrontDoorError('INVALID_ARGUMENT', `${named}: sent twice, also as ${prefix}${earlier}`, named);
    sentAs.set(camel, key);
    if (value === null) continue;
    const reader = options.fields !== undefined && Object.hasOwn(options.fields, camel) ? options.fields[camel] : undefined;
    if (reader !== undefined) {
      out[camel] = reader(value, named);
      continue;
    }
    const dflt = (template as Record<string, unknown>)[camel];
    const numberType = Object.hasOwn(numbers, protoName(camel)) ? numbers[protoName(camel)] : undefined;
    const type = numberType ?? (typeof dflt === 'string' ? 'string' : typeof dflt === 'boolean' ? 'boolean' : undefined);
    if (type === undefined) throw new Error(`protoJsonFields: ${message}.${camel} has no JSON reading here (message, enum or repeated field)`);
    if (type === 'string' || type === 'boolean') {
      if (typeof value !== type) throw new FrontDoorError('INVALID_ARGUMENT', `${named}: must be a ${type}, got ${typeof value === 'string' ? shown(value) : typeof value}`, named);
      out[camel] = value;
    } else if (typeof value === 'number') {
      // withProtoJsonNumbers read the strings; a JSON number gets the same range and integrality checks.
      out[camel] = protoJsonNumber(String(value), type, named);
    } else {
      throw new FrontDoorError('INVALID_ARGUMENT', `${named}: must be a number or a numeric string, got ${typeof value}`, named);
    }
  }
  return out;
}

/**
 * The query parameters of a GET route, read as strictly as a body: each of `names` (lowerCamelCase) by that name or
 * its snake_case one, not both, at most once; any other key is 400 naming it rather than ignored (a misspelt
 * `account_id` would show the engine's default account as if it were the one asked for). Returns the values sent,
 * by lowerCamelCase name.
 */
export function strictQuery(url: URL, names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const sentAs = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    const camel = names.includes(key) ? key : lowerCamel(key);
    if (!names.includes(camel) || (camel !== key && protoName(camel) !== key)) {
      throw new FrontDoorError('INVALID_ARGUMENT', `${key}: no such query parameter (known: ${names.join(', ')})`, key);
    }
    const earlier = sentAs.get(camel);
    if (earlier !== undefined) throw new FrontDoorError('INVALID_ARGUMENT', `${key}: sent twice, also as ${earlier}`, key);
    sentAs.set(camel, key);
    out.set(camel, value);
  }
  return out;
}
