// Contract tests, REST half: the real GatewayRestClient against the simulator, one `it` per item of
// the checklist in docs/topstepx-api.md ("What the simulator must reproduce").
import { PRICE_SCALE, parseDecimalToUnits, priceToUnits } from '@gateway/shared-state';
import {
  AuthError,
  GatewayError,
  HttpStatusError,
  OrderStatus,
  OrderType,
  PositionType,
  TopstepxErrorCode,
  type GatewayRestClient,
} from '@gateway/topstepx';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultContracts } from '../../src/index';
import { post } from '../helpers';
import { ACCOUNT, Fixtures, LIVE_ACCOUNT, MNQ, POSITION_BRACKETS_ACCOUNT, T0, caught, recordRequests } from './contract-helpers';

const fx = new Fixtures();
afterEach(() => fx.closeAll());

const EXPIRED_MNQ = defaultContracts(T0).find((c) => c.symbolId === 'F.US.MNQ' && !c.activeContract)!.id;
const SINCE = new Date(T0 - 3_600_000).toISOString();

async function setup(options: Parameters<Fixtures['sim']>[0] = {}) {
  const sim = await fx.sim(options);
  const rest = await fx.rest(sim);
  return { sim, rest };
}

function limitBuy(rest: GatewayRestClient, extra: Record<string, unknown> = {}) {
  return rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Limit, side: 0, size: 1, limitPrice: 20990, ...extra });
}

