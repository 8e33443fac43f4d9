import { ERROR_CODES, errorCodeName } from '@gateway/topstepx';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index';
import { ES, MNQ, RawHub, T0, client, login, post, quietSim } from './helpers';

let sim: (Simulator & { clock: { now: number } }) | null = null;
afterEach(async () => {
  await sim?.close();
  sim = null;
});

describe('auth', () => {
  it('logs in with the configured key and returns an opaque token in a success envelope', async () => {
    sim = await quietSim();
    const r = await post(sim, 'Auth/loginKey', { userName: 'demo', apiKey: 'demo-key' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ success: true, errorCode: 0, errorMessage: null });
    expect(typeof r.json['token']).toBe('string');
    expect((r.json['token'] as string).length).toBeGreaterThan(20);
  });

  it('answers bad credentials with HTTP 200, success:false, code 3', async () => {
    sim = await quietSim({ credentials: { userName: 'alice', apiKey: 'k1' } });
    const r = await post(sim, 'Auth/loginKey', { userName: 'alice', apiKey: 'wrong' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ success: false, errorCode: 3, token: null });
    expect(errorCodeName('Auth/loginKey', r.json['errorCode'])).toBe('InvalidCredentials');
    expect((await post(sim, 'Auth/loginKey', { userName: 'alice', apiKey: 'k1' })).json['success']).toBe(true);
  });

  it('answers a malformed login body with 400 ProblemDetails (missing field, bad JSON)', async () => {
    sim = await quietSim();
    const missing = await post(sim, 'Auth/loginKey', { userName: 'demo' });
    expect(missing.status).toBe(400);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    expect(missing.json).toMatchObject({ status: 400, title: 'One or more validation errors occurred.' });
    expect(missing.json['errors']).toHaveProperty('apiKey');
    const bad = await post(sim, 'Auth/loginKey', null, null, '{"userName": "demo", ');
    expect(bad.status).toBe(400);
    expect(bad.json['status']).toBe(400);
  });

  it('401s every other endpoint without a token, with an unknown token, and after 24 h', async () => {
    sim = await quietSim();
    expect((await post(sim, 'Account/search', { onlyActiveAccounts: true })).status).toBe(401);
    expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, 'nope')).status).toBe(401);
    const token = await login(sim);
    expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, token)).status).toBe(200);
    sim.clock.now = T0 + 24 * 3_600_000 - 1;
    expect((await post(sim, 'Order/searchOpen', { accountId: 1001 }, token)).status).toBe(200);
    sim.clock.now = T0 + 24 * 3_600_000;
    expect((await post(sim, 'Order/searchOpen', { accountId: 1001 }, token)).status).toBe(401);
  });

  it('validate returns newToken; older tokens stay valid after validate and re-login', async () => {
    sim = await quietSim();
    const first = await login(sim);
    const v = await post(sim, 'Auth/validate', null, first, '');
    expect(v.json).toMatchObject({ success: true, errorCode: 0 });
    const newToken = v.json['newToken'] as string;
    expect(newToken).not.toBe(first);
    const second = await login(sim);
    for (const t of [first, newToken, second]) expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, t)).status).toBe(200);
  });

  it('serves GET Status/ping as pong without a token', async () => {
    sim = await quietSim();
    const r = await request(`${sim.url}/api/Status/ping`);
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('pong');
  });
});

describe('rate limits', () => {
  it('keeps two independent sliding buckets and answers 429 past either', async () => {
    sim = await quietSim({ rateLimits: { bars: { limit: 3, windowMs: 30_000 }, general: { limit: 5, windowMs: 60_000 } } });
    const token = await login(sim); // 1 general
    const bars = { contractId: MNQ, live: false, startTime: '2026-11-25T00:00:00Z', endTime: '2026-11-25T15:00:00Z', unit: 2, unitNumber: 1, limit: 10 };
    for (let i = 0; i < 3; i++) expect((await post(sim, 'History/retrieveBars', bars, token)).status).toBe(200);
    const limited = await post(sim, 'History/retrieveBars', bars, token);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The general bucket is untouched by bar requests: 4 more fit (login used 1 of 5).
    for (let i = 0; i < 4; i++) expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, token)).status).toBe(200);
    expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, token)).status).toBe(429);
    // Login counts against the general bucket too.
    expect((await post(sim, 'Auth/loginKey', { userName: 'demo', apiKey: 'demo-key' })).status).toBe(429);
    // Sliding: the bar bucket frees after its window, the general one does not yet.
    sim.clock.now = T0 + 30_001;
    expect((await post(sim, 'History/retrieveBars', bars, token)).status).toBe(200);
    expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, token)).status).toBe(429);
    sim.clock.now = T0 + 60_001;
    expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, token)).status).toBe(200);
  });

  it('defaults to 50/30 s for bars and 200/60 s for the rest, and can be switched off', async () => {
    sim = await quietSim({ rateLimits: true });
    const token = await login(sim);
    let ok = 1;
    let status = 200;
    while (status === 200 && ok < 250) {
      status = (await post(sim, 'Order/searchOpen', { accountId: 1001 }, token)).status;
      if (status === 200) ok++;
    }
    expect(ok).toBe(200);
    expect(status).toBe(429);
    sim.setRateLimits(false);
    expect((await post(sim, 'Order/searchOpen', { accountId: 1001 }, token)).status).toBe(200);
  });
});

