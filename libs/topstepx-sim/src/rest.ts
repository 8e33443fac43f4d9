// The Gateway's REST endpoints as plain functions of a parsed body. Business outcomes are HTTP 200
// envelopes with per-endpoint error codes; only login bodies and Order/v2/query validation answer
// 400 ProblemDetails (topstepx-api.md §4, §7).
import { randomBytes } from 'node:crypto';
import { OrderStatus } from '@gateway/topstepx';
import type { Broker, BracketSpec, Outcome } from './broker';
import { accountView, orderView, positionView, tradeView } from './broker';
import { Decimal, formatTimestamp, parsePrice, stringify } from './fixed';
import type { Bar, Market } from './market';
import type { ContractRuntime } from './options';

export interface Reply {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Body = Record<string, unknown>;

export class TokenStore {
  private readonly tokens = new Map<string, number>();
  constructor(
    private readonly clock: () => number,
    public lifetimeMs: number,
  ) {}
  issue(): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, this.clock() + this.lifetimeMs);
    return token;
  }
  valid(token: string | null): boolean {
    if (!token) return false;
    const exp = this.tokens.get(token);
    return exp !== undefined && exp > this.clock();
  }
  revoke(token: string): void {
    this.tokens.delete(token);
  }
  /** Fault: every token issued so far is expired now (re-login works). */
  expireAll(): void {
    for (const t of this.tokens.keys()) this.tokens.set(t, 0);
  }
}

export interface RestContext {
  broker: Broker;
  market: Market;
  contracts: ContractRuntime[];
  clock: () => number;
  credentials: { userName: string; apiKey: string };
  tokens: TokenStore;
}

export type Handler = (ctx: RestContext, body: Body, token: string | null) => Reply;

const JSON_TYPE = 'application/json; charset=utf-8';

export function envelope(errorCode: number, errorMessage: string | null, payload?: Record<string, unknown>): Reply {
  return { status: 200, body: stringify({ ...payload, success: errorCode === 0, errorCode, errorMessage }), contentType: JSON_TYPE };
}

export function problem(status: number, title: string, errors?: Record<string, string[]>): Reply {
  const body: Record<string, unknown> = {
    type: status === 400 ? 'https://tools.ietf.org/html/rfc9110#section-15.5.1' : 'https://tools.ietf.org/html/rfc9110#section-15.6.1',
    title,
    status,
  };
  if (errors) body['errors'] = errors;
  body['traceId'] = '00-' + randomBytes(16).toString('hex') + '-' + randomBytes(8).toString('hex') + '-00';
  return { status, body: JSON.stringify(body), contentType: 'application/problem+json; charset=utf-8' };
}

export function validationProblem(errors: Record<string, string[]>): Reply {
  return problem(400, 'One or more validation errors occurred.', errors);
}

const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
/** Numbers the client may send as JSON numbers or numeric strings. */
const intLoose = (v: unknown): number | null => (typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : int(v));
/** An ISO timestamp in epoch ms; undefined when absent, NaN when unparsable. */
const time = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : typeof v === 'string' ? Date.parse(v) : Number.NaN);

function outcome(o: Outcome, withOrderId = false): Reply {
  return envelope(o.errorCode, o.errorMessage, withOrderId ? { orderId: o.orderId ?? null } : undefined);
}

function contractView(c: ContractRuntime): Record<string, unknown> {
  return {
    id: c.id,
    name: c.spec.name,
    description: c.spec.description,
    tickSize: Decimal.price(c.tick),
    tickValue: c.spec.tickValue,
    activeContract: c.active,
    symbolId: c.symbolId,
  };
}

function bracket(v: unknown): BracketSpec | null | undefined {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object') return undefined;
  const b = v as Body;
  return { ticks: typeof b['ticks'] === 'number' ? b['ticks'] : Number.NaN, type: typeof b['type'] === 'number' ? b['type'] : Number.NaN };
}

const MAX_BARS = 20_000;

function bucketOf(unit: number, n: number): (t: number) => number {
  switch (unit) {
    case 1:
      return (t) => Math.floor(t / (n * 1000)) * n * 1000;
    case 2:
      return (t) => Math.floor(t / (n * 60_000)) * n * 60_000;
    case 3:
      return (t) => Math.floor(t / (n * 3_600_000)) * n * 3_600_000;
    case 4:
      return (t) => Math.floor(t / (n * 86_400_000)) * n * 86_400_000;
    case 5:
      // Weeks start Monday 00:00 UTC (1970-01-05 was a Monday).
      return (t) => {
        const week = 7 * 86_400_000 * n;
        const base = 4 * 86_400_000;
        return Math.floor((t - base) / week) * week + base;
      };
    default:
      return (t) => {
        const d = new Date(t);
        const idx = d.getUTCFullYear() * 12 + d.getUTCMonth();
        const b = Math.floor(idx / n) * n;
        return Date.UTC(Math.floor(b / 12), b % 12, 1);
      };
  }
}