describe('contract: REST client × simulator', () => {
  it('Business errors return HTTP 200 with success:false → GatewayError carrying the endpoint codeName', async () => {
    const { sim, rest } = await setup();
    const seen = recordRequests(sim);
    const err = await caught(rest.contractById('CON.F.US.ZZZ.Z26'));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: TopstepxErrorCode.Gateway, endpoint: 'Contract/searchById', errorCode: 1, codeName: 'ContractNotFound' });
    expect(seen.at(-1)).toEqual({ endpoint: 'Contract/searchById', status: 200 });
    // HTTP errors are reserved for 401/429/400: an invalid v2/query is a 400 ProblemDetails.
    const bad = await caught(rest.queryOrders({ filter: { accountId: ACCOUNT }, pageSize: 0 }));
    expect(bad).toBeInstanceOf(HttpStatusError);
    expect(bad).toMatchObject({ code: TopstepxErrorCode.HttpStatus, status: 400, endpoint: 'Order/v2/query' });
    expect(seen.at(-1)).toEqual({ endpoint: 'Order/v2/query', status: 400 });
  });

  it('Per-endpoint errorCode enums: the same number means different things per endpoint; partial-close codes are shifted', async () => {
    const { rest } = await setup();
    const codeOf = async (p: Promise<unknown>) => {
      const e = await caught(p);
      expect(e).toBeInstanceOf(GatewayError);
      return [e.endpoint, e.errorCode, e.codeName];
    };
    expect(await codeOf(rest.searchOpenOrders(9999))).toEqual(['Order/searchOpen', 1, 'AccountNotFound']);
    expect(await codeOf(rest.orderById(ACCOUNT, 987_654))).toEqual(['Order/searchById', 1, 'OrderNotFound']);
    expect(await codeOf(rest.cancelOrder({ accountId: ACCOUNT, orderId: 987_654 }))).toEqual(['Order/cancel', 2, 'OrderNotFound']);
    expect(await codeOf(rest.placeOrder({ accountId: ACCOUNT, contractId: 'CON.F.US.ZZZ.Z26', type: 2, side: 0, size: 1 }))).toEqual([
      'Order/place',
      8,
      'ContractNotFound',
    ]);
    expect(await codeOf(rest.placeOrder({ accountId: ACCOUNT, contractId: EXPIRED_MNQ, type: 2, side: 0, size: 1 }))).toEqual(['Order/place', 9, 'ContractNotActive']);
    const bars = { contractId: MNQ, live: false, startTime: SINCE, endTime: new Date(T0).toISOString(), unit: 2 as const, unitNumber: 1, includePartialBar: false };
    expect(await codeOf(rest.retrieveBars({ ...bars, limit: 0 }))).toEqual(['History/retrieveBars', 4, 'LimitInvalid']);
    // Same number, different meaning: code 2 is PositionNotFound on both closes…
    expect(await codeOf(rest.closeContract({ accountId: ACCOUNT, contractId: MNQ }))).toEqual(['Position/closeContract', 2, 'PositionNotFound']);
    expect(await codeOf(rest.partialCloseContract({ accountId: ACCOUNT, contractId: MNQ, size: 1 }))).toEqual([
      'Position/partialCloseContract',
      2,
      'PositionNotFound',
    ]);
    // …but code 5 is InvalidCloseSize on partial close, where close's 5 would be OrderRejected.
    await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: 2, side: 0, size: 1 });
    expect(await codeOf(rest.partialCloseContract({ accountId: ACCOUNT, contractId: MNQ, size: 3 }))).toEqual([
      'Position/partialCloseContract',
      5,
      'InvalidCloseSize',
    ]);
  });

  it('401 on a missing/expired token → the client logs in again once and the call succeeds (mutations included)', async () => {
    const { sim, rest } = await setup();
    const before = rest.token;
    const seen = recordRequests(sim);
    sim.faults.expireTokens();
    expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, before)).status).toBe(401);
    seen.length = 0;
    const accounts = await rest.searchAccounts(true);
    expect(accounts?.map((a) => a.id)).toEqual([1001, 1002, 1003]);
    expect(seen).toEqual([
      { endpoint: 'Account/search', status: 401 },
      { endpoint: 'Auth/loginKey', status: 200 },
      { endpoint: 'Account/search', status: 200 },
    ]);
    expect(rest.token).not.toBe(before);

    // The 24 h lifetime on the simulator's clock: the re-issued token expires too, and a place is
    // retried once after re-login (a 401 executed nothing) — exactly one order results.
    sim.clock.now += 24 * 3_600_000 + 1;
    seen.length = 0;
    const id = await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: 1, side: 0, size: 1, limitPrice: 20990, customTag: 'after-401' });
    expect(seen.map((r) => `${r.endpoint} ${r.status}`)).toEqual(['Order/place 401', 'Auth/loginKey 200', 'Order/place 200']);
    expect(sim.orders(ACCOUNT).filter((o) => o['customTag'] === 'after-401').map((o) => o['id'])).toEqual([id]);
  });

  it('Auth/validate returns newToken; the old token stays valid (re-login does not invalidate either)', async () => {
    const { sim, rest } = await setup();
    const old = rest.token!;
    const rotated: string[] = [];
    rest.onTokenChange((t) => rotated.push(t));
    await rest.refreshToken();
    expect(rotated).toHaveLength(1);
    expect(rest.token).toBe(rotated[0]);
    expect(rest.token).not.toBe(old);
    expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, old)).json).toMatchObject({ success: true });
    await rest.login();
    for (const t of [old, rotated[0]]) expect((await post(sim, 'Account/search', { onlyActiveAccounts: true }, t)).status).toBe(200);
    expect((await rest.searchAccounts(false))?.length).toBe(3);
  });

  it('customTag unique per account, rejected orders included: reuse → GatewayError code 2 "custom tag already in use"', async () => {
    const { sim, rest } = await setup();
    await limitBuy(rest, { customTag: 'tag-ok' });
    const reuse = await caught(limitBuy(rest, { customTag: 'tag-ok' }));
    expect(reuse).toBeInstanceOf(GatewayError);
    expect(reuse).toMatchObject({ endpoint: 'Order/place', errorCode: 2, codeName: 'OrderRejected', errorMessage: 'custom tag already in use' });
    // A rejected order consumes its tag too.
    const rejected = await caught(limitBuy(rest, { limitPrice: 20990.1, customTag: 'tag-rejected' }));
    expect(rejected).toMatchObject({ errorCode: 2, errorMessage: 'Invalid limit price. Price is not aligned to tick size.' });
    const again = await caught(limitBuy(rest, { customTag: 'tag-rejected' }));
    expect(again).toMatchObject({ errorCode: 2, codeName: 'OrderRejected', errorMessage: 'custom tag already in use' });
    expect(sim.orders(ACCOUNT).filter((o) => o['customTag'] === 'tag-ok')).toHaveLength(1);
    expect(sim.orders(ACCOUNT).filter((o) => o['customTag'] === 'tag-rejected').map((o) => o['status'])).toEqual([OrderStatus.Rejected]);
  });

  it('A rejected Order/place may still carry a real orderId → GatewayError.orderId is set', async () => {
    const { rest } = await setup();
    const err = await caught(rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: 2, side: 0, size: 0 }));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ errorCode: 2, errorMessage: 'Invalid order size' });
    expect(typeof err.orderId).toBe('number');
    const stored = await rest.orderById(ACCOUNT, err.orderId!);
    expect(stored).toMatchObject({ id: err.orderId, status: OrderStatus.Rejected });
    // A refusal before an order exists carries no id.
    const noId = await caught(rest.placeOrder({ accountId: ACCOUNT, contractId: 'CON.F.US.ZZZ.Z26', type: 2, side: 0, size: 1 }));
    expect(noId.orderId).toBeUndefined();
  });

  it('Bracket rules: Auto OCO only (exact message), signed ticks, SL of type Limit rejected, at least 4 ticks', async () => {
    const { rest } = await setup();
    const msg = async (extra: Record<string, unknown>) => {
      const e = await caught(limitBuy(rest, extra));
      expect(e).toBeInstanceOf(GatewayError);
      expect([e.errorCode, e.codeName]).toEqual([2, 'OrderRejected']);
      return e.errorMessage;
    };
    expect(await msg({ accountId: POSITION_BRACKETS_ACCOUNT, stopLossBracket: { ticks: -10, type: 4 } })).toBe(
      'Brackets cannot be used with Position Brackets. You must enable Auto OCO Brackets.',
    );
    expect(await msg({ stopLossBracket: { ticks: 40, type: 4 } })).toBe('Invalid stop loss ticks (40). Ticks should be less than zero when longing.');
    expect(await msg({ side: 1, limitPrice: 21010, stopLossBracket: { ticks: -40, type: 4 } })).toBe(
      'Invalid stop loss ticks (-40). Ticks should be greater than zero when shorting.',
    );
    expect(await msg({ side: 1, limitPrice: 21010, takeProfitBracket: { ticks: 20, type: 1 } })).toBe(
      'Invalid take profit ticks (20). Ticks should be less than zero when shorting.',
    );
    expect(await msg({ stopLossBracket: { ticks: -10, type: 1 } })).toBe('Invalid stop loss type (Limit)');
    expect(await msg({ stopLossBracket: { ticks: -3, type: 4 } })).toBe('Invalid stop loss ticks (-3). Price should be at least 4 ticks away.');
    const ok = await limitBuy(rest, { stopLossBracket: { ticks: -4, type: 4 }, takeProfitBracket: { ticks: 4, type: 1 } });
    expect(ok).toBeGreaterThan(0);
  });

  it('Bracket children sit in status 8 until the parent fills: searchOpen omits them, v2/query with statuses returns them', async () => {
    const { sim, rest } = await setup();
    const parent = await limitBuy(rest, { stopLossBracket: { ticks: -20, type: 4 }, takeProfitBracket: { ticks: 40, type: 1 } });
    const open = await rest.searchOpenOrders(ACCOUNT);
    expect(open?.map((o) => o.id)).toEqual([parent]);
    const suspended = await rest.queryAllOrders({ accountId: ACCOUNT, statuses: [OrderStatus.Suspended] });
    expect(suspended).toHaveLength(2);
    expect(suspended.every((o) => o.status === OrderStatus.Suspended && o.parentOrderId === parent)).toBe(true);
    expect(suspended.map((o) => o.type).sort()).toEqual([OrderType.Limit, OrderType.Stop]);
    const working = await rest.queryAllOrders({ accountId: ACCOUNT, statuses: [1, 6, 7, 8] });
    expect(working.map((o) => o.id).sort((a, b) => a - b)).toEqual([parent, ...suspended.map((o) => o.id)].sort((a, b) => a - b));
    // The parent fills: the children become Open and searchOpen lists them.
    sim.setPrice(MNQ, 20990);
    const after = await rest.searchOpenOrders(ACCOUNT);
    expect(after?.map((o) => o.id).sort((a, b) => a - b)).toEqual(suspended.map((o) => o.id).sort((a, b) => a - b));
  });

  it('Position/closeContract flattens with a market order but leaves working stops alive (an orphan fills later)', async () => {
    const { sim, rest } = await setup();
    await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Market, side: 0, size: 1 });
    const stop = await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Stop, side: 1, size: 1, stopPrice: 20990 });
    await rest.closeContract({ accountId: ACCOUNT, contractId: MNQ });
    expect(await rest.searchOpenPositions(ACCOUNT)).toEqual([]);
    expect((await rest.searchOpenOrders(ACCOUNT))?.map((o) => o.id)).toEqual([stop]);
    sim.setPrice(MNQ, 20989.75);
    expect(await rest.orderById(ACCOUNT, stop)).toMatchObject({ status: OrderStatus.Filled });
    const [orphan] = (await rest.searchOpenPositions(ACCOUNT)) ?? [];
    expect(orphan).toMatchObject({ contractId: MNQ, type: PositionType.Short, size: 1 });
  });

  it('trailPrice is an absolute level on write but a distance on read', async () => {
    const { rest } = await setup();
    const id = await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.TrailingStop, side: 1, size: 1, trailPrice: 20990 });
    const o = await rest.orderById(ACCOUNT, id);
    // Last 21000.00, level 20990.00 → 40 ticks; read back as 10 points of distance.
    expect(o).toMatchObject({ type: OrderType.TrailingStop, trailPrice: 10, trailDistance: 40, stopPrice: 20990, status: OrderStatus.Open });
    const tooFar = await caught(rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: 5, side: 1, size: 1, trailPrice: 21000 - 1001 * 0.25 }));
    expect(tooFar).toMatchObject({ errorCode: 2, errorMessage: 'Trail Distance exceeds maximum (1000)' });
  });

  it('Position size is always positive; the direction is in type (1 Long, 2 Short)', async () => {
    const { rest } = await setup();
    await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Market, side: 1, size: 2 });
    expect(await rest.searchOpenPositions(ACCOUNT)).toEqual([expect.objectContaining({ contractId: MNQ, type: PositionType.Short, size: 2, averagePrice: 21000 })]);
    await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Market, side: 0, size: 5 });
    expect(await rest.searchOpenPositions(ACCOUNT)).toEqual([expect.objectContaining({ type: PositionType.Long, size: 3, averagePrice: 21000.25 })]);
  });

  it('profitAndLoss is null on opening half-turns and the gross realised P&L on closing ones', async () => {
    const { rest } = await setup();
    await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Market, side: 0, size: 1 });
    await rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Market, side: 1, size: 1 });
    const trades = (await rest.searchTrades({ accountId: ACCOUNT, startTimestamp: SINCE }))!;
    // Bought at the ask 21000.25, sold at the bid 21000.00: −1 tick × $0.50, fees 0.37 per side.
    expect(trades.map((t) => [t.side, t.price, t.profitAndLoss, t.fees])).toEqual([
      [0, 21000.25, null, 0.37],
      [1, 21000, -0.5, 0.37],
    ]);
  });

  it('Order/cancel is refused on a live account with code 6 (AccountRejected)', async () => {
    const { sim, rest } = await setup();
    const id = await rest.placeOrder({ accountId: LIVE_ACCOUNT, contractId: MNQ, type: 1, side: 0, size: 1, limitPrice: 20990 });
    const err = await caught(rest.cancelOrder({ accountId: LIVE_ACCOUNT, orderId: id }));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ endpoint: 'Order/cancel', errorCode: 6, codeName: 'AccountRejected', errorMessage: 'Live accounts not supported' });
    expect(sim.orders(LIVE_ACCOUNT).find((o) => o['id'] === id)?.['status']).toBe(OrderStatus.Open);
  });

  it('Prices are serialised with 9 decimals and parsed exactly into 1e-9 units', async () => {
    const { sim, rest } = await setup();
    const cl = defaultContracts(T0).find((c) => c.symbolId === 'F.US.CLE' && c.activeContract)!.id;
    sim.setPrice(cl, 71.37);
    const id = await rest.placeOrder({ accountId: ACCOUNT, contractId: cl, type: OrderType.Market, side: 0, size: 1 });
    const raw = await post(sim, 'Order/searchById', { accountId: ACCOUNT, orderId: id }, rest.token);
    const wire = /"filledPrice":([0-9.]+)/.exec(raw.text)![1]!;
    // setPrice above the last prints a buy at the ask: ask 71.37, so the market buy fills there.
    expect(wire).toBe('71.370000000');
    const order = (await rest.orderById(ACCOUNT, id))!;
    expect(priceToUnits(order.filledPrice!)).toBe(parseDecimalToUnits(wire, PRICE_SCALE, 'filledPrice'));
    expect(parseDecimalToUnits(wire, PRICE_SCALE, 'filledPrice')).toBe(71_370_000_000);
    const [pos] = (await rest.searchOpenPositions(ACCOUNT))!;
    expect(priceToUnits(pos!.averagePrice)).toBe(71_370_000_000);
  });
});