describe('envelopes and per-endpoint codes', () => {
  it('returns business errors as HTTP 200 success:false with the endpoint-specific code', async () => {
    sim = await quietSim();
    const c = await client(sim);
    const cases: Array<[keyof typeof ERROR_CODES, unknown, number, string]> = [
      ['Contract/searchById', { contractId: 'CON.F.US.XXX.Z26' }, 1, 'ContractNotFound'],
      ['Order/searchById', { accountId: 1001, orderId: 123 }, 1, 'OrderNotFound'],
      ['Order/search', { accountId: 9, startTimestamp: '2026-01-01T00:00:00Z' }, 1, 'AccountNotFound'],
      ['Order/cancel', { accountId: 1001, orderId: 123 }, 2, 'OrderNotFound'],
      ['Order/modify', { accountId: 1001, orderId: 123, size: 2 }, 2, 'OrderNotFound'],
      ['Order/place', { accountId: 9, contractId: MNQ, type: 2, side: 0, size: 1 }, 1, 'AccountNotFound'],
      ['Order/place', { accountId: 1001, contractId: 'CON.F.US.XXX.Z26', type: 2, side: 0, size: 1 }, 8, 'ContractNotFound'],
      ['Position/closeContract', { accountId: 1001, contractId: MNQ }, 2, 'PositionNotFound'],
      ['Position/partialCloseContract', { accountId: 1001, contractId: MNQ, size: 1 }, 2, 'PositionNotFound'],
      ['Position/searchOpen', { accountId: 9 }, 1, 'AccountNotFound'],
      ['Trade/search', { accountId: 9, startTimestamp: '2026-01-01T00:00:00Z' }, 1, 'AccountNotFound'],
    ];
    for (const [endpoint, body, code, name] of cases) {
      const r = await c.call(endpoint, body);
      expect(r.status, endpoint).toBe(200);
      expect(r.json['success'], endpoint).toBe(false);
      expect(r.json['errorCode'], endpoint).toBe(code);
      expect(errorCodeName(endpoint, r.json['errorCode']), endpoint).toBe(name);
    }
  });

  it('shifts partial-close codes against close: bad size is 5 InvalidCloseSize', async () => {
    sim = await quietSim();
    const c = await client(sim);
    await c.place({ type: 2, side: 0, size: 2 });
    const r = await c.call('Position/partialCloseContract', { accountId: 1001, contractId: MNQ, size: 3 });
    expect(r.json['errorCode']).toBe(5);
    expect(errorCodeName('Position/partialCloseContract', 5)).toBe('InvalidCloseSize');
    expect(errorCodeName('Position/closeContract', 5)).toBe('OrderRejected');
    expect((await c.call('Position/partialCloseContract', { accountId: 1001, contractId: MNQ, size: 1 })).json['success']).toBe(true);
    expect((await c.positions())[0]).toMatchObject({ size: 1, type: 1 });
  });

  it('serialises prices with 9 decimals', async () => {
    sim = await quietSim();
    const c = await client(sim);
    const r = await c.call('Contract/searchById', { contractId: MNQ });
    expect(r.text).toContain('"tickSize":0.250000000');
    const placed = await c.place({ type: 1, side: 0, limitPrice: 20000.5 });
    const o = await c.call('Order/searchById', { accountId: 1001, orderId: placed.json['orderId'] });
    expect(o.text).toContain('"limitPrice":20000.500000000');
    expect(o.json['order']['limitPrice']).toBe(20000.5);
  });

  it('writes REST and user-hub timestamps as .NET DateTimeOffset does: +00:00 offset, fraction trimmed', async () => {
    sim = await quietSim();
    const c = await client(sim);
    const h = await RawHub.connect(sim.userHubUrl, c.token);
    try {
      await h.invoke('SubscribeOrders', 1001);
      sim.setPrice(MNQ, 21000); // a whole second: no fraction at all
      await c.place({ type: 2, side: 0 });
      sim.clock.now = T0 + 120;
      const later = await c.place({ type: 1, side: 0, limitPrice: 20000 });
      const order = await c.order(later.json['orderId']);
      expect(order['creationTimestamp']).toBe('2026-11-25T15:00:00.12+00:00');
      expect((await c.trades())[0]!['creationTimestamp']).toBe('2026-11-25T15:00:00+00:00');
      expect((await c.positions())[0]!['creationTimestamp']).toBe('2026-11-25T15:00:00+00:00');
      const bars = (await c.call('History/retrieveBars', { contractId: MNQ, live: false, startTime: '2026-11-25T14:00:00Z', endTime: '2026-11-25T16:00:00Z', unit: 2, unitNumber: 1, limit: 1, includePartialBar: true })).json['bars'];
      expect(bars[0].t).toBe('2026-11-25T15:00:00+00:00');
      const event = await h.waitFor((r) => r.target === 'GatewayUserOrder' && r.arguments[0].id === later.json['orderId']);
      expect(event.arguments[0]).toMatchObject({ creationTimestamp: '2026-11-25T15:00:00.12+00:00', updateTimestamp: '2026-11-25T15:00:00.12+00:00' });
    } finally {
      h.close();
    }
  });

  it('keeps serving after bad input (bad JSON, wrong types, unknown paths)', async () => {
    sim = await quietSim();
    const c = await client(sim);
    expect((await post(sim, 'Order/place', null, c.token, '{oops')).status).toBe(400);
    expect((await post(sim, 'Order/place', null, c.token, '[1,2]')).status).toBe(400);
    const weird = await c.call('Order/place', { accountId: '1001', contractId: 42, type: 'x', side: null, size: -1 });
    expect(weird.status).toBe(200);
    expect(weird.json['success']).toBe(false);
    expect((await post(sim, 'Nope/nothing', {}, c.token)).status).toBe(404);
    expect((await c.call('Account/search', { onlyActiveAccounts: true })).json['success']).toBe(true);
  });
});

