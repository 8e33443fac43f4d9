import { afterEach, describe, expect, it } from 'vitest';
import {
  HubConnection,
  HubError,
  MarketHubClient,
  redactUrl,
  UserHubClient,
  type GatewayQuote,
  type GatewayTrade,
  type GatewayUserOrder,
} from '../src/index';
import { startFakeHubServer, waitUntil, type FakeHubConnection, type FakeHubServer, type HubRecord } from '../src/testing';

const RS = '\x1e';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeHub(options: Parameters<typeof startFakeHubServer>[0] = {}): Promise<FakeHubServer> {
  const s = await startFakeHubServer(options);
  cleanups.push(() => s.close());
  return s;
}

function track<T extends { stop(): Promise<void> }>(c: T): T {
  cleanups.push(() => c.stop());
  return c;
}

const invocations = (records: HubRecord[]): Array<[string, unknown[]]> =>
  records.filter((r) => r.type === 1).map((r) => [r.target!, r.arguments!]);

/** How many invocations of `target` a server connection received. */
const sent = (conn: FakeHubConnection, target: string): number => conn.records.filter((r) => r.type === 1 && r.target === target).length;

describe('HubConnection protocol', () => {
  it('handshakes, connects with the token in the URL, and reports connected', async () => {
    const srv = await fakeHub();
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 'tok-A' }));
    const events: string[] = [];
    hub.on('connected', () => events.push('connected'));
    await hub.start();
    expect(hub.state).toBe('connected');
    expect(events).toEqual(['connected']);
    expect(srv.connections).toHaveLength(1);
    expect(srv.connections[0]!.token).toBe('tok-A');
    expect(srv.connections[0]!.hub).toBe('user');
    expect(hub.redactedUrl).toBe(`${srv.url('user')}?access_token=<redacted>`);
  });

  it('a handshake error rejects start with a HubError', async () => {
    const srv = await fakeHub({ handshakeError: 'Requested protocol is not supported' });
    const hub = track(new HubConnection({ url: srv.url('market'), accessTokenFactory: () => 't' }));
    const err = (await hub.start().catch((e: unknown) => e)) as HubError;
    expect(err).toBeInstanceOf(HubError);
    expect(err.kind).toBe('handshake-failed');
    expect(err.message).toContain('not supported');
    expect(hub.state).toBe('disconnected');
  });

  it('an upgrade refused with 401 rejects start without leaking the token', async () => {
    const srv = await fakeHub({ rejectTokens: ['bad-token-xyz'] });
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 'bad-token-xyz' }));
    const err = (await hub.start().catch((e: unknown) => e)) as HubError;
    expect(err.kind).toBe('handshake-failed');
    expect(err.message).toContain('401');
    expect(err.message).not.toContain('bad-token-xyz');
  });

  it('parses several records in one frame and a record split across frames', async () => {
    const srv = await fakeHub();
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 't' }));
    const got: unknown[] = [];
    hub.on('GatewayUserAccount', (a) => got.push(a));
    await hub.start();
    const conn = srv.live()[0]!;
    const rec = (id: number): string => JSON.stringify({ type: 1, target: 'GatewayUserAccount', arguments: [{ id }] }) + RS;
    srv.sendRaw(conn, rec(1) + `{"type":6}${RS}` + rec(2) + rec(3).slice(0, 20));
    srv.sendRaw(conn, rec(3).slice(20) + rec(4));
    await waitUntil(() => got.length === 4, 'four events');
    expect(got).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
  });

  it('a record that parses to a non-object (null, a number) is dropped without killing the connection', async () => {
    const srv = await fakeHub();
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 't' }));
    const got: unknown[] = [];
    hub.on('GatewayUserAccount', (a) => got.push(a));
    await hub.start();
    const conn = srv.live()[0]!;
    const rec = (id: number): string => JSON.stringify({ type: 1, target: 'GatewayUserAccount', arguments: [{ id }] }) + RS;
    srv.sendRaw(conn, `null${RS}` + rec(1) + `42${RS}`);
    srv.sendRaw(conn, rec(2));
    await waitUntil(() => got.length === 2, 'both events after the junk records');
    expect(got).toEqual([{ id: 1 }, { id: 2 }]);
    expect(hub.state).toBe('connected');
    expect(srv.connections).toHaveLength(1);
  });

  it('invoke resolves on completion and rejects on a completion error; send is fire-and-forget', async () => {
    const srv = await fakeHub({ failMethods: { SubscribeContractDepth: 'Method does not exist.' } });
    const hub = track(new HubConnection({ url: srv.url('market'), accessTokenFactory: () => 't' }));
    await hub.start();
    await expect(hub.invoke('SubscribeContractQuotes', 'CON.F.US.EP.U25')).resolves.toBeNull();
    const err = (await hub.invoke('SubscribeContractDepth', 'X').catch((e: unknown) => e)) as HubError;
    expect(err.kind).toBe('invocation-failed');
    expect(err.message).toContain('Method does not exist');
    hub.send('Whatever', 1, 'two');
    const conn = srv.live()[0]!;
    await waitUntil(() => conn.records.length === 3, 'three records');
    expect(conn.records[0]).toEqual({ type: 1, invocationId: '1', target: 'SubscribeContractQuotes', arguments: ['CON.F.US.EP.U25'] });
    expect(conn.records[2]).toEqual({ type: 1, target: 'Whatever', arguments: [1, 'two'] });
  });

  it('an invoke without completion times out', async () => {
    const srv = await fakeHub();
    srv.autoComplete = false;
    const hub = track(new HubConnection({ url: srv.url('market'), accessTokenFactory: () => 't', invokeTimeoutMs: 100 }));
    await hub.start();
    const err = (await hub.invoke('SubscribeContractQuotes', 'A').catch((e: unknown) => e)) as HubError;
    expect(err.kind).toBe('invocation-timeout');
  });

  it('sends a ping after outbound silence', async () => {
    const srv = await fakeHub();
    let now = 0;
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 't', tickMs: 5, clock: () => now }));
    await hub.start();
    const conn = srv.live()[0]!;
    now = 14_999;
    await new Promise((r) => setTimeout(r, 30));
    expect(conn.records.filter((r) => r.type === 6)).toHaveLength(0);
    now = 15_000;
    await waitUntil(() => conn.records.some((r) => r.type === 6), 'a ping');
    expect(conn.records[0]).toEqual({ type: 6 });
  });

  it('reconnects when the server goes silent past serverTimeoutMs', async () => {
    const srv = await fakeHub();
    let now = 0;
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 't', tickMs: 5, clock: () => now, reconnectDelaysMs: [0] }));
    const events: string[] = [];
    hub.on('reconnecting', (reason) => events.push(`reconnecting:${String(reason)}`));
    hub.on('reconnected', () => events.push('reconnected'));
    await hub.start();
    now = 30_001;
    await waitUntil(() => events.includes('reconnected'), 'reconnect after server timeout');
    expect(events[0]).toBe('reconnecting:server timeout');
    expect(srv.connections).toHaveLength(2);
  });

  it('logs never carry the token', async () => {
    const srv = await fakeHub({ rejectTokens: ['tok-SECRET-1'] });
    const lines: string[] = [];
    const rec = (obj: object, msg?: string): void => {
      lines.push(JSON.stringify(obj) + (msg ?? ''));
    };
    let token = 'tok-SECRET-1';
    const hub = track(
      new HubConnection({ url: srv.url('user'), accessTokenFactory: () => token, reconnectDelaysMs: [0, 5], logger: { debug: rec, info: rec, warn: rec, error: rec } }),
    );
    await hub.start().catch(() => undefined);
    token = 'tok-SECRET-2';
    await hub.start();
    srv.dropAll();
    await waitUntil(() => hub.state === 'connected' && srv.connections.length === 2, 'reconnected');
    expect(lines.some((l) => l.includes('access_token=<redacted>'))).toBe(true);
    expect(lines.join('\n')).not.toContain('tok-SECRET');
  });

  it('a server close message (type 7) leads to a reconnect with subscriptions re-sent', async () => {
    const srv = await fakeHub();
    const hub = track(new HubConnection({ url: srv.url('market'), accessTokenFactory: () => 't', reconnectDelaysMs: [0] }));
    const reasons: unknown[] = [];
    hub.on('reconnecting', (r) => reasons.push(r));
    await hub.start();
    await hub.subscribe('SubscribeContractQuotes', 'A');
    srv.sendRaw(srv.live()[0]!, `{"type":7,"error":"Server is shutting down","allowReconnect":true}${RS}`);
    await waitUntil(() => srv.connections.length === 2 && srv.connections[1]!.records.length === 1, 're-subscribed');
    expect(reasons).toEqual(['server close: Server is shutting down']);
    expect(invocations(srv.connections[1]!.records)).toEqual([['SubscribeContractQuotes', ['A']]]);
  });

  it('redactUrl hides access_token wherever it sits', () => {
    expect(redactUrl('wss://rtc.topstepx.com/hubs/user?access_token=abc.def.ghi')).toBe('wss://rtc.topstepx.com/hubs/user?access_token=<redacted>');
    expect(redactUrl('ws://h/hubs/market?x=1&access_token=SECRET&y=2')).toBe('ws://h/hubs/market?x=1&access_token=<redacted>&y=2');
  });
});