describe('acceptance: bad input gets what the real API answers, and the simulator keeps serving', () => {
  it('malformed login body → 400; no token → 401; wrong credentials → code 3 InvalidCredentials; then ping and login still work', async () => {
    const sim = await fx.sim();
    const servesAgain = async () => {
      expect((await post(sim, 'Auth/loginKey', { userName: 'demo', apiKey: 'demo-key' })).json).toMatchObject({ success: true, errorCode: 0 });
    };
    const notJson = await post(sim, 'Auth/loginKey', null, null, '{"userName": "demo",');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toMatchObject({ status: 400 });
    await servesAgain();
    const missing = await post(sim, 'Auth/loginKey', { userName: 'demo' });
    expect(missing.status).toBe(400);
    await servesAgain();
    const noToken = await post(sim, 'Account/search', { onlyActiveAccounts: true });
    expect(noToken.status).toBe(401);
    expect(noToken.headers['www-authenticate']).toBe('Bearer');
    await servesAgain();

    const err = await caught(fx.rest(sim, { apiKey: 'not-the-key' }));
    // Auth endpoints surface their business refusal as AuthError (code 3 of the loginKey table).
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: TopstepxErrorCode.Auth, endpoint: 'Auth/loginKey', errorCode: 3, codeName: 'InvalidCredentials' });
    expect(String(err.message)).not.toContain('not-the-key');

    const rest = await fx.rest(sim);
    expect(await rest.ping()).toBe('pong');
    expect((await rest.searchAccounts(true))?.length).toBe(3);
  });
});
