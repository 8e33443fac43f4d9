import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthError,
  createLocalRateGate,
  GatewayError,
  GatewayRestClient,
  HttpStatusError,
  InconsistentResponseError,
  RateLimitedError,
  RatePermit,
  RatePermitError,
  resolveOrderByTag,
  SendDeadlineError,
  TransportError,
  UnknownOutcomeError,
  type GatewayRestClientOptions,
  type Order,
  type PlaceOrderRequest,
} from '../src/index';
import { waitUntil } from '../src/testing';
import { startRawHttpServer, type RawHttpServer, type RawReply } from './raw-http-server';
import { fail, json, ok, startRestServer, type RestServer } from './rest-server';

const API_KEY = 'secret-api-key-123';
const PLACE: PlaceOrderRequest = { accountId: 7, contractId: 'CON.F.US.EP.U25', type: 2, side: 0, size: 1, customTag: 'tag-1' };

let srv: RestServer & { tokens: string[] };
let client: GatewayRestClient;
const held: ServerResponse[] = [];

function makeClient(extra: Partial<GatewayRestClientOptions> = {}): GatewayRestClient {
  client = new GatewayRestClient({
    baseUrl: srv.baseUrl,
    userName: 'demo',
    apiKey: API_KEY,
    connections: 4,
    rateGate: createLocalRateGate(undefined, false),
    backoffBaseMs: 1,
    backoffMaxMs: 5,
    random: () => 0.5,
    ...extra,
  });
  return client;
}

/** Accepts only the latest issued token, like the Gateway after expiry of older ones. */
function authed(path: string, answer: (res: ServerResponse, nth: number, body: unknown) => void): void {
  srv.route(path, (req, res, nth) => {
    if (req.authorization !== `Bearer ${srv.tokens[srv.tokens.length - 1]}`) return json(res, {}, 401);
    answer(res, nth, req.body);
  });
}

function noSecrets(err: unknown): void {
  const text = `${(err as Error).message} ${JSON.stringify(err)}`;
  expect(text).not.toContain(API_KEY);
  for (const t of srv.tokens) expect(text).not.toMatch(new RegExp(`\\b${t}\\b`));
}

beforeEach(async () => {
  srv = await startRestServer();
});

afterEach(async () => {
  for (const r of held.splice(0)) r.destroy();
  await client?.close();
  await srv.close();
});

