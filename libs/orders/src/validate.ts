import { bracketTicks, type BracketField, type Side } from './brackets';
import { priceToUnits } from './prices';
import { type ValidationFailure } from './validation-result';

/** A tradable contract as the engine resolved it (from configuration and Contract/available). */
export interface ContractInfo {
  /** e.g. CON.F.US.MNQ.Z26 */
  readonly contractId: string;
  /** Tick size in price units (1e-9): MNQ 0.25 → 250_000_000. */
  readonly tickSizeUnits: number;
  /** Value of one tick per contract in money units (1e-4 USD): MNQ $0.50 → 5_000. */
  readonly tickValueUnits: number;
  readonly isMicro: boolean;
}

export interface ValidationContext {
  /** A root (`MNQ`) to its active front-month contract, or a full contract id to itself; undefined when unknown. */
  resolveSymbol(symbol: string): ContractInfo | undefined;
  /** Largest quantity of one order (configuration), at most 2^31 - 1. */
  readonly maxQuantity: number;
  /** Account used when account_id is 0 or absent; undefined = account_id is required. */
  readonly defaultAccountId?: number;
  /** Accounts the engine trades; absent = any positive id. */
  isKnownAccount?(accountId: number): boolean;
  /** Current mark of a contract in price units, the entry reference for brackets of non-priced orders. */
  markPriceUnits?(contractId: string): number | undefined;
}

export const ORDER_TYPES = ['MARKET', 'LIMIT', 'STOP', 'TRAILING_STOP', 'JOIN_BID', 'JOIN_ASK'] as const;
export type OrderTypeName = (typeof ORDER_TYPES)[number];

export const MAX_STRATEGY_NAME_LENGTH = 64;
export const MAX_CLIENT_ORDER_ID_LENGTH = 64;
/** Also the custom-tag charset: no spaces, and '-' only as a separator the tag parser reads from the right. */
export const STRATEGY_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;
const CLIENT_ORDER_ID_PATTERN = /^[\x21-\x7e]+$/;
const MAX_SYMBOL_LENGTH = 64;
const INT32_MAX = 2_147_483_647;
/** The broker refuses a trail distance over 1000 ticks. */
export const MAX_TRAIL_TICKS = 1000;

/**
 * An order request from either door: the ts-proto object (camelCase) or a REST/JSON body in the proto's
 * snake_case. Every value is unknown until validated; proto3 defaults (0, '') mean "unset".
 */
export interface OrderRequestInput {
  readonly symbol?: unknown;
  readonly side?: unknown;
  readonly quantity?: unknown;
  readonly price?: unknown;
  readonly orderType?: unknown;
  readonly order_type?: unknown;
  readonly strategyName?: unknown;
  readonly strategy_name?: unknown;
  readonly stopLoss?: unknown;
  readonly stop_loss?: unknown;
  readonly takeProfit?: unknown;
  readonly take_profit?: unknown;
  readonly accountId?: unknown;
  readonly account_id?: unknown;
  readonly clientOrderId?: unknown;
  readonly client_order_id?: unknown;
  readonly stopPrice?: unknown;
  readonly stop_price?: unknown;
  readonly trailPrice?: unknown;
  readonly trail_price?: unknown;
  readonly reduceOnly?: unknown;
  readonly reduce_only?: unknown;
}

export interface BracketLeg {
  /** Signed ticks from the entry (long SL < 0 < TP, short TP < 0 < SL). */
  readonly ticks: number;
  /** The level the broker will use: entry + ticks × tick, in price units. */
  readonly levelUnits: number;
}

/** A request that passed validation; prices in 1e-9 units, every value checked. */
export interface ValidatedOrder {
  readonly accountId: number;
  /** As the client sent it (root or contract id). */
  readonly symbol: string;
  readonly contract: ContractInfo;
  readonly side: Side;
  readonly quantity: number;
  readonly orderType: OrderTypeName;
  /** LIMIT only. */
  readonly limitPriceUnits: number | undefined;
  /** STOP only. */
  readonly stopPriceUnits: number | undefined;
  /** TRAILING_STOP only: the absolute level the trail starts from. */
  readonly trailPriceUnits: number | undefined;
  /** The price brackets were measured from (limit, stop, or the mark); undefined without brackets and mark. */
  readonly entryPriceUnits: number | undefined;
  readonly stopLoss: BracketLeg | undefined;
  readonly takeProfit: BracketLeg | undefined;
  readonly strategyName: string;
  /** '' when the client sent none. */
  readonly clientOrderId: string;
  readonly reduceOnly: boolean;
}

export type ValidationResult = { readonly ok: true; readonly value: ValidatedOrder } | ValidationFailure;

function fail(field: string, message: string, code: ValidationFailure['code'] = 'INVALID_ARGUMENT'): ValidationFailure {
  return { ok: false, field, code, message: `${field}: ${message}` };
}