function retrieveBars(ctx: RestContext, body: Body): Reply {
  const contractId = str(body['contractId']) ?? (typeof body['contractId'] === 'number' ? String(body['contractId']) : '');
  const m = ctx.market.byId.get(contractId);
  if (!m) return envelope(1, 'Contract not found', { bars: null });
  const unit = intLoose(body['unit']);
  if (unit === null || unit < 1 || unit > 6) return envelope(2, 'Invalid unit', { bars: null });
  const unitNumber = intLoose(body['unitNumber']);
  if (unitNumber === null || unitNumber < 1) return envelope(3, 'Invalid unit number', { bars: null });
  const limit = intLoose(body['limit']);
  if (limit === null || limit < 1 || limit > MAX_BARS) return envelope(4, `Limit must be between 1 and ${MAX_BARS}`, { bars: null });
  const start = time(body['startTime']);
  const end = time(body['endTime']);
  if (Number.isNaN(start) || Number.isNaN(end)) {
    return validationProblem({ [Number.isNaN(start) ? '$.startTime' : '$.endTime']: ['The JSON value could not be converted to System.DateTime.'] });
  }
  const now = ctx.clock();
  const from = start ?? 0;
  const to = Math.min(end ?? now + 1, now + 1);
  const bucket = bucketOf(unit, unitNumber);
  const source = unit === 1 ? ctx.market.secondBars(m, bucket(from), to) : ctx.market.minuteBars(m, bucket(from), to);
  const partial = bucket(now);
  const out: Bar[] = [];
  let cur: Bar | null = null;
  for (const b of source) {
    const t = bucket(b.t);
    if (cur && cur.t === t) {
      if (b.h > cur.h) cur.h = b.h;
      if (b.l < cur.l) cur.l = b.l;
      cur.c = b.c;
      cur.v += b.v;
    } else {
      cur = { t, o: b.o, h: b.h, l: b.l, c: b.c, v: b.v };
      out.push(cur);
    }
  }
  const includePartial = body['includePartialBar'] === true;
  const kept = out.filter((b) => b.t >= from && b.t < to && (includePartial || b.t !== partial));
  const recent = kept.slice(Math.max(0, kept.length - limit)).reverse();
  const bars = recent.map((b) => ({
    t: formatTimestamp(b.t),
    o: Decimal.price(b.o),
    h: Decimal.price(b.h),
    l: Decimal.price(b.l),
    c: Decimal.price(b.c),
    v: b.v,
  }));
  return envelope(0, null, { bars });
}

function place(ctx: RestContext, body: Body): Reply {
  const sl = bracket(body['stopLossBracket']);
  const tp = bracket(body['takeProfitBracket']);
  const accountId = intLoose(body['accountId']);
  const tag = body['customTag'];
  const o = ctx.broker.place({
    accountId: accountId ?? -1,
    contractId: str(body['contractId']) ?? '',
    type: int(body['type']) ?? Number.NaN,
    side: int(body['side']) ?? Number.NaN,
    size: typeof body['size'] === 'number' ? body['size'] : Number.NaN,
    limitPrice: parsePrice(body['limitPrice']),
    stopPrice: parsePrice(body['stopPrice']),
    trailPrice: parsePrice(body['trailPrice']),
    customTag: typeof tag === 'string' && tag !== '' ? tag : null,
    stopLossBracket: sl === undefined ? { ticks: Number.NaN, type: Number.NaN } : sl,
    takeProfitBracket: tp === undefined ? { ticks: Number.NaN, type: Number.NaN } : tp,
  });
  return outcome(o, true);
}

function accountOrders(ctx: RestContext, body: Body): ReturnType<Broker['ordersByAccount']['get']> {
  const id = intLoose(body['accountId']);
  return id === null ? undefined : ctx.broker.ordersByAccount.get(id);
}

function orderSearch(ctx: RestContext, body: Body): Reply {
  const orders = accountOrders(ctx, body);
  if (!orders) return envelope(1, 'Account not found', { orders: null });
  const start = time(body['startTimestamp']) ?? 0;
  const end = time(body['endTimestamp']) ?? Number.POSITIVE_INFINITY;
  if (Number.isNaN(start) || Number.isNaN(end)) return validationProblem({ $: ['The JSON value could not be converted to System.DateTime.'] });
  return envelope(0, null, { orders: orders.filter((o) => o.created >= start && o.created <= end).map((o) => orderView(o)) });
}