describe('HubConnection reconnects', () => {
  it('re-sends every recorded subscription after the server drops the socket', async () => {
    const srv = await fakeHub();
    const user = track(new UserHubClient({ url: srv.url('user'), accessTokenFactory: () => 't', reconnectDelaysMs: [0, 10] }));
    const events: string[] = [];
    user.connection.on('reconnecting', () => events.push('reconnecting'));
    user.connection.on('reconnected', () => events.push('reconnected'));
    await user.subscribeAccounts(); // recorded before start: sent on connect
    await user.start();
    await user.subscribeOrders(7);
    await user.subscribePositions(7);
    await user.subscribeTrades(8);
    await user.subscribeOrders(7); // duplicate: recorded once
    const expected: Array<[string, unknown[]]> = [
      ['SubscribeAccounts', []],
      ['SubscribeOrders', [7]],
      ['SubscribePositions', [7]],
      ['SubscribeTrades', [8]],
    ];
    expect(invocations(srv.connections[0]!.records)).toEqual(expected);

    srv.dropAll();
    await waitUntil(() => events.includes('reconnected'), 'reconnected');
    expect(events).toEqual(['reconnecting', 'reconnected']);
    expect(srv.connections).toHaveLength(2);
    expect(invocations(srv.connections[1]!.records)).toEqual(expected);

    await user.unsubscribeTrades(8);
    srv.dropAll();
    await waitUntil(() => srv.live().length === 1 && srv.connections.length === 3 && srv.connections[2]!.records.length >= 3, 'second reconnect');
    expect(invocations(srv.connections[2]!.records)).toEqual(expected.slice(0, 3));
  });

  it('a re-subscribe refused at a reconnect is re-sent on the same socket with a back-off until accepted', async () => {
    const options: { failMethods: Record<string, string> } = { failMethods: {} };
    const srv = await fakeHub(options);
    const user = track(new UserHubClient({ url: srv.url('user'), accessTokenFactory: () => 't', reconnectDelaysMs: [0], resubscribeDelaysMs: [10, 20] }));
    let reconnects = 0;
    user.connection.on('reconnected', () => reconnects++);
    await user.start();
    await user.subscribeOrders(7);
    await user.subscribePositions(7);
    options.failMethods['SubscribeOrders'] = "An unexpected error occurred invoking 'SubscribeOrders' on the server.";
    srv.dropAll();
    await waitUntil(() => reconnects === 1, 'first reconnect (re-subscribe refused)');
    const second = srv.connections[1]!;
    await waitUntil(() => sent(second, 'SubscribeOrders') >= 3, 'the refused subscription re-sent on the live socket');
    expect(user.connection.refusedSubscriptions).toEqual([{ method: 'SubscribeOrders', args: [7] }]);
    delete options.failMethods['SubscribeOrders'];
    await waitUntil(() => user.connection.refusedSubscriptions.length === 0, 'accepted on a retry');
    // No reconnect was needed, and only the refused subscription was re-sent.
    expect([reconnects, srv.connections.length, second.closed, sent(second, 'SubscribePositions')]).toEqual([1, 2, false, 1]);
    expect(user.connection.recordedSubscriptions).toEqual([
      { method: 'SubscribeOrders', args: [7] },
      { method: 'SubscribePositions', args: [7] },
    ]);
  });

  it('unsubscribe ends the retries of a refused subscription, and stop ends them all', async () => {
    const srv = await fakeHub({ failMethods: { SubscribeOrders: 'refused', SubscribePositions: 'refused' } });
    const user = track(new UserHubClient({ url: srv.url('user'), accessTokenFactory: () => 't', resubscribeDelaysMs: [10] }));
    // Recorded before start: sent at connect, where a refusal cannot reach the caller.
    await user.subscribeOrders(7);
    await user.subscribePositions(7);
    await user.start();
    const conn = srv.connections[0]!;
    await waitUntil(() => sent(conn, 'SubscribeOrders') >= 2 && sent(conn, 'SubscribePositions') >= 2, 'both refused subscriptions retried');
    await user.unsubscribeOrders(7);
    const orders = sent(conn, 'SubscribeOrders');
    const positions = sent(conn, 'SubscribePositions');
    // Both were retried in one batch: two more batches without SubscribeOrders show its retries ended.
    await waitUntil(() => sent(conn, 'SubscribePositions') >= positions + 2, 'two more retries of the other one');
    expect(sent(conn, 'SubscribeOrders')).toBe(orders);
    expect(user.connection.refusedSubscriptions).toEqual([{ method: 'SubscribePositions', args: [7] }]);
    await user.stop();
    expect(user.connection.refusedSubscriptions).toEqual([]);
  });

  it('a subscribe left unanswered on a live socket is re-sent on it, not only at the next reconnect', async () => {
    const srv = await fakeHub();
    srv.autoComplete = false;
    const market = track(new MarketHubClient({ url: srv.url('market'), accessTokenFactory: () => 't', staleAfterMs: 0, invokeTimeoutMs: 50, resubscribeDelaysMs: [10] }));
    await market.start();
    await market.subscribeQuotes('A');
    expect(market.connection.refusedSubscriptions).toEqual([{ method: 'SubscribeContractQuotes', args: ['A'] }]);
    srv.autoComplete = true;
    await waitUntil(() => market.connection.refusedSubscriptions.length === 0, 'answered on a retry');
    expect(srv.connections).toHaveLength(1);
    expect(sent(srv.connections[0]!, 'SubscribeContractQuotes')).toBeGreaterThanOrEqual(2);
  });

  it('reconnectWithFreshToken rebuilds the URL with the new token and re-subscribes', async () => {
    const srv = await fakeHub();
    let token = 'tok-1';
    const market = track(new MarketHubClient({ url: srv.url('market'), accessTokenFactory: () => token, staleAfterMs: 0 }));
    await market.start();
    await market.subscribeQuotes('CON.F.US.EP.U25');
    await market.subscribeTrades('CON.F.US.EP.U25');
    await market.subscribeDepth('CON.F.US.ENQ.U25');
    const reconnected = new Promise<void>((resolve) => market.connection.on('reconnected', () => resolve()));
    token = 'tok-2';
    market.reconnectWithFreshToken();
    await reconnected;
    expect(srv.connections.map((c) => c.token)).toEqual(['tok-1', 'tok-2']);
    expect(srv.connections[0]!.closed).toBe(true);
    expect(invocations(srv.connections[1]!.records)).toEqual([
      ['SubscribeContractQuotes', ['CON.F.US.EP.U25']],
      ['SubscribeContractTrades', ['CON.F.US.EP.U25']],
      ['SubscribeContractMarketDepth', ['CON.F.US.ENQ.U25']],
    ]);
  });

  it('a server that drops each connection right after it is made is not hammered: the backoff keeps growing', async () => {
    const srv = await fakeHub();
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 't', reconnectDelaysMs: [0, 60_000] }));
    await hub.start();
    srv.dropAll();
    await waitUntil(() => srv.live().length === 1 && srv.connections.length === 2, 'first reconnect, at once');
    srv.dropAll(); // the new connection dies within milliseconds: not a reason to start the backoff over
    await waitUntil(() => srv.connections[1]!.closed, 'second connection dropped');
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.connections).toHaveLength(2);
    expect(hub.state).toBe('reconnecting');
    hub.reconnectWithFreshToken(); // cuts the 60 s wait short: the client was backing off, not dead
    await waitUntil(() => hub.state === 'connected' && srv.connections.length === 3, 'reconnected after the cut-short wait');
  });

  it('keeps retrying while the server refuses, then recovers', async () => {
    const srv = await fakeHub({ rejectTokens: ['expired'] });
    let token = 'good';
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => token, reconnectDelaysMs: [0, 5] }));
    await hub.start();
    token = 'expired';
    srv.dropAll();
    await waitUntil(() => hub.state === 'reconnecting', 'reconnecting');
    await new Promise((r) => setTimeout(r, 50));
    expect(hub.state).toBe('reconnecting');
    token = 'good-2';
    await waitUntil(() => hub.state === 'connected', 'recovered');
    expect(srv.connections.at(-1)!.token).toBe('good-2');
  });

  it('retryFirstConnect keeps retrying a refused first connect; start resolves once accepted, subscriptions sent', async () => {
    const srv = await fakeHub({ rejectTokens: ['expired'] });
    let token = 'expired';
    let attempts = 0;
    const accessTokenFactory = (): string => {
      attempts++;
      return token;
    };
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory, reconnectDelaysMs: [0, 5], retryFirstConnect: true }));
    const events: string[] = [];
    hub.on('connected', () => events.push('connected'));
    await hub.subscribe('SubscribeAccounts');
    let started = false;
    const starting = hub.start().then(() => {
      started = true;
    });
    await waitUntil(() => attempts >= 3, 'three refused attempts');
    expect([started, hub.state, events]).toEqual([false, 'connecting', []]);
    token = 'good';
    await starting;
    expect([hub.state, events, srv.connections.length]).toEqual(['connected', ['connected'], 1]);
    expect(invocations(srv.connections[0]!.records)).toEqual([['SubscribeAccounts', []]]);
  });

  it('retryFirstConnect: stop() ends the wait at once and start rejects with stopped; a later start connects', async () => {
    const srv = await fakeHub({ rejectTokens: ['expired'] });
    let token = 'expired';
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: (_o: object, m?: string) => void warnings.push(m ?? ''), error: () => undefined };
    const hub = track(new HubConnection({ url: srv.url('market'), accessTokenFactory: () => token, reconnectDelaysMs: [0, 600_000], retryFirstConnect: true, logger }));
    const starting = hub.start().catch((e: unknown) => e);
    await waitUntil(() => warnings.includes('hub connect failed; retrying until connected or stopped'), 'the first attempt refused');
    // The wait is ten minutes: start settles within the test's timeout only if stop() cuts it short.
    await hub.stop();
    const err = (await starting) as HubError;
    expect(err).toBeInstanceOf(HubError);
    expect([err.kind, hub.state, srv.connections.length]).toEqual(['stopped', 'disconnected', 0]);
    token = 'good';
    await hub.start();
    expect([hub.state, srv.live().length]).toEqual(['connected', 1]);
  });

  it('without retryFirstConnect a refused first connect still rejects start', async () => {
    const srv = await fakeHub({ rejectTokens: ['expired'] });
    const hub = track(new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 'expired', reconnectDelaysMs: [0, 5] }));
    const err = (await hub.start().catch((e: unknown) => e)) as HubError;
    expect([err.kind, hub.state]).toEqual(['handshake-failed', 'disconnected']);
  });

  it('refuses an empty or negative resubscribeDelaysMs', () => {
    expect(() => new HubConnection({ url: 'ws://127.0.0.1:1/hubs/user', accessTokenFactory: () => 't', resubscribeDelaysMs: [] })).toThrow(RangeError);
    expect(() => new HubConnection({ url: 'ws://127.0.0.1:1/hubs/user', accessTokenFactory: () => 't', resubscribeDelaysMs: [10, -1] })).toThrow(/resubscribeDelaysMs/);
  });

  it('stop rejects pending invocations and fires disconnected', async () => {
    const srv = await fakeHub();
    srv.autoComplete = false;
    const hub = new HubConnection({ url: srv.url('user'), accessTokenFactory: () => 't' });
    const events: string[] = [];
    hub.on('disconnected', () => events.push('disconnected'));
    await hub.start();
    const p = hub.invoke('SubscribeAccounts').catch((e: unknown) => e);
    await hub.stop();
    expect(((await p) as HubError).kind).toBe('stopped');
    expect(events).toEqual(['disconnected']);
    expect(hub.state).toBe('disconnected');
    await waitUntil(() => srv.connections[0]!.closed, 'server saw close');
    expect(() => hub.send('X')).toThrow(HubError);
  });
});