describe('accounts and contracts', () => {
  it('lists the demo accounts with the Gateway fields', async () => {
    sim = await quietSim();
    const c = await client(sim);
    const r = await c.call('Account/search', { onlyActiveAccounts: true });
    expect(r.json['accounts'][0]).toEqual({ id: 1001, name: 'S1-50K-DEMO', balance: 50000, canTrade: true, isVisible: true, simulated: true });
    expect(r.text).toContain('"balance":50000.0000');
  });

  it('resolves front months via available, expired ones via searchById, and caps search at 20', async () => {
    sim = await quietSim();
    const c = await client(sim);
    const avail = (await c.call('Contract/available', { live: false })).json['contracts'] as Array<Record<string, any>>;
    const ids = avail.map((x) => x.id);
    expect(ids).toEqual(expect.arrayContaining([ES, MNQ, 'CON.F.US.MES.Z26', 'CON.F.US.ENQ.Z26', 'CON.F.US.CLE.F27', 'CON.F.US.GCE.G27']));
    expect(avail.every((x) => x.activeContract === true)).toBe(true);
    expect(avail.find((x) => x.id === ES)).toMatchObject({ tickSize: 0.25, tickValue: 12.5, symbolId: 'F.US.EP', name: 'ESZ6' });
    const expired = (await c.call('Contract/searchById', { contractId: 'CON.F.US.EP.U26' })).json;
    expect(expired).toMatchObject({ success: true, contract: { id: 'CON.F.US.EP.U26', activeContract: false } });
    const search = (await c.call('Contract/search', { searchText: 'NQ', live: false })).json['contracts'] as unknown[];
    expect(search.length).toBeGreaterThan(0);
    expect(search.length).toBeLessThanOrEqual(20);
    const all = (await c.call('Contract/search', { searchText: '', live: false })).json['contracts'] as unknown[];
    expect(all.length).toBeLessThanOrEqual(20);
    const onExpired = await c.call('Order/place', { accountId: 1001, contractId: 'CON.F.US.EP.U26', type: 2, side: 0, size: 1 });
    expect(onExpired.json['errorCode']).toBe(9);
  });
});