describe('GatewayRestClient: auth', () => {
  it('logs in with loginKey, sends the bearer token, and keeps null lists absent', async () => {
    makeClient();
    authed('/api/Account/search', (res, nth) =>
      json(res, nth === 1 ? ok({ accounts: [{ id: 7, name: 'A', balance: 50000, canTrade: true, isVisible: true, simulated: true }] }) : ok({ accounts: null })),
    );
    const accounts = await client.searchAccounts(true);
    expect(accounts).toEqual([{ id: 7, name: 'A', balance: 50000, canTrade: true, isVisible: true, simulated: true }]);
    expect(srv.seen.get('/api/Auth/loginKey')![0]!.body).toEqual({ userName: 'demo', apiKey: API_KEY });
    expect(srv.seen.get('/api/Account/search')![0]!.body).toEqual({ onlyActiveAccounts: true });
    expect(client.token).toBe('T1');
    expect(await client.searchAccounts(true)).toBeUndefined();
  });

  it('on HTTP 401 logs in again once and retries once, telling token listeners', async () => {
    makeClient();
    const seenTokens: string[] = [];
    client.onTokenChange((t) => seenTokens.push(t));
    await client.login();
    // The server now only accepts a token it has not issued yet: T2.
    srv.route('/api/Position/searchOpen', (req, res) => {
      if (req.authorization !== 'Bearer T2') return json(res, {}, 401);
      json(res, ok({ positions: [] }));
    });
    expect(await client.searchOpenPositions(7)).toEqual([]);
    expect(srv.count('/api/Auth/loginKey')).toBe(2);
    expect(srv.count('/api/Position/searchOpen')).toBe(2);
    expect(seenTokens).toEqual(['T1', 'T2']);
  });

  it('a mutation answered 401 is re-sent exactly once after re-login (a 401 executed nothing)', async () => {
    makeClient();
    await client.login();
    srv.route('/api/Order/place', (req, res) => {
      if (req.authorization !== 'Bearer T2') return json(res, {}, 401);
      json(res, ok({ orderId: 991 }));
    });
    expect(await client.placeOrder(PLACE)).toBe(991);
    expect(srv.count('/api/Order/place')).toBe(2);
  });

  it('a second 401 after the fresh login is an AuthError', async () => {
    makeClient();
    srv.route('/api/Trade/search', (_req, res) => json(res, {}, 401));
    const err = await client.searchTrades({ accountId: 7, startTimestamp: '2025-01-01T00:00:00Z' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe('AUTH_FAILED');
    expect(srv.count('/api/Trade/search')).toBe(2);
    expect(srv.count('/api/Auth/loginKey')).toBe(2);
    noSecrets(err);
  });

  it('bad credentials: AuthError named from the loginKey table, no key in the message', async () => {
    makeClient();
    srv.route('/api/Auth/loginKey', (_req, res) => json(res, fail(3, 'Invalid credentials')));
    const err = await client.login().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).codeName).toBe('InvalidCredentials');
    expect((err as AuthError).errorCode).toBe(3);
    noSecrets(err);
  });

  it('refreshes the token through Auth/validate when the injected clock says it is due', async () => {
    let now = 1_000_000;
    makeClient({ clock: () => now, validateEveryMs: 3_600_000, refreshCheckEveryMs: 10 });
    authed('/api/Auth/validate', (res) => {
      srv.tokens.push('V1');
      json(res, ok({ newToken: 'V1' }));
    });
    const rotated: string[] = [];
    client.onTokenChange((t) => rotated.push(t));
    await client.login();
    expect(srv.count('/api/Auth/validate')).toBe(0);
    now += 3_600_001;
    await waitUntil(() => client.token === 'V1', 'token rotation');
    expect(srv.count('/api/Auth/validate')).toBe(1);
    expect(srv.seen.get('/api/Auth/validate')![0]!.authorization).toBe('Bearer T1');
    expect(rotated).toEqual(['T1', 'V1']);
    authed('/api/Account/search', (res) => json(res, ok({ accounts: [] })));
    expect(await client.searchAccounts(false)).toEqual([]);
    expect(srv.seen.get('/api/Account/search')![0]!.authorization).toBe('Bearer V1');
    await client.close();
    now += 10 * 3_600_001;
    // After close the timer is gone: a login-free read proves nothing more was sent.
    expect(srv.count('/api/Auth/validate')).toBe(1);
  });

  it('falls back to loginKey when validate fails', async () => {
    let now = 0;
    makeClient({ clock: () => now, validateEveryMs: 1000, refreshCheckEveryMs: 10 });
    srv.route('/api/Auth/validate', (_req, res) => json(res, fail(3, null)));
    await client.login();
    now = 5000;
    await waitUntil(() => client.token === 'T2', 'fallback login');
    expect(srv.count('/api/Auth/validate')).toBeGreaterThanOrEqual(1);
  });
});

describe('GatewayRestClient: retries', () => {
  it('retries a read on 429 with Retry-After, then succeeds', async () => {
    makeClient();
    authed('/api/Contract/available', (res, nth) => {
      if (nth <= 2) return json(res, { title: 'Too Many Requests' }, 429, { 'retry-after': '0' });
      json(res, ok({ contracts: [{ id: 'CON.F.US.EP.U25', name: 'ESU5', description: 'E-mini', tickSize: 0.25, tickValue: 12.5, activeContract: true, symbolId: 'F.US.EP' }] }));
    });
    const contracts = await client.availableContracts(false);
    expect(contracts?.map((c) => c.id)).toEqual(['CON.F.US.EP.U25']);
    expect(srv.count('/api/Contract/available')).toBe(3);
  });

  it('a read still rate limited after its attempts is a RateLimitedError with sent:true', async () => {
    makeClient({ maxReadAttempts: 3 });
    authed('/api/Contract/search', (res) => json(res, {}, 429, { 'retry-after': '0' }));
    const err = await client.searchContracts('ES').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).sent).toBe(true);
    expect(srv.count('/api/Contract/search')).toBe(3);
  });

  it('retries a read on 5xx and gives up with HttpStatusError after maxReadAttempts', async () => {
    makeClient({ maxReadAttempts: 4 });
    authed('/api/Order/searchOpen', (res, nth) => (nth <= 2 ? json(res, { oops: true }, 503) : json(res, ok({ orders: [] }))));
    expect(await client.searchOpenOrders(7)).toEqual([]);
    expect(srv.count('/api/Order/searchOpen')).toBe(3);

    authed('/api/Order/searchById', (res) => json(res, { oops: 'down' }, 502));
    const err = await client.orderById(7, 5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(502);
    expect((err as HttpStatusError).bodyExcerpt).toContain('down');
    expect(srv.count('/api/Order/searchById')).toBe(4);
  });

  it('retries a read whose connection drops', async () => {
    makeClient();
    authed('/api/Contract/searchById', (res, nth) => {
      if (nth === 1) return res.socket?.destroy();
      json(res, ok({ contract: { id: 'X', name: 'X', description: '', tickSize: 0.25, tickValue: 5, activeContract: false, symbolId: 'F.US.X' } }));
    });
    const c = await client.contractById('X');
    expect(c?.activeContract).toBe(false);
    expect(srv.count('/api/Contract/searchById')).toBe(2);
  });
});