function searchOpen(ctx: RestContext, body: Body): Reply {
  const orders = accountOrders(ctx, body);
  if (!orders) return envelope(1, 'Account not found', { orders: null });
  return envelope(0, null, { orders: orders.filter((o) => o.status === OrderStatus.Open).map((o) => orderView(o)) });
}

function searchById(ctx: RestContext, body: Body): Reply {
  const orderId = intLoose(body['orderId']);
  const o = orderId === null ? undefined : ctx.broker.orders.get(orderId);
  if (!o || o.accountId !== intLoose(body['accountId'])) return envelope(1, 'Order not found', { order: null });
  return envelope(0, null, { order: orderView(o) });
}

function v2Query(ctx: RestContext, body: Body): Reply {
  const errors: Record<string, string[]> = {};
  const filter = body['filter'];
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    errors['Filter'] = ['The Filter field is required.'];
    return validationProblem(errors);
  }
  const f = filter as Body;
  const accountId = intLoose(f['accountId']);
  if (accountId === null) errors['Filter.AccountId'] = ['The AccountId field is required.'];
  let statuses: number[] | null = null;
  if (f['statuses'] !== undefined && f['statuses'] !== null) {
    if (!Array.isArray(f['statuses']) || !f['statuses'].every((s) => Number.isInteger(s) && s >= 0 && s <= 8)) {
      errors['Filter.Statuses'] = ['Statuses must be OrderStatus values (0-8).'];
    } else statuses = f['statuses'] as number[];
  }
  const after = time(f['createdAfter']);
  const before = time(f['createdBefore']);
  if (Number.isNaN(after)) errors['Filter.CreatedAfter'] = ['The value is not a valid date-time.'];
  if (Number.isNaN(before)) errors['Filter.CreatedBefore'] = ['The value is not a valid date-time.'];
  const pageSize = body['pageSize'] === undefined || body['pageSize'] === null ? 100 : intLoose(body['pageSize']);
  if (pageSize === null || pageSize < 1 || pageSize > 1000) errors['PageSize'] = ['PageSize must be between 1 and 1000.'];
  const pageOffset = body['pageOffset'] === undefined || body['pageOffset'] === null ? 0 : intLoose(body['pageOffset']);
  if (pageOffset === null || pageOffset < 0) errors['PageOffset'] = ['PageOffset must be 0 or more.'];
  const sortBy = body['sortBy'] === undefined || body['sortBy'] === null ? 0 : intLoose(body['sortBy']);
  if (sortBy !== 0 && sortBy !== 1) errors['SortBy'] = ['SortBy must be 0 (CreatedAt) or 1 (Id).'];
  const dir = body['sortDirection'] === undefined || body['sortDirection'] === null ? 0 : intLoose(body['sortDirection']);
  if (dir !== 0 && dir !== 1) errors['SortDirection'] = ['SortDirection must be 0 (Asc) or 1 (Desc).'];
  if (Object.keys(errors).length > 0) return validationProblem(errors);
  const orders = ctx.broker.ordersByAccount.get(accountId!);
  if (!orders) return envelope(1, 'Account not found', { orders: null });
  const contractId = str(f['contractId']);
  const rows = orders.filter(
    (o) =>
      (statuses === null || statuses.includes(o.status)) &&
      (contractId === null || contractId === '' || o.contract.id === contractId) &&
      (after === undefined || o.created >= after) &&
      (before === undefined || o.created <= before),
  );
  rows.sort((a, b) => (sortBy === 0 ? a.created - b.created || a.id - b.id : a.id - b.id) * (dir === 1 ? -1 : 1));
  const page = rows.slice(pageOffset!, pageOffset! + pageSize!).map((o) => orderView(o));
  const payload: Record<string, unknown> = { orders: page };
  if (body['includeTotalCount'] === true) payload['totalCount'] = rows.length;
  return envelope(0, null, payload);
}

function tradeSearch(ctx: RestContext, body: Body): Reply {
  const id = intLoose(body['accountId']);
  const trades = id === null ? undefined : ctx.broker.tradesByAccount.get(id);
  if (!trades) return envelope(1, 'Account not found', { trades: null });
  const start = time(body['startTimestamp']) ?? 0;
  const end = time(body['endTimestamp']) ?? Number.POSITIVE_INFINITY;
  if (Number.isNaN(start) || Number.isNaN(end)) return validationProblem({ $: ['The JSON value could not be converted to System.DateTime.'] });
  return envelope(0, null, { trades: trades.filter((t) => t.created >= start && t.created <= end).map(tradeView) });
}