describe('History/retrieveBars', () => {
  const req = (over: Record<string, unknown> = {}) => ({
    contractId: MNQ,
    live: false,
    startTime: '2026-11-24T00:00:00Z',
    endTime: '2026-11-25T16:00:00Z',
    unit: 2,
    unitNumber: 1,
    limit: 100,
    includePartialBar: false,
    ...over,
  });

  it('validates contract, unit, unitNumber and the 20,000 limit with codes 1-4', async () => {
    sim = await quietSim();
    const c = await client(sim);
    expect((await c.call('History/retrieveBars', req({ contractId: 'CON.F.US.XXX.Z26' }))).json['errorCode']).toBe(1);
    expect((await c.call('History/retrieveBars', req({ unit: 9 }))).json['errorCode']).toBe(2);
    expect((await c.call('History/retrieveBars', req({ unitNumber: 0 }))).json['errorCode']).toBe(3);
    expect((await c.call('History/retrieveBars', req({ limit: 20_001 }))).json['errorCode']).toBe(4);
    expect((await c.call('History/retrieveBars', req({ limit: 20_000 }))).json['success']).toBe(true);
  });

  it('returns newest-first bars keeping the most recent `limit`, consistent with traded prices', async () => {
    sim = await quietSim();
    const c = await client(sim);
    sim.clock.now = T0 + 10_000;
    sim.setPrice(MNQ, 21010);
    sim.clock.now = T0 + 20_000;
    sim.setPrice(MNQ, 21020.25);
    sim.clock.now = T0 + 70_000;
    sim.setPrice(MNQ, 21005);
    const r = await c.call('History/retrieveBars', req({ limit: 3, includePartialBar: true }));
    const bars = r.json['bars'] as Array<Record<string, any>>;
    expect(bars).toHaveLength(3);
    expect(Date.parse(bars[0]!.t)).toBe(T0 + 60_000);
    expect(Date.parse(bars[1]!.t)).toBe(T0);
    expect(Date.parse(bars[2]!.t)).toBe(T0 - 60_000);
    expect(bars[0]).toMatchObject({ o: 21005, h: 21005, l: 21005, c: 21005, v: 1 });
    expect(bars[1]).toMatchObject({ o: 21010, h: 21020.25, l: 21010, c: 21020.25, v: 2 });
    // Without the partial bar the in-progress minute is dropped.
    const full = (await c.call('History/retrieveBars', req({ limit: 2 }))).json['bars'] as Array<Record<string, any>>;
    expect(Date.parse(full[0]!.t)).toBe(T0);
    // Seconds and hours come from the same trades.
    const secs = (await c.call('History/retrieveBars', req({ unit: 1, unitNumber: 10, limit: 10, includePartialBar: true }))).json['bars'];
    expect(secs.map((b: any) => b.c)).toEqual([21005, 21020.25, 21010]);
    const hours = (await c.call('History/retrieveBars', req({ unit: 3, unitNumber: 1, limit: 1, includePartialBar: true }))).json['bars'];
    expect(hours[0]).toMatchObject({ c: 21005, h: 21020.25 });
  });

  it('serves seeded history before the start, reproducible from the seed', async () => {
    sim = await quietSim({ seed: 7 });
    const a = (await (await client(sim)).call('History/retrieveBars', req({ limit: 50 }))).json['bars'];
    await sim.close();
    sim = await quietSim({ seed: 7 });
    const b = (await (await client(sim)).call('History/retrieveBars', req({ limit: 50 }))).json['bars'];
    expect(a).toHaveLength(50);
    expect(b).toEqual(a);
    const day = (await (await client(sim)).call('History/retrieveBars', req({ unit: 4, unitNumber: 1, limit: 5 }))).json['bars'];
    expect(day.length).toBeGreaterThan(0);
    for (const bar of day) expect(bar.h).toBeGreaterThanOrEqual(bar.l);
  });
});

describe('seeded price path', () => {
  it('reproduces the same random walk on the tick grid from the same seed', async () => {
    const walk = async (seed: number) => {
      const s = await quietSim({ seed });
      s.step(MNQ, 500);
      const q = s.quote(MNQ);
      await s.close();
      return q;
    };
    const a = await walk(42);
    const b = await walk(42);
    const c = await walk(43);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect((a.last * 4) % 1).toBe(0);
    expect(a.ask - a.bid).toBe(0.25);
  });
});