describe('GatewayRestClient: mutations are never retried blindly', () => {
  it('a place that times out is an UnknownOutcomeError, sent once', async () => {
    makeClient({ requestTimeoutMs: 1_000 });
    await client.login();
    authed('/api/Order/place', (res) => {
      held.push(res);
    });
    const err = await client.placeOrder(PLACE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect((err as UnknownOutcomeError).code).toBe('UNKNOWN_OUTCOME');
    expect((err as UnknownOutcomeError).reason).toBe('timeout');
    expect((err as UnknownOutcomeError).extra.customTag).toBe('tag-1');
    expect(srv.count('/api/Order/place')).toBe(1);
    noSecrets(err);
  });

  it('a place whose connection drops after sending is an UnknownOutcomeError, sent once', async () => {
    makeClient();
    await client.login();
    authed('/api/Order/place', (res) => {
      res.socket?.destroy();
    });
    const err = await client.placeOrder(PLACE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect((err as UnknownOutcomeError).reason).toBe('connection-lost');
    expect(srv.count('/api/Order/place')).toBe(1);
  });

  it('5xx and 429 on mutations are unknown outcomes, each sent once', async () => {
    makeClient();
    await client.login();
    authed('/api/Order/cancel', (res) => json(res, {}, 500));
    authed('/api/Position/closeContract', (res) => json(res, {}, 429, { 'retry-after': '0' }));
    const e1 = await client.cancelOrder({ accountId: 7, orderId: 1 }).catch((e: unknown) => e);
    const e2 = await client.closeContract({ accountId: 7, contractId: 'C' }).catch((e: unknown) => e);
    expect((e1 as UnknownOutcomeError).reason).toBe('http-status');
    expect((e1 as UnknownOutcomeError).extra.status).toBe(500);
    expect((e2 as UnknownOutcomeError).reason).toBe('rate-limited');
    expect(srv.count('/api/Order/cancel')).toBe(1);
    expect(srv.count('/api/Position/closeContract')).toBe(1);
  });

  it('a mutation that cannot connect was not sent: TransportError with sent:false', async () => {
    makeClient();
    await client.login();
    await srv.close(); // the pool's sockets are closed and the port refuses connections
    const pool = (client as unknown as { pool: { stats: { connected: number } } }).pool;
    await waitUntil(() => pool.stats.connected === 0, 'the pool to notice the closed sockets');
    const err = await client.placeOrder(PLACE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).endpoint).toBe('Order/place');
    expect((err as TransportError).sent).toBe(false);
    srv = await startRestServer();
  });

  it('rejects bad options naming the field', () => {
    expect(() => new GatewayRestClient({ baseUrl: 'nope', userName: 'u', apiKey: 'k' })).toThrow(/baseUrl/);
    expect(() => new GatewayRestClient({ baseUrl: srv.baseUrl, userName: '', apiKey: 'k' })).toThrow(/userName/);
    expect(() => new GatewayRestClient({ baseUrl: srv.baseUrl, userName: 'u', apiKey: 'k', connections: 0 })).toThrow(/connections/);
  });

  it('a mutation the rate gate cannot admit within the timeout fails before sending', async () => {
    let now = 0;
    makeClient({ clock: () => now, requestTimeoutMs: 5_000, rateGate: createLocalRateGate({ general: { limit: 2, windowMs: 60_000 }, bars: { limit: 1, windowMs: 30_000 } }) });
    authed('/api/Order/modify', (res) => json(res, ok()));
    await client.login(); // 1st grant
    await client.modifyOrder({ accountId: 7, orderId: 1, size: 2 }); // 2nd grant
    const err = await client.modifyOrder({ accountId: 7, orderId: 1, size: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).sent).toBe(false);
    expect((err as RateLimitedError).retryAfterMs).toBe(60_000);
    expect(srv.count('/api/Order/modify')).toBe(1);
    now = 60_000;
    await client.modifyOrder({ accountId: 7, orderId: 1, size: 3 });
    expect(srv.count('/api/Order/modify')).toBe(2);
  });

  it('waits as the gate says, then sends', async () => {
    const answers = [0, 15, 10, 0];
    const asked: string[] = [];
    makeClient({ rateGate: { tryAcquire: (bucket) => (asked.push(bucket), answers.shift() ?? 0) } });
    authed('/api/Order/searchOpen', (res) => json(res, ok({ orders: [] })));
    expect(await client.searchOpenOrders(7)).toEqual([]);
    expect(asked).toEqual(['general', 'general', 'general', 'general']);
    expect(srv.count('/api/Order/searchOpen')).toBe(1);
  });

  it('History/retrieveBars draws from the bars bucket only', async () => {
    const now = 0;
    makeClient({ clock: () => now, requestTimeoutMs: 5_000, rateGate: createLocalRateGate({ general: { limit: 10, windowMs: 60_000 }, bars: { limit: 1, windowMs: 30_000 } }) });
    authed('/api/History/retrieveBars', (res) => json(res, ok({ bars: [{ t: '2025-07-18T21:00:00+00:00', o: 1, h: 2, l: 0.5, c: 1.5, v: 10 }] })));
    authed('/api/Account/search', (res) => json(res, ok({ accounts: [] })));
    const req = { contractId: 'C', live: false, startTime: '2025-07-18T00:00:00Z', endTime: '2025-07-19T00:00:00Z', unit: 2, unitNumber: 5, limit: 10, includePartialBar: false } as const;
    expect((await client.retrieveBars(req))?.[0]?.c).toBe(1.5);
    const err = await client.retrieveBars(req).catch((e: unknown) => e);
    expect((err as RateLimitedError).bucket).toBe('bars');
    expect(await client.searchAccounts(true)).toEqual([]);
    expect(srv.count('/api/History/retrieveBars')).toBe(1);
  });
});

describe('GatewayRestClient: business errors', () => {
  it('maps success:false to GatewayError with the endpoint table name', async () => {
    makeClient();
    authed('/api/Order/place', (res) => json(res, fail(2, 'Invalid stop loss ticks (40). Ticks should be less than zero when longing.', { orderId: 4242 })));
    authed('/api/Order/cancel', (res) => json(res, fail(2, null)));
    authed('/api/Position/closeContract', (res) => json(res, fail(5, null)));
    authed('/api/Position/partialCloseContract', (res) => json(res, fail(5, null)));
    authed('/api/Order/search', (res) => json(res, fail(1, 'no account')));

    const place = (await client.placeOrder(PLACE).catch((e: unknown) => e)) as GatewayError;
    expect(place).toBeInstanceOf(GatewayError);
    expect(place.code).toBe('GATEWAY_ERROR');
    expect([place.endpoint, place.errorCode, place.codeName, place.orderId]).toEqual(['Order/place', 2, 'OrderRejected', 4242]);
    expect(place.errorMessage).toContain('Ticks should be less than zero');

    const cancel = (await client.cancelOrder({ accountId: 7, orderId: 1 }).catch((e: unknown) => e)) as GatewayError;
    expect(cancel.codeName).toBe('OrderNotFound');
    const close = (await client.closeContract({ accountId: 7, contractId: 'C' }).catch((e: unknown) => e)) as GatewayError;
    expect(close.codeName).toBe('OrderRejected');
    const partial = (await client.partialCloseContract({ accountId: 7, contractId: 'C', size: 9 }).catch((e: unknown) => e)) as GatewayError;
    expect(partial.codeName).toBe('InvalidCloseSize');
    const search = (await client.searchOrders({ accountId: 7, startTimestamp: '2025-01-01T00:00:00Z' }).catch((e: unknown) => e)) as GatewayError;
    expect(search.codeName).toBe('AccountNotFound');
    // Business errors are answers, never retried.
    expect(srv.count('/api/Order/place')).toBe(1);
    expect(srv.count('/api/Order/search')).toBe(1);
  });

  it('ambiguous codes are unknown outcomes', async () => {
    makeClient();
    authed('/api/Order/place', (res) => json(res, fail(6, 'pending', { orderId: 77 })));
    authed('/api/Position/partialCloseContract', (res) => json(res, fail(7, null)));
    authed('/api/Order/modify', (res) => json(res, fail(5, null)));
    const place = (await client.placeOrder(PLACE).catch((e: unknown) => e)) as UnknownOutcomeError;
    expect(place).toBeInstanceOf(UnknownOutcomeError);
    expect([place.reason, place.extra.codeName, place.extra.orderId, place.extra.customTag]).toEqual(['ambiguous-code', 'OrderPending', 77, 'tag-1']);
    const partial = (await client.partialCloseContract({ accountId: 7, contractId: 'C', size: 1 }).catch((e: unknown) => e)) as UnknownOutcomeError;
    expect(partial.extra.codeName).toBe('OrderPending');
    const modify = (await client.modifyOrder({ accountId: 7, orderId: 1 }).catch((e: unknown) => e)) as UnknownOutcomeError;
    expect(modify.extra.codeName).toBe('UnknownError');
  });

  it('an envelope whose success and errorCode disagree is inconsistent (unknown outcome for a mutation)', async () => {
    makeClient();
    authed('/api/Account/search', (res) => json(res, { success: true, errorCode: 3, errorMessage: null, accounts: [] }));
    authed('/api/Order/place', (res) => json(res, { success: false, errorCode: 0, errorMessage: null, orderId: null }));
    const read = await client.searchAccounts(true).catch((e: unknown) => e);
    expect(read).toBeInstanceOf(InconsistentResponseError);
    expect((read as InconsistentResponseError).code).toBe('INCONSISTENT_RESPONSE');
    const place = (await client.placeOrder(PLACE).catch((e: unknown) => e)) as UnknownOutcomeError;
    expect(place.reason).toBe('inconsistent-response');
  });

  it('a 400 ProblemDetails is an HttpStatusError with a body excerpt, not retried', async () => {
    makeClient();
    authed('/api/Order/v2/query', (res) => json(res, { title: 'One or more validation errors occurred.', status: 400 }, 400));
    const err = (await client.queryOrders({ filter: { accountId: 7 }, pageSize: -1 }).catch((e: unknown) => e)) as HttpStatusError;
    expect(err.code).toBe('HTTP_STATUS');
    expect(err.status).toBe(400);
    expect(err.bodyExcerpt).toContain('validation errors');
    expect(srv.count('/api/Order/v2/query')).toBe(1);
  });

  it('ping needs no login', async () => {
    makeClient();
    srv.route('/api/Status/ping', (_req, res) => res.end('pong'));
    expect(await client.ping()).toBe('pong');
    expect(srv.seen.get('/api/Status/ping')![0]!.method).toBe('GET');
    expect(srv.seen.get('/api/Status/ping')![0]!.authorization).toBeUndefined();
    expect(srv.count('/api/Auth/loginKey')).toBe(0);
  });
});

describe('order reconciliation', () => {
  const mkOrder = (id: number, customTag: string | null): Order => ({
    id,
    accountId: 7,
    contractId: 'C',
    symbolId: 'F.US.EP',
    creationTimestamp: '2025-07-18T21:00:01Z',
    updateTimestamp: null,
    status: 1,
    type: 1,
    side: 0,
    size: 1,
    fillVolume: 0,
    customTag,
  });

  it('queryAllOrders fetches every page by row offset; resolveOrderByTag finds the tag', async () => {
    makeClient();
    const all = Array.from({ length: 250 }, (_, i) => mkOrder(i + 1, `t-${i + 1}`));
    authed('/api/Order/v2/query', (res, _nth, body) => {
      const b = body as { pageSize: number; pageOffset: number; filter: { accountId: number } };
      expect(b.filter.accountId).toBe(7);
      json(res, ok({ orders: all.slice(b.pageOffset, b.pageOffset + b.pageSize), totalCount: all.length }));
    });
    const rows = await client.queryAllOrders({ accountId: 7 }, { pageSize: 100 });
    expect(rows.map((o) => o.id)).toEqual(all.map((o) => o.id));
    expect(srv.count('/api/Order/v2/query')).toBe(3);

    const hit = await resolveOrderByTag(client, 7, 't-201', Date.parse('2025-07-18T21:00:00Z'));
    expect(hit?.id).toBe(201);
    const createdAfter = (srv.seen.get('/api/Order/v2/query')![3]!.body as { filter: { createdAfter: string } }).filter.createdAfter;
    expect(createdAfter).toBe('2025-07-18T20:59:00.000Z');
  });

  it('queryAllOrders never skips a row when an earlier one leaves the status-filtered set between two pages', async () => {
    makeClient();
    let working = Array.from({ length: 5 }, (_, i) => mkOrder(i + 1, null));
    authed('/api/Order/v2/query', (res, nth, body) => {
      const b = body as { pageSize: number; pageOffset: number };
      json(res, ok({ orders: working.slice(b.pageOffset, b.pageOffset + b.pageSize), totalCount: working.length }));
      // Order 1 fills right after the first page was read: every later row moves one place up.
      if (nth === 1) working = working.filter((o) => o.id !== 1);
    });
    const rows = await client.queryAllOrders({ accountId: 7, statuses: [1] }, { pageSize: 2 });
    expect(rows.map((o) => o.id).sort((a, b) => a - b)).toEqual([2, 3, 4, 5]);
  });

  it('resolveOrderByTag falls back to Order/search when v2/query lacks customTag', async () => {
    makeClient();
    authed('/api/Order/v2/query', (res) => json(res, ok({ orders: [mkOrder(5, null)], totalCount: 1 })));
    authed('/api/Order/search', (res) => json(res, ok({ orders: [mkOrder(5, 'sig-9')] })));
    expect((await resolveOrderByTag(client, 7, 'sig-9', 0))?.id).toBe(5);
    expect(await resolveOrderByTag(client, 7, 'absent', 0)).toBeUndefined();
  });

  it('a paging result short of totalCount is an InconsistentResponseError, not a silent partial list', async () => {
    makeClient();
    authed('/api/Order/v2/query', (res) => json(res, ok({ orders: [mkOrder(1, 'a')], totalCount: 5 })));
    const err = await client.queryAllOrders({ accountId: 7 }, { pageSize: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InconsistentResponseError);
  });
});

describe('GatewayRestClient: a rate permit is spent by the call it is handed to, and by no other', () => {
  type Gate = ReturnType<typeof createLocalRateGate>;

  /** Two requests a minute at a frozen clock: the login's, then the permit's. No token is left for anything else. */
  async function lastTokenTaken(): Promise<{ gate: Gate; permit: RatePermit }> {
    const gate = createLocalRateGate({ general: { limit: 2, windowMs: 60_000 }, bars: { limit: 1, windowMs: 60_000 } });
    makeClient({ clock: () => 0, requestTimeoutMs: 5_000, rateGate: gate });
    await client.login();
    const permit = RatePermit.take(gate, 'general', 0);
    if (typeof permit === 'number') throw new Error(`the gate's last token was not granted (wait ${permit} ms)`);
    return { gate, permit };
  }

  it('a call without a permit cannot spend the token taken for another: it waits for its own; the order is sent on its permit', async () => {
    const { permit } = await lastTokenTaken();
    authed('/api/Order/search', (res) => json(res, ok({ orders: [] })));
    authed('/api/Order/place', (res) => json(res, ok({ orderId: 42 })));
    // The last token of the minute is the order's: the read is refused before sending (its wait is past the timeout).
    const read = await client.searchOrders({ accountId: 7, startTimestamp: '2025-07-18T00:00:00Z' }).catch((e: unknown) => e);
    expect(read).toBeInstanceOf(RateLimitedError);
    expect((read as RateLimitedError).sent).toBe(false);
    expect(srv.count('/api/Order/search')).toBe(0);
    expect(permit.isHeld).toBe(true);
    expect(await client.placeOrder(PLACE, { permit })).toBe(42);
    expect(permit.isHeld).toBe(false);
    expect(srv.count('/api/Order/place')).toBe(1);
  });

  it('a permit is spent once: a second call handed it is refused before sending', async () => {
    const { permit } = await lastTokenTaken();
    authed('/api/Order/cancel', (res) => json(res, ok()));
    await client.cancelOrder({ accountId: 7, orderId: 1 }, { permit });
    const again = await client.cancelOrder({ accountId: 7, orderId: 1 }, { permit }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(RatePermitError);
    expect((again as RatePermitError).code).toBe('RATE_PERMIT_INVALID');
    expect(srv.count('/api/Order/cancel')).toBe(1);
    expect(permit.drop()).toBe(false);
  });

  it('a permit of another gate or bucket is refused before sending and stays held; once dropped it is refused too', async () => {
    const { gate } = await lastTokenTaken();
    authed('/api/Order/place', (res) => json(res, ok({ orderId: 42 })));
    const foreign = RatePermit.take(createLocalRateGate(undefined, false), 'general', 0) as RatePermit;
    const bars = RatePermit.take(gate, 'bars', 0) as RatePermit;
    for (const permit of [foreign, bars]) {
      const err = await client.placeOrder(PLACE, { permit }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RatePermitError);
      expect(permit.isHeld).toBe(true);
      expect(permit.drop()).toBe(true);
      const dropped = await client.placeOrder(PLACE, { permit }).catch((e: unknown) => e);
      expect((dropped as RatePermitError).code).toBe('RATE_PERMIT_INVALID');
    }
    expect(srv.count('/api/Order/place')).toBe(0);
  });

  it('the permit pays for the first attempt only: a read retried after a 503 takes its own token for the retry', async () => {
    const asked: string[] = [];
    const gate: Gate = { tryAcquire: (bucket) => (asked.push(bucket), 0) };
    makeClient({ rateGate: gate });
    await client.login();
    authed('/api/Position/searchOpen', (res, nth) => (nth === 1 ? json(res, {}, 503) : json(res, ok({ positions: [] }))));
    const permit = RatePermit.take(gate, 'general', 0) as RatePermit;
    asked.length = 0;
    expect(await client.searchOpenPositions(7, { permit })).toEqual([]);
    expect(srv.count('/api/Position/searchOpen')).toBe(2);
    expect(asked).toEqual(['general']);
  });
});

describe('GatewayRestClient: a request is never written after its send deadline (CallOptions.deadlineMs)', () => {
  let raw: RawHttpServer | undefined;

  afterEach(async () => {
    await client?.close();
    await raw?.close();
    raw = undefined;
  });

  it('calls waiting for the pool\'s only connection past their deadline are dropped as undici assigns them a socket: not a byte written', async () => {
    raw = await startRawHttpServer();
    const server = raw;
    let now = 1_000;
    makeClient({ baseUrl: server.baseUrl, connections: 1, clock: () => now });
    await client.login();
    let answerRead: RawReply | undefined;
    server.route('/api/Order/searchOpen', (_req, reply) => (answerRead = reply));
    server.route('/api/Order/place', (_req, reply) => reply(200, ok({ orderId: 5 })));
    server.route('/api/Order/cancel', (_req, reply) => reply(200, ok()));
    server.route('/api/Order/modify', (_req, reply) => reply(200, ok()));
    // A read holds the one keep-alive connection until the test answers it.
    const read = client.searchOpenOrders(7);
    await waitUntil(() => answerRead !== undefined, 'the read to hold the connection');
    const placed = client.placeOrder(PLACE, { deadlineMs: 2_000 }).catch((e: unknown) => e);
    const cancelled = client.cancelOrder({ accountId: 7, orderId: 1 }, { deadlineMs: 2_000 }).catch((e: unknown) => e);
    // Without a deadline a call waits as before and goes out.
    const modified = client.modifyOrder({ accountId: 7, orderId: 1, size: 2 });
    const pool = (client as unknown as { pool: { stats: { queued: number } } }).pool;
    expect(pool.stats.queued).toBe(3);
    // The deadlines pass while the three wait in undici's queue; then the connection frees.
    now = 3_000;
    answerRead!(200, ok({ orders: [] }));
    expect(await read).toEqual([]);
    for (const [err, endpoint] of [
      [await placed, 'Order/place'],
      [await cancelled, 'Order/cancel'],
    ] as const) {
      expect(err).toBeInstanceOf(SendDeadlineError);
      expect(err).toMatchObject({ code: 'SEND_DEADLINE', endpoint, stage: 'connection', sent: false });
    }
    await modified;
    expect(server.requests.map((r) => r.path)).toEqual(['/api/Auth/loginKey', '/api/Order/searchOpen', '/api/Order/modify']);
    // undici dropped the socket each refused call was assigned (and connected again): once those are closed, every
    // byte written on them has been received. The modify's connection (the third) carried the modify alone.
    const modifyConnection = server.requests[2]!.connection;
    expect(modifyConnection).toBe(3);
    await waitUntil(
      () => Array.from({ length: modifyConnection - 1 }, (_, i) => i + 1).every((c) => server.connections.closed.has(c)),
      'the connections before the modify\'s to be closed',
    );
    expect(server.received()).not.toContain('Order/place');
    expect(server.received()).not.toContain('Order/cancel');
    // The refusals were the deadline's: with one still ahead the same call goes out.
    await client.cancelOrder({ accountId: 7, orderId: 1 }, { deadlineMs: now + 1_000 });
    expect(server.requests.filter((r) => r.path === '/api/Order/cancel')).toHaveLength(1);
  });

  it.each([
    ['ends after the deadline: the resend is dropped, one place at the server', 3_000],
    ['ends before the deadline: the place is resent once', 1_500],
  ] as const)('HTTP 401, then a re-login that %s', async (_what, reloginDoneAt) => {
    let now = 1_000;
    const asked: string[] = [];
    makeClient({ clock: () => now, rateGate: { tryAcquire: (bucket) => (asked.push(bucket), 0) } });
    await client.login();
    const logins: ServerResponse[] = [];
    srv.route('/api/Auth/loginKey', (_req, res) => logins.push(res));
    srv.route('/api/Order/place', (req, res) => (req.authorization === 'Bearer T2' ? json(res, ok({ orderId: 9 })) : json(res, {}, 401)));
    asked.length = 0;
    const placed = client.placeOrder(PLACE, { deadlineMs: 2_000 }).catch((e: unknown) => e);
    await waitUntil(() => logins.length === 1, 'the re-login after the 401');
    now = reloginDoneAt;
    srv.tokens.push('T2');
    json(logins[0]!, ok({ token: 'T2' }));
    const out = await placed;
    expect(client.token).toBe('T2');
    if (reloginDoneAt < 2_000) {
      expect(out).toBe(9);
      expect(srv.count('/api/Order/place')).toBe(2);
      return;
    }
    expect(out).toBeInstanceOf(SendDeadlineError);
    expect(out).toMatchObject({ code: 'SEND_DEADLINE', endpoint: 'Order/place', stage: 'login', sent: false });
    expect((out as Error).message).toBe('Order/place: the send deadline passed waiting for a login; nothing was sent');
    expect(srv.count('/api/Order/place')).toBe(1);
    // Tokens for the place and the re-login; none was taken for a resend.
    expect(asked).toEqual(['general', 'general']);
  });

  it('a rate-gate wait that would end past the deadline is not waited: SendDeadlineError, nothing sent', async () => {
    const answers = [0, 500];
    makeClient({ clock: () => 1_000, rateGate: { tryAcquire: () => answers.shift() ?? 0 } });
    await client.login();
    authed('/api/Order/cancel', (res) => json(res, ok()));
    const err = await client.cancelOrder({ accountId: 7, orderId: 1 }, { deadlineMs: 1_100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendDeadlineError);
    expect(err).toMatchObject({ code: 'SEND_DEADLINE', endpoint: 'Order/cancel', stage: 'rate-budget', sent: false });
    expect(srv.count('/api/Order/cancel')).toBe(0);
  });
});

describe('createLocalRateGate', () => {
  it('never grants more than limit in any window (seeded random arrivals)', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const limit = 20;
    const windowMs = 1000;
    const gate = createLocalRateGate({ general: { limit, windowMs }, bars: { limit: 5, windowMs: 500 } });
    const grants: number[] = [];
    let t = 0;
    let denied = 0;
    for (let i = 0; i < 5000; i++) {
      t += Math.floor(rnd() * 40);
      const wait = gate.tryAcquire('general', t);
      if (wait === 0) grants.push(t);
      else {
        denied++;
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(windowMs);
      }
    }
    expect(denied).toBeGreaterThan(0);
    expect(grants.length).toBeGreaterThan(limit);
    for (let i = limit; i < grants.length; i++) {
      // The grant limit places back must be at least a full window earlier.
      expect(grants[i]! - grants[i - limit]!).toBeGreaterThanOrEqual(windowMs);
    }
  });

  it('waiting the returned time is enough to be granted; buckets are independent', () => {
    const gate = createLocalRateGate({ general: { limit: 2, windowMs: 100 }, bars: { limit: 1, windowMs: 100 } });
    expect(gate.tryAcquire('general', 0)).toBe(0);
    expect(gate.tryAcquire('general', 10)).toBe(0);
    const w = gate.tryAcquire('general', 20);
    expect(w).toBe(80);
    expect(gate.tryAcquire('bars', 20)).toBe(0);
    expect(gate.tryAcquire('bars', 21)).toBe(99);
    expect(gate.tryAcquire('general', 20 + w)).toBe(0);
  });

  it('rejects bad config naming the field; disabled grants everything', () => {
    expect(() => createLocalRateGate({ general: { limit: 0, windowMs: 1 }, bars: { limit: 1, windowMs: 1 } })).toThrow(/general\.limit/);
    const off = createLocalRateGate(undefined, false);
    for (let i = 0; i < 1000; i++) expect(off.tryAcquire('bars', 0)).toBe(0);
  });
});