/** camelCase (ts-proto) first, then the proto's snake_case (JSON); null counts as absent. */
function read(req: OrderRequestInput, camel: keyof OrderRequestInput, snake?: keyof OrderRequestInput): unknown {
  const v = req[camel];
  if (v !== undefined && v !== null) return v;
  const s = snake === undefined ? undefined : req[snake];
  return s === null ? undefined : s;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value.length > 20 ? `a ${value.length}-character string` : JSON.stringify(value);
  return typeof value;
}

type PriceCheck = { ok: true; units: number | undefined } | ValidationFailure;

/**
 * A price field: absent (or the proto3 default 0 when `zeroIsUnset`) → undefined; otherwise a finite
 * number > 0 that fits the fixed-point scale and, when `tickSizeUnits` is given, lies on the tick grid.
 */
function checkPrice(field: string, value: unknown, zeroIsUnset: boolean, tickSizeUnits: number | undefined): PriceCheck {
  if (value === undefined) return { ok: true, units: undefined };
  if (typeof value !== 'number') return fail(field, `must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) return fail(field, `must be a finite number, got ${value}`);
  if (value === 0 && zeroIsUnset) return { ok: true, units: undefined };
  if (value <= 0) return fail(field, `must be > 0, got ${value}`);
  const units = priceToUnits(value);
  if (units === undefined || units === 0) return fail(field, `is out of range, got ${value}`);
  if (tickSizeUnits !== undefined && units % tickSizeUnits !== 0) {
    return fail(field, `${value} is not a multiple of the tick size ${tickSizeUnits / 1e9}`);
  }
  return { ok: true, units };
}

/**
 * Checks an order request field by field, in proto field order, and returns the first problem with the
 * proto field name, or the normalised order with prices in fixed-point units and bracket ticks computed.
 * Pure: every outside fact (contracts, accounts, marks, limits) comes from `ctx`.
 */
export function validateOrderRequest(req: OrderRequestInput, ctx: ValidationContext): ValidationResult {
  // symbol (1)
  const symbol = read(req, 'symbol');
  if (typeof symbol !== 'string' || symbol.length === 0) return fail('symbol', 'is required');
  if (symbol.length > MAX_SYMBOL_LENGTH) return fail('symbol', `must be at most ${MAX_SYMBOL_LENGTH} characters`);
  const contract = ctx.resolveSymbol(symbol);
  if (contract === undefined) return fail('symbol', `unknown symbol ${JSON.stringify(symbol)}`);
  const tick = contract.tickSizeUnits;

  // side (2)
  const rawSide = read(req, 'side');
  const sideName = typeof rawSide === 'string' ? rawSide.toUpperCase() : undefined;
  if (sideName !== 'BUY' && sideName !== 'SELL') {
    return fail('side', `must be BUY or SELL, got ${rawSide === undefined || rawSide === '' ? 'nothing' : describe(rawSide)}`);
  }
  const side: Side = sideName;

  // quantity (3): JSON can carry anything, so range and integrality are checked, 2^31 included.
  const quantity = read(req, 'quantity');
  const maxQuantity = Math.min(ctx.maxQuantity, INT32_MAX);
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > maxQuantity) {
    return fail('quantity', `must be an integer from 1 to ${maxQuantity}, got ${describe(quantity)}`);
  }

  // order_type (5), needed to judge price (4)
  const rawType = read(req, 'orderType', 'order_type');
  if (rawType !== undefined && typeof rawType !== 'string') {
    return fail('order_type', `must be a string, got ${describe(rawType)}`);
  }
  const typeName = rawType === undefined || rawType === '' ? 'MARKET' : rawType.toUpperCase();
  if (!(ORDER_TYPES as readonly string[]).includes(typeName)) {
    return fail('order_type', `must be one of ${ORDER_TYPES.join(', ')}, got ${describe(rawType)}`);
  }
  const orderType = typeName as OrderTypeName;

  // price (4), stop_price (11), trail_price (12)
  const priced = orderType === 'LIMIT' || orderType === 'STOP' || orderType === 'TRAILING_STOP';
  // price is on the grid only where it is used: a MARKET order's price is a client's reference, ignored.
  const price = checkPrice('price', read(req, 'price'), true, priced ? tick : undefined);
  if (!price.ok) return price;
  const stopPrice = checkPrice('stop_price', read(req, 'stopPrice', 'stop_price'), false, tick);
  if (!stopPrice.ok) return stopPrice;
  const trailPrice = checkPrice('trail_price', read(req, 'trailPrice', 'trail_price'), false, tick);
  if (!trailPrice.ok) return trailPrice;
  if (stopPrice.units !== undefined && orderType !== 'STOP') return fail('stop_price', 'is only for STOP orders');
  if (trailPrice.units !== undefined && orderType !== 'TRAILING_STOP') {
    return fail('trail_price', 'is only for TRAILING_STOP orders');
  }
  let limitPriceUnits: number | undefined;
  let stopPriceUnits: number | undefined;
  let trailPriceUnits: number | undefined;
  if (orderType === 'LIMIT') {
    if (price.units === undefined) return fail('price', 'is required for LIMIT orders');
    limitPriceUnits = price.units;
  } else if (orderType === 'STOP') {
    // The seed contract has no stop_price: a seed client sends the stop level in price.
    stopPriceUnits = stopPrice.units ?? price.units;
    if (stopPriceUnits === undefined) return fail('stop_price', 'is required for STOP orders (or set price)');
  } else if (orderType === 'TRAILING_STOP') {
    trailPriceUnits = trailPrice.units ?? price.units;
    const field = trailPrice.units !== undefined ? 'trail_price' : 'price';
    if (trailPriceUnits === undefined) return fail('trail_price', 'is required for TRAILING_STOP orders (or set price)');
    const mark = ctx.markPriceUnits?.(contract.contractId);
    if (mark !== undefined && Math.abs(mark - trailPriceUnits) / tick > MAX_TRAIL_TICKS) {
      return fail(field, `the trail distance from the last price exceeds ${MAX_TRAIL_TICKS} ticks`);
    }
  }

  // strategy_name (6)
  const strategyName = read(req, 'strategyName', 'strategy_name');
  if (typeof strategyName !== 'string' || strategyName.length === 0) return fail('strategy_name', 'is required');
  if (strategyName.length > MAX_STRATEGY_NAME_LENGTH) {
    return fail('strategy_name', `must be at most ${MAX_STRATEGY_NAME_LENGTH} characters, got ${strategyName.length}`);
  }
  if (!STRATEGY_NAME_PATTERN.test(strategyName)) {
    return fail('strategy_name', 'may only contain letters, digits, underscore, dot and hyphen');
  }

  // account_id (9): 0 is the proto3 default, meaning the engine's account.
  const rawAccount = read(req, 'accountId', 'account_id');
  let accountId: number;
  if (rawAccount === undefined || rawAccount === 0) {
    if (ctx.defaultAccountId === undefined) return fail('account_id', 'is required (no default account configured)');
    accountId = ctx.defaultAccountId;
  } else {
    // The broker's accountId is an int32.
    if (typeof rawAccount !== 'number' || !Number.isInteger(rawAccount) || rawAccount < 1 || rawAccount > INT32_MAX) {
      return fail('account_id', `must be a positive integer, got ${describe(rawAccount)}`);
    }
    accountId = rawAccount;
  }
  if (ctx.isKnownAccount !== undefined && !ctx.isKnownAccount(accountId)) {
    return fail('account_id', `unknown account ${accountId}`);
  }

  // client_order_id (10)
  const rawClientId = read(req, 'clientOrderId', 'client_order_id');
  if (rawClientId !== undefined && typeof rawClientId !== 'string') {
    return fail('client_order_id', `must be a string, got ${describe(rawClientId)}`);
  }
  const clientOrderId = rawClientId ?? '';
  if (clientOrderId.length > MAX_CLIENT_ORDER_ID_LENGTH) {
    return fail('client_order_id', `must be at most ${MAX_CLIENT_ORDER_ID_LENGTH} characters, got ${clientOrderId.length}`);
  }
  if (clientOrderId !== '' && !CLIENT_ORDER_ID_PATTERN.test(clientOrderId)) {
    return fail('client_order_id', 'may only contain printable ASCII characters without spaces');
  }

  // reduce_only (13)
  const reduceOnly = read(req, 'reduceOnly', 'reduce_only') ?? false;
  if (typeof reduceOnly !== 'boolean') return fail('reduce_only', `must be a boolean, got ${describe(reduceOnly)}`);

  // stop_loss (7), take_profit (8): levels, off-grid allowed (taken to the nearest tick).
  const slLevel = checkPrice('stop_loss', read(req, 'stopLoss', 'stop_loss'), false, undefined);
  if (!slLevel.ok) return slLevel;
  const tpLevel = checkPrice('take_profit', read(req, 'takeProfit', 'take_profit'), false, undefined);
  if (!tpLevel.ok) return tpLevel;
  const entryPriceUnits = limitPriceUnits ?? stopPriceUnits ?? ctx.markPriceUnits?.(contract.contractId);
  const legs: Partial<Record<BracketField, BracketLeg>> = {};
  for (const [field, level] of [
    ['stop_loss', slLevel.units],
    ['take_profit', tpLevel.units],
  ] as const) {
    if (level === undefined) continue;
    if (entryPriceUnits === undefined) {
      return fail(field, `no current price for ${contract.contractId} to measure the bracket from`, 'STALE_MARKET_DATA');
    }
    const leg = bracketTicks(side, entryPriceUnits, level, tick, field);
    if (!leg.ok) return leg;
    legs[field] = { ticks: leg.ticks, levelUnits: leg.levelUnits };
  }

  return {
    ok: true,
    value: {
      accountId,
      symbol,
      contract,
      side,
      quantity,
      orderType,
      limitPriceUnits,
      stopPriceUnits,
      trailPriceUnits,
      entryPriceUnits,
      stopLoss: legs.stop_loss,
      takeProfit: legs.take_profit,
      strategyName,
      clientOrderId,
      reduceOnly,
    },
  };
}