describe('MarketHubClient', () => {
  it('merges sparse quotes per contract: a missing field keeps its value', async () => {
    const srv = await fakeHub();
    const market = track(new MarketHubClient({ url: srv.url('market'), accessTokenFactory: () => 't', staleAfterMs: 0 }));
    const seen: Array<[string, GatewayQuote, GatewayQuote]> = [];
    market.onQuote((cid, q, d) => seen.push([cid, { ...q }, d]));
    await market.start();
    await market.subscribeQuotes('A');
    srv.emit('GatewayQuote', ['A', { symbol: 'F.US.EP', lastPrice: 6335.25, bestBid: 6335, bestAsk: 6335.25, volume: 10 }]);
    srv.emit('GatewayQuote', ['A', { bestBid: 6335.25 }]);
    srv.emit('GatewayQuote', ['B', { lastPrice: 100 }]);
    srv.emit('GatewayQuote', ['A', { lastPrice: 6335.5, bestAsk: null, volume: 12 }]);
    await waitUntil(() => seen.length === 4, 'four quotes');
    expect(seen[1]).toEqual(['A', { symbol: 'F.US.EP', lastPrice: 6335.25, bestBid: 6335.25, bestAsk: 6335.25, volume: 10 }, { bestBid: 6335.25 }]);
    expect(seen[2]![1]).toEqual({ lastPrice: 100 });
    expect(market.quote('A')).toEqual({ symbol: 'F.US.EP', lastPrice: 6335.5, bestBid: 6335.25, bestAsk: 6335.25, volume: 12 });
  });

  it('flattens array payloads and skips null entries', async () => {
    const srv = await fakeHub();
    const market = track(new MarketHubClient({ url: srv.url('market'), accessTokenFactory: () => 't', staleAfterMs: 0 }));
    const trades: Array<[string, GatewayTrade]> = [];
    const depth: number[] = [];
    market.onTrade((cid, t) => trades.push([cid, t]));
    market.onDepth((_cid, d) => depth.push(d.price));
    await market.start();
    const t1 = { symbolId: 'F.US.EP', price: 6335.25, timestamp: '2025-07-18T21:00:01Z', type: 0, volume: 2 };
    const t2 = { ...t1, price: 6335.5, type: 1, volume: 1 };
    srv.emit('GatewayTrade', ['A', [t1, null, t2]]);
    srv.emit('GatewayTrade', ['A', t1]);
    srv.emit('GatewayDepth', ['A', [null, { timestamp: 'x', type: 2, price: 6335, volume: 5, currentVolume: 5 }]]);
    await waitUntil(() => trades.length === 3 && depth.length === 1, 'trades and depth');
    expect(trades.map(([c, t]) => [c, t.price])).toEqual([
      ['A', 6335.25],
      ['A', 6335.5],
      ['A', 6335.25],
    ]);
    expect(depth).toEqual([6335]);
  });

  it('a throwing trade handler is logged and does not stop the other handlers nor the next entries', async () => {
    const srv = await fakeHub();
    const errors: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (_o: object, m?: string) => errors.push(m ?? '') };
    const market = track(new MarketHubClient({ url: srv.url('market'), accessTokenFactory: () => 't', staleAfterMs: 0, logger }));
    const seen: number[] = [];
    market.onTrade((_cid, t) => {
      if (t.volume === 2) throw new Error('boom');
    });
    market.onTrade((_cid, t) => seen.push(t.volume));
    await market.start();
    const t = { symbolId: 'F.US.EP', price: 6335.25, timestamp: '2025-07-18T21:00:01Z', type: 0, volume: 1 };
    srv.emit('GatewayTrade', ['A', [t, { ...t, volume: 2 }, { ...t, volume: 3 }]]);
    srv.emit('GatewayTrade', ['A', { ...t, volume: 2 }]);
    await waitUntil(() => seen.length === 4, 'four trades');
    expect(seen).toEqual([1, 2, 3, 2]);
    expect(errors).toEqual(['market hub handler threw', 'market hub handler threw']);
  });

  it('frameArrivedAt is the arrival of the message being dispatched, shared by every trade it carries', async () => {
    const srv = await fakeHub();
    const market = track(new MarketHubClient({ url: srv.url('market'), accessTokenFactory: () => 't', staleAfterMs: 0 }));
    expect(market.frameArrivedAt).toBe(0);
    const stamps: Array<[number, number, number]> = [];
    market.onTrade((_cid, t) => stamps.push([t.volume, market.frameArrivedAt, performance.now()]));
    await market.start();
    const t = { symbolId: 'F.US.EP', price: 6335.25, timestamp: '2025-07-18T21:00:01Z', type: 0, volume: 1 };
    const before = performance.now();
    srv.emit('GatewayTrade', ['A', [t, { ...t, volume: 2 }]]);
    await waitUntil(() => stamps.length === 2, 'first message');
    srv.emit('GatewayTrade', ['A', { ...t, volume: 3 }]);
    await waitUntil(() => stamps.length === 3, 'second message');
    const [a, b, c] = stamps as [[number, number, number], [number, number, number], [number, number, number]];
    expect(a[1]).toBeGreaterThan(before);
    expect(b[1]).toBe(a[1]);
    expect(c[1]).toBeGreaterThan(a[1]);
    for (const [, arrived, handled] of stamps) expect(arrived).toBeLessThanOrEqual(handled);
  });

  it('flags a silent contract stale while pings keep the socket alive, and fresh when data returns', async () => {
    const srv = await fakeHub();
    let now = 1_000;
    const market = track(
      new MarketHubClient({ url: srv.url('market'), accessTokenFactory: () => 't', clock: () => now, staleAfterMs: 5_000, staleCheckEveryMs: 5, tickMs: 5 }),
    );
    const stale: Array<[string, number]> = [];
    const fresh: string[] = [];
    market.onStale((cid, ms) => stale.push([cid, ms]));
    market.onFresh((cid) => fresh.push(cid));
    await market.start();
    await market.subscribeQuotes('QUIET');
    await market.subscribeTrades('BUSY');
    const conn = srv.live()[0]!;

    now = 4_000;
    srv.sendRaw(conn, `{"type":6}${RS}`);
    srv.emit('GatewayTrade', ['BUSY', { symbolId: 'F.US.X', price: 1, timestamp: 't', type: 0, volume: 1 }]);
    await waitUntil(() => conn.records.length >= 2, 'subscriptions done');
    await new Promise((r) => setTimeout(r, 30));
    expect(stale).toEqual([]);

    now = 6_500; // QUIET silent 5 500 ms; BUSY 2 500 ms. The server keeps pinging: socket alive.
    srv.sendRaw(conn, `{"type":6}${RS}`);
    await waitUntil(() => stale.length === 1, 'stale flag');
    expect(stale[0]).toEqual(['QUIET', 5_500]);
    expect(market.isStale('QUIET')).toBe(true);
    expect(market.isStale('BUSY')).toBe(false);
    expect(market.connection.state).toBe('connected');

    srv.emit('GatewayQuote', ['QUIET', { lastPrice: 5 }]);
    await waitUntil(() => fresh.length === 1, 'fresh');
    expect(fresh).toEqual(['QUIET']);
    expect(market.isStale('QUIET')).toBe(false);
    await new Promise((r) => setTimeout(r, 30));
    expect(stale).toHaveLength(1);
  });
});