function login(ctx: RestContext, body: Body): Reply {
  const errors: Record<string, string[]> = {};
  if (typeof body['userName'] !== 'string' || body['userName'] === '') errors['userName'] = ['The userName field is required.'];
  if (typeof body['apiKey'] !== 'string' || body['apiKey'] === '') errors['apiKey'] = ['The apiKey field is required.'];
  if (Object.keys(errors).length > 0) return validationProblem(errors);
  if (body['userName'] !== ctx.credentials.userName || body['apiKey'] !== ctx.credentials.apiKey) {
    return envelope(3, 'Invalid credentials', { token: null });
  }
  return envelope(0, null, { token: ctx.tokens.issue() });
}

/** Routes by lower-cased path after `/api/`; the canonical name keys latency faults and events. */
export const ROUTES: Record<string, { name: string; auth: boolean; bucket: 'bars' | 'general'; handler: Handler }> = {};

function route(name: string, handler: Handler, auth = true): void {
  ROUTES[name.toLowerCase()] = { name, auth, bucket: name === 'History/retrieveBars' ? 'bars' : 'general', handler };
}

route('Auth/loginKey', (ctx, body) => login(ctx, body), false);
route('Auth/loginApp', () => envelope(4, 'App not found', { token: null }), false);
route('Auth/validate', (ctx) => envelope(0, null, { newToken: ctx.tokens.issue() }));
route('Auth/logout', (ctx, _body, token) => {
  if (token) ctx.tokens.revoke(token);
  return envelope(0, null);
});
route('Account/search', (ctx) => envelope(0, null, { accounts: [...ctx.broker.accounts.values()].map(accountView) }));
route('Contract/available', (ctx) => envelope(0, null, { contracts: ctx.contracts.filter((c) => c.active).map(contractView) }));
route('Contract/search', (ctx, body) => {
  const text = (str(body['searchText']) ?? '').toLowerCase();
  const hits = ctx.contracts.filter(
    (c) => c.active && (text === '' || [c.id, c.spec.name, c.spec.description, c.symbolId].some((s) => s.toLowerCase().includes(text))),
  );
  return envelope(0, null, { contracts: hits.slice(0, 20).map(contractView) });
});
route('Contract/searchById', (ctx, body) => {
  const c = ctx.contracts.find((x) => x.id === body['contractId']);
  return c ? envelope(0, null, { contract: contractView(c) }) : envelope(1, 'Contract not found', { contract: null });
});
route('History/retrieveBars', (ctx, body) => retrieveBars(ctx, body));
route('Order/place', (ctx, body) => place(ctx, body));
route('Order/modify', (ctx, body) =>
  outcome(
    ctx.broker.modify(
      intLoose(body['accountId']) ?? -1,
      intLoose(body['orderId']) ?? -1,
      body['size'] === undefined || body['size'] === null ? null : typeof body['size'] === 'number' ? body['size'] : Number.NaN,
      parsePrice(body['limitPrice']),
      parsePrice(body['stopPrice']),
      parsePrice(body['trailPrice']),
    ),
  ),
);
route('Order/cancel', (ctx, body) => outcome(ctx.broker.cancel(intLoose(body['accountId']) ?? -1, intLoose(body['orderId']) ?? -1)));
route('Order/search', (ctx, body) => orderSearch(ctx, body));
route('Order/searchOpen', (ctx, body) => searchOpen(ctx, body));
route('Order/searchById', (ctx, body) => searchById(ctx, body));
route('Order/v2/query', (ctx, body) => v2Query(ctx, body));
route('Position/searchOpen', (ctx, body) => {
  const id = intLoose(body['accountId']);
  if (id === null || !ctx.broker.accounts.has(id)) return envelope(1, 'Account not found', { positions: null });
  return envelope(0, null, { positions: ctx.broker.openPositions(id).map(positionView) });
});
route('Position/closeContract', (ctx, body) => outcome(ctx.broker.close(intLoose(body['accountId']) ?? -1, str(body['contractId']) ?? '', null, false)));
route('Position/partialCloseContract', (ctx, body) =>
  outcome(ctx.broker.close(intLoose(body['accountId']) ?? -1, str(body['contractId']) ?? '', typeof body['size'] === 'number' ? body['size'] : null, true)),
);
route('Trade/search', (ctx, body) => tradeSearch(ctx, body));