describe('UserHubClient', () => {
  it('unwraps {action,data}, arrays and bare entities', async () => {
    const srv = await fakeHub();
    const user = track(new UserHubClient({ url: srv.url('user'), accessTokenFactory: () => 't' }));
    const orders: Array<[number, number | undefined]> = [];
    const positions: number[] = [];
    user.onOrder((o: GatewayUserOrder, action) => orders.push([o.id, action]));
    user.onPosition((p) => positions.push(p.size));
    await user.start();
    const order = (id: number): Partial<GatewayUserOrder> => ({ id, accountId: 7, status: 1 });
    srv.emit('GatewayUserOrder', [order(1)]);
    srv.emit('GatewayUserOrder', [{ action: 1, data: order(2) }]);
    srv.emit('GatewayUserOrder', [[order(3), null, { action: 0, data: order(4) }]]);
    srv.emit('GatewayUserPosition', [{ action: 2, data: { id: 9, size: 0 } }]);
    await waitUntil(() => orders.length === 4 && positions.length === 1, 'events');
    expect(orders).toEqual([
      [1, undefined],
      [2, 1],
      [3, undefined],
      [4, 0],
    ]);
    expect(positions).toEqual([0]);
  });

  it('refuses a bad accountId naming the field', async () => {
    const srv = await fakeHub();
    const user = track(new UserHubClient({ url: srv.url('user'), accessTokenFactory: () => 't' }));
    expect(() => user.subscribeOrders(-1)).toThrow(/accountId/);
  });
});
