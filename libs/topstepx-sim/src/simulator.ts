// The simulator process in one object: one node:http server on a loopback port carrying REST
// (/api/...), the admin endpoint (/admin/...) and both hubs (WebSocket upgrades on /hubs/...).
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Broker, accountView, orderView, positionView, tradeView, userOrderView } from './broker';
import { parsePrice, stringify } from './fixed';
import { Hubs, type HubKind, type UserTarget } from './hub';
import { Market, parseReplayCsv } from './market';
import {
  DEFAULT_BARS_LIMIT,
  DEFAULT_FAULTS,
  DEFAULT_GENERAL_LIMIT,
  contractRuntime,
  defaultAccounts,
  defaultContracts,
  type ContractRuntime,
  type FaultSettings,
  type FillEventKind,
  type SimulatorOptions,
} from './options';
import { SlidingWindow } from './rate-limit';
import { ROUTES, TokenStore, problem, validationProblem, type Body, type Reply, type RestContext } from './rest';
import { createRng } from './rng';

/** A patch for the fault switches plus one-shot actions. */
export interface FaultPatch extends Partial<FaultSettings> {
  /** Drop every hub socket now. */
  disconnectHubs?: boolean;
  /** Expire every token issued so far. */
  expireTokens?: boolean;
  /** Clear every fault back to the defaults (applied before the other fields). */
  reset?: boolean;
}

export interface FaultController {
  current(): FaultSettings;
  set(patch: FaultPatch): FaultSettings;
  reset(): FaultSettings;
  disconnectHubs(): void;
  expireTokens(): void;
}

/** Gateway-shaped views (prices as JS numbers in dollars) handed to event listeners. */
export type GatewayView = Record<string, unknown>;

export interface SimulatorEvents {
  order: [GatewayView];
  trade: [GatewayView];
  position: [GatewayView];
  account: [GatewayView];
  request: [{ endpoint: string; status: number }];
  hubConnection: [{ hub: HubKind; connected: boolean }];
  hubInvocation: [{ hub: HubKind; target: string; args: unknown[] }];
}

export interface Simulator {
  readonly url: string;
  readonly port: number;
  readonly userHubUrl: string;
  readonly marketHubUrl: string;
  readonly faults: FaultController;
  /** The accepted login; assign to change it at run time. */
  credentials: { userName: string; apiKey: string };
  /** Move a contract's market to `price` (dollars) now: one trade there, matching, bars, hub events. */
  setPrice(contractId: string, price: number): void;
  /** Generate `count` seeded trades on a contract synchronously (deterministic tests). */
  step(contractId: string, count: number): void;
  /** Last / bid / ask in dollars. */
  quote(contractId: string): { last: number; bid: number; ask: number };
  /** The simulator's own order list for an account (every order ever placed, rejected included). */
  orders(accountId: number): GatewayView[];
  positions(accountId: number): GatewayView[];
  trades(accountId: number): GatewayView[];
  account(accountId: number): GatewayView | null;
  /** Enable or disable both rate-limit buckets. */
  setRateLimits(enabled: boolean): void;
  /** Open hub connections. */
  hubConnections(hub?: HubKind): number;
  on<K extends keyof SimulatorEvents>(event: K, listener: (...args: SimulatorEvents[K]) => void): this;
  off<K extends keyof SimulatorEvents>(event: K, listener: (...args: SimulatorEvents[K]) => void): this;
  once<K extends keyof SimulatorEvents>(event: K, listener: (...args: SimulatorEvents[K]) => void): this;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

class SimulatorImpl extends EventEmitter implements Simulator {
  url = '';
  port = 0;
  userHubUrl = '';
  marketHubUrl = '';
  readonly faults: FaultController;
  private readonly server: Server;
  readonly market: Market;
  readonly broker: Broker;
  private readonly hubs: Hubs;
  private readonly ctx: RestContext;
  private readonly contracts: ContractRuntime[];
  private fault: FaultSettings;
  private readonly faultRng: () => number;
  private limits: { bars: SlidingWindow; general: SlidingWindow };
  private limitsOn: boolean;
  private readonly held = new Set<ServerResponse>();
  /** Timers of the answerDelay / fillDelay / userEventGap faults, cleared on close. */
  private readonly timers = new Set<NodeJS.Timeout>();
  /** User-hub events waiting for their turn under userEventGapMs: [target, accountId, action, json]. */
  private readonly userOutbox: Array<[UserTarget, number, number, string]> = [];
  private outboxTimer: NodeJS.Timeout | null = null;
  /** Orders that already had their first user-hub event (decides the wrapper's action). */
  private readonly announcedOrders = new WeakSet<object>();
  private closed = false;

  constructor(private readonly options: SimulatorOptions) {
    super();
    const clock = options.clock ?? (() => Date.now());
    const seed = options.seed ?? 1;
    this.contracts = (options.contracts ?? defaultContracts(clock())).map(contractRuntime);
    const mo = options.market ?? {};
    const replay = mo.replayCsv !== undefined ? parseReplayCsv(mo.replayCsv) : null;
    this.market = new Market(this.contracts, {
      seed,
      clock,
      tradesPerSecond: mo.tradesPerSecond ?? 2,
      tickIntervalMs: mo.tickIntervalMs ?? 50,
      moveProbability: mo.moveProbability ?? 0.3,
      historyDays: mo.historyDays ?? 5,
      secondBarWindow: mo.secondBarWindow ?? 14_400,
      replay,
      replaySpeed: mo.replaySpeed ?? 1,
    });
    this.broker = new Broker(options.accounts ?? defaultAccounts(), this.market.byId, clock, Math.max(1, Math.floor(options.partialFillChunks ?? 1)), {
      order: (o) => {
        // The first event of an order is "add" (0), every later one "update" (1). Timestamps cannot
        // tell: a market order fills in the same millisecond it is created (and test clocks stand still).
        const action = this.announcedOrders.has(o) ? 1 : 0;
        this.announcedOrders.add(o);
        if (this.sendsUser('GatewayUserOrder', o.accountId)) {
          this.publishUser('GatewayUserOrder', o.accountId, action, stringify(userOrderView(o)));
        }
        if (this.listenerCount('order') > 0) this.emit('order', orderView(o, true));
      },
      trade: (t) => {
        if (this.sendsUser('GatewayUserTrade', t.accountId)) this.publishUser('GatewayUserTrade', t.accountId, 0, stringify(tradeView(t)));
        if (this.listenerCount('trade') > 0) this.emit('trade', JSON.parse(stringify(tradeView(t))) as GatewayView);
      },
      position: (p) => {
        if (this.sendsUser('GatewayUserPosition', p.accountId)) {
          this.publishUser('GatewayUserPosition', p.accountId, p.size === 0 ? 2 : 1, stringify(positionView(p)));
        }
        if (this.listenerCount('position') > 0) this.emit('position', JSON.parse(stringify(positionView(p))) as GatewayView);
      },
      account: (a) => {
        if (this.sendsUser('GatewayUserAccount', a.id)) this.publishUser('GatewayUserAccount', a.id, 1, stringify(accountView(a)));
        if (this.listenerCount('account') > 0) this.emit('account', JSON.parse(stringify(accountView(a))) as GatewayView);
      },
    }, {
      fillDelayMs: () => this.fault.fillDelayMs,
      fillEventOrder: () => this.fault.fillEventOrder,
      defer: (fn, ms) => this.later(fn, ms),
    });
    this.market.onTrade = (m, price) => this.broker.onTrade(m, price);
    this.market.onFlush = (m, trades, quote) => {
      const depthChanged = quote !== null && (quote.includes('"bestBid"') || quote.includes('"bestAsk"'));
      this.hubs.publishMarket(m.contract.id, trades, quote, depthChanged ? this.market.depth(m) : null);
    };
    const ho = options.hub ?? {};
    this.hubs = new Hubs(
      {
        pingIntervalMs: ho.pingIntervalMs ?? 15_000,
        clientTimeoutMs: ho.clientTimeoutMs ?? 30_000,
        wrapUserEvents: ho.wrapUserEvents ?? false,
        tradeBatching: mo.tradeBatching ?? 'array',
        nullEntries: mo.nullEntries ?? false,
      },
      {
        authenticate: (token) => this.ctx.tokens.valid(token),
        quoteSnapshot: (id) => {
          const m = this.market.byId.get(id);
          return m ? this.market.fullQuote(m) : null;
        },
        depthSnapshot: (id) => {
          const m = this.market.byId.get(id);
          return m ? this.market.depth(m) : null;
        },
        marketFrozen: () => this.fault.feedFrozen,
        onConnection: (hub, connected) => {
          if (this.listenerCount('hubConnection') > 0) this.emit('hubConnection', { hub, connected });
        },
        onInvocation: (hub, target, args) => {
          if (this.listenerCount('hubInvocation') > 0) this.emit('hubInvocation', { hub, target, args });
        },
      },
    );
    this.ctx = {
      broker: this.broker,
      market: this.market,
      contracts: this.contracts,
      clock,
      credentials: { ...(options.credentials ?? { userName: 'demo', apiKey: 'demo-key' }) },
      tokens: new TokenStore(clock, options.tokenLifetimeMs ?? 24 * 3_600_000),
    };
    this.fault = freshFaults();
    this.faultRng = createRng(seed ^ 0x5eed);
    const rl = options.rateLimits;
    this.limitsOn = rl !== false;
    const barsSpec = typeof rl === 'object' && rl.bars ? rl.bars : DEFAULT_BARS_LIMIT;
    const generalSpec = typeof rl === 'object' && rl.general ? rl.general : DEFAULT_GENERAL_LIMIT;
    this.limits = { bars: new SlidingWindow(barsSpec.limit, barsSpec.windowMs), general: new SlidingWindow(generalSpec.limit, generalSpec.windowMs) };
    this.faults = {
      current: () => ({
        ...this.fault,
        latencyByEndpoint: { ...this.fault.latencyByEndpoint },
        answerDelayByEndpoint: { ...this.fault.answerDelayByEndpoint },
        fillEventOrder: this.fault.fillEventOrder === null ? null : [...this.fault.fillEventOrder],
      }),
      set: (patch) => this.applyFaults(patch),
      reset: () => this.applyFaults({ reset: true }),
      disconnectHubs: () => this.hubs.dropAll(),
      expireTokens: () => this.ctx.tokens.expireAll(),
    };
    if (options.faults) this.applyFaults(options.faults);
    this.server = createServer({ keepAlive: true, noDelay: true }, (req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 65_000;
    this.server.on('upgrade', (req, socket, head) => this.hubs.handleUpgrade(req, socket, head));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    const h = host.includes(':') ? `[${host}]` : host;
    this.url = `http://${h}:${this.port}`;
    this.userHubUrl = `${this.url}/hubs/user`;
    this.marketHubUrl = `${this.url}/hubs/market`;
    this.market.start();
  }

  get credentials(): { userName: string; apiKey: string } {
    return this.ctx.credentials;
  }
  set credentials(c: { userName: string; apiKey: string }) {
    this.ctx.credentials = { userName: c.userName, apiKey: c.apiKey };
  }

  /** Runs `fn` after `ms` unless the simulator closed first. */
  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  /** A user-hub event: out after this turn, or through the outbox, one per userEventGapMs. */
  private publishUser(target: UserTarget, accountId: number, action: number, json: string): void {
    if (this.outboxTimer === null && this.userOutbox.length === 0 && this.fault.userEventGapMs <= 0) {
      this.hubs.publishUser(target, accountId, action, json);
      return;
    }
    this.userOutbox.push([target, accountId, action, json]);
    if (this.outboxTimer === null) this.drainOutbox();
  }

  /**
   * Sends the oldest outbox event and waits userEventGapMs before the next one, also one produced later (the gap
   * set back to 0: everything waiting goes at once).
   */
  private drainOutbox(): void {
    this.outboxTimer = null;
    if (this.closed) return;
    const gap = this.fault.userEventGapMs;
    if (gap <= 0) {
      for (const e of this.userOutbox.splice(0)) this.hubs.publishUser(...e);
      return;
    }
    const next = this.userOutbox.shift();
    if (next === undefined) return;
    this.hubs.publishUser(...next);
    this.outboxTimer = setTimeout(() => this.drainOutbox(), gap);
  }

  /**
   * Whether a user-hub event goes out: someone subscribed to it, and the userEventsDropped fault does not
   * swallow it (each swallowed event counts once, however many connections wanted it).
   */
  private sendsUser(target: UserTarget, accountId: number): boolean {
    if (!this.hubs.wantsUser(target, accountId)) return false;
    if (this.fault.userEventsDropped > 0) {
      this.fault.userEventsDropped--;
      return false;
    }
    return true;
  }

  private applyFaults(patch: FaultPatch): FaultSettings {
    if (patch.reset) this.fault = freshFaults();
    const f = this.fault;
    const count = (k: keyof FaultSettings, v: unknown) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`faults.${k} must be a number >= 0`);
      return v;
    };
    if (patch.latencyMs !== undefined) f.latencyMs = count('latencyMs', patch.latencyMs);
    if (patch.latencyByEndpoint !== undefined) {
      if (patch.latencyByEndpoint === null || typeof patch.latencyByEndpoint !== 'object') throw new TypeError('faults.latencyByEndpoint must be an object');
      for (const [k, v] of Object.entries(patch.latencyByEndpoint)) f.latencyByEndpoint[k] = count('latencyByEndpoint', v);
    }
    if (patch.rateLimitBurst !== undefined) f.rateLimitBurst = Math.floor(count('rateLimitBurst', patch.rateLimitBurst));
    if (patch.serverErrors !== undefined) f.serverErrors = Math.floor(count('serverErrors', patch.serverErrors));
    if (patch.serverErrorProbability !== undefined) {
      const p = count('serverErrorProbability', patch.serverErrorProbability);
      if (p > 1) throw new TypeError('faults.serverErrorProbability must be in [0, 1]');
      f.serverErrorProbability = p;
    }
    if (patch.placeTimeouts !== undefined) f.placeTimeouts = Math.floor(count('placeTimeouts', patch.placeTimeouts));
    if (patch.placeTimeoutMode !== undefined) {
      if (patch.placeTimeoutMode !== 'hang' && patch.placeTimeoutMode !== 'reset') throw new TypeError("faults.placeTimeoutMode must be 'hang' or 'reset'");
      f.placeTimeoutMode = patch.placeTimeoutMode;
    }
    if (patch.feedFrozen !== undefined) {
      if (typeof patch.feedFrozen !== 'boolean') throw new TypeError('faults.feedFrozen must be a boolean');
      f.feedFrozen = patch.feedFrozen;
    }
    if (patch.userEventsDropped !== undefined) f.userEventsDropped = Math.floor(count('userEventsDropped', patch.userEventsDropped));
    if (patch.answerDelayMs !== undefined) f.answerDelayMs = count('answerDelayMs', patch.answerDelayMs);
    if (patch.answerDelayByEndpoint !== undefined) {
      if (patch.answerDelayByEndpoint === null || typeof patch.answerDelayByEndpoint !== 'object') throw new TypeError('faults.answerDelayByEndpoint must be an object');
      for (const [k, v] of Object.entries(patch.answerDelayByEndpoint)) f.answerDelayByEndpoint[k] = count('answerDelayByEndpoint', v);
    }
    if (patch.fillDelayMs !== undefined) f.fillDelayMs = count('fillDelayMs', patch.fillDelayMs);
    if (patch.fillEventOrder !== undefined) f.fillEventOrder = fillEventOrder(patch.fillEventOrder);
    if (patch.userEventGapMs !== undefined) f.userEventGapMs = count('userEventGapMs', patch.userEventGapMs);
    if (patch.expireTokens === true) this.ctx.tokens.expireAll();
    if (patch.disconnectHubs === true) this.hubs.dropAll();
    return this.faults.current();
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    if (path.length > 5 && path.charCodeAt(1) === 97 /* a */ && path.startsWith('/api/')) {
      const key = path.slice(5).toLowerCase();
      if (key === 'status/ping') {
        if (req.method !== 'GET') return send(res, { status: 405, body: '' });
        req.resume();
        return send(res, { status: 200, body: 'pong', contentType: 'text/plain; charset=utf-8' });
      }
      const route = ROUTES[key];
      if (!route) {
        req.resume();
        return send(res, { status: 404, body: '' });
      }
      if (req.method !== 'POST') {
        req.resume();
        return send(res, { status: 405, body: '' });
      }
      readBody(req, (raw) => {
        const delay = this.fault.latencyByEndpoint[route.name] ?? this.fault.latencyMs;
        if (delay > 0) setTimeout(() => this.handleApi(req, res, route, raw), delay);
        else this.handleApi(req, res, route, raw);
      });
      return;
    }
    if (path.startsWith('/admin/')) {
      readBody(req, (raw) => this.handleAdmin(req, res, path.slice(7), rawUrl, raw));
      return;
    }
    req.resume();
    send(res, { status: 404, body: '' });
  }

  private handleApi(req: IncomingMessage, res: ServerResponse, route: (typeof ROUTES)[string], raw: string | null): void {
    if (this.closed) return;
    const reply = this.apiReply(req, route, raw);
    if (route.name === 'Order/place' && reply.status === 200 && this.fault.placeTimeouts > 0) {
      // Accepted and processed, but the caller never learns it: the ambiguous outcome.
      this.fault.placeTimeouts--;
      if (this.fault.placeTimeoutMode === 'reset') req.socket.destroy();
      else {
        this.held.add(res);
        res.on('close', () => this.held.delete(res));
      }
      this.report(route.name, 0);
      return;
    }
    const hold = this.fault.answerDelayByEndpoint[route.name] ?? this.fault.answerDelayMs;
    if (hold > 0) {
      // Processed now (order matched, hub events on their way); the caller learns it later.
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      this.later(() => {
        this.held.delete(res);
        if (res.destroyed || res.writableEnded) return;
        send(res, reply);
        this.report(route.name, reply.status);
      }, hold);
      return;
    }
    send(res, reply);
    this.report(route.name, reply.status);
  }

  private apiReply(req: IncomingMessage, route: (typeof ROUTES)[string], raw: string | null): Reply {
    if (raw === null) return { status: 413, body: '' };
    const f = this.fault;
    if (f.rateLimitBurst > 0) {
      f.rateLimitBurst--;
      return { status: 429, body: '', headers: { 'retry-after': '1' } };
    }
    if (this.limitsOn) {
      const wait = this.limits[route.bucket].take(this.ctx.clock());
      if (wait > 0) return { status: 429, body: '', headers: { 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))) } };
    }
    if (f.serverErrors > 0) {
      f.serverErrors--;
      return problem(500, 'An error occurred while processing your request.');
    }
    if (f.serverErrorProbability > 0 && this.faultRng() < f.serverErrorProbability) return problem(500, 'An error occurred while processing your request.');
    let token: string | null = null;
    const auth = req.headers.authorization;
    if (auth !== undefined && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') token = auth.slice(7).trim();
    if (route.auth && !this.ctx.tokens.valid(token)) return { status: 401, body: '', headers: { 'www-authenticate': 'Bearer' } };
    let body: Body;
    if (raw === '') body = {};
    else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return validationProblem({ $: ["'" + raw.slice(0, 20) + "' is an invalid JSON literal."] });
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return validationProblem({ $: ['The JSON value could not be converted to the request type.'] });
      }
      body = parsed as Body;
    }
    if (raw === '' && route.name === 'Auth/loginKey') return validationProblem({ '': ['A non-empty request body is required.'] });
    return route.handler(this.ctx, body, token);
  }

  private report(endpoint: string, status: number): void {
    if (this.listenerCount('request') > 0) this.emit('request', { endpoint, status });
  }

  private handleAdmin(req: IncomingMessage, res: ServerResponse, action: string, rawUrl: string, raw: string | null): void {
    const json = (status: number, value: unknown) => send(res, { status, body: stringify(value), contentType: 'application/json; charset=utf-8' });
    let body: Record<string, unknown> = {};
    if (raw) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return json(400, { error: 'body is not JSON' });
      }
    }
    const params = new URL(rawUrl, 'http://localhost').searchParams;
    try {
      switch (`${req.method} ${action}`) {
        case 'GET faults':
          return json(200, this.faults.current());
        case 'POST faults':
          return json(200, this.applyFaults(body as FaultPatch));
        case 'POST price': {
          const contractId = body['contractId'];
          const price = body['price'];
          if (typeof contractId !== 'string' || typeof price !== 'number') return json(400, { error: 'contractId (string) and price (number) are required' });
          this.setPrice(contractId, price);
          return json(200, { contractId, ...this.quote(contractId) });
        }
        case 'GET orders': {
          const id = Number(params.get('accountId'));
          if (!this.broker.accounts.has(id)) return json(404, { error: `accountId ${params.get('accountId')} is unknown` });
          return json(200, { orders: this.orders(id) });
        }
        case 'GET accounts':
          return json(200, {
            accounts: [...this.broker.accounts.values()].map((a) => ({ ...accountView(a), positions: this.positions(a.id) })),
          });
        case 'POST credentials': {
          if (typeof body['userName'] !== 'string' || typeof body['apiKey'] !== 'string') return json(400, { error: 'userName and apiKey (strings) are required' });
          this.credentials = { userName: body['userName'], apiKey: body['apiKey'] };
          return json(200, { userName: body['userName'] });
        }
        case 'POST rate-limits': {
          if (typeof body['enabled'] !== 'boolean') return json(400, { error: 'enabled (boolean) is required' });
          this.setRateLimits(body['enabled']);
          return json(200, { enabled: body['enabled'] });
        }
        default:
          return json(404, { error: `no admin action ${req.method} /admin/${action}` });
      }
    } catch (e) {
      return json(400, { error: e instanceof Error ? e.message : String(e) });
    }
  }

  // ---- in-process admin ------------------------------------------------------------------------

  private marketOf(contractId: string) {
    const m = this.market.byId.get(contractId);
    if (!m) throw new RangeError(`unknown contractId ${contractId}`);
    return m;
  }

  setPrice(contractId: string, price: number): void {
    const units = parsePrice(price);
    if (units === null || Number.isNaN(units) || units <= 0) throw new RangeError(`price must be a positive number, got ${price}`);
    this.market.setPrice(this.marketOf(contractId), units);
  }

  step(contractId: string, count: number): void {
    const m = this.marketOf(contractId);
    this.market.generate(m, count);
    this.market.flush(m);
  }

  quote(contractId: string): { last: number; bid: number; ask: number } {
    const m = this.marketOf(contractId);
    return { last: m.last / 1e9, bid: m.bid / 1e9, ask: m.ask / 1e9 };
  }

  orders(accountId: number): GatewayView[] {
    return (this.broker.ordersByAccount.get(accountId) ?? []).map((o) => orderView(o, true));
  }

  positions(accountId: number): GatewayView[] {
    return this.broker.openPositions(accountId).map((p) => JSON.parse(stringify(positionView(p))) as GatewayView);
  }

  trades(accountId: number): GatewayView[] {
    return (this.broker.tradesByAccount.get(accountId) ?? []).map((t) => JSON.parse(stringify(tradeView(t))) as GatewayView);
  }

  account(accountId: number): GatewayView | null {
    const a = this.broker.accounts.get(accountId);
    return a ? (JSON.parse(stringify(accountView(a))) as GatewayView) : null;
  }

  setRateLimits(enabled: boolean): void {
    this.limitsOn = enabled;
    this.limits.bars.reset();
    this.limits.general.reset();
  }

  hubConnections(hub?: HubKind): number {
    return this.hubs.count(hub);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.market.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.outboxTimer !== null) clearTimeout(this.outboxTimer);
    this.userOutbox.length = 0;
    this.hubs.close();
    for (const res of this.held) res.socket?.destroy();
    this.held.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** The default fault switches, with their own objects (a patch mutates them). */
function freshFaults(): FaultSettings {
  return { ...DEFAULT_FAULTS, latencyByEndpoint: {}, answerDelayByEndpoint: {}, fillEventOrder: null };
}

const FILL_EVENT_KINDS: readonly FillEventKind[] = ['order', 'trade', 'position', 'account'];

/** A fillEventOrder value: null, or each of order, trade, position and account exactly once. */
function fillEventOrder(v: unknown): FillEventKind[] | null {
  if (v === null) return null;
  if (!Array.isArray(v) || v.length !== FILL_EVENT_KINDS.length || !FILL_EVENT_KINDS.every((k) => v.includes(k))) {
    throw new TypeError(`faults.fillEventOrder must be null or an order of ${FILL_EVENT_KINDS.join(', ')} (each once)`);
  }
  return [...(v as FillEventKind[])];
}

function readBody(req: IncomingMessage, done: (raw: string | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) tooBig = true;
    else chunks.push(c);
  });
  req.on('end', () => done(tooBig ? null : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(reply.body), ...reply.headers };
  if (reply.contentType) headers['content-type'] = reply.contentType;
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}

/** Start a simulator on a loopback port; resolves once it accepts connections. */
export async function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? '127.0.0.1';
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) throw new RangeError(`host must be a loopback address, got ${host}`);
  const sim = new SimulatorImpl(options);
  await sim.listen();
  return sim;
}

/** Read a replay CSV file into the `market.replayCsv` option. */
export function readReplayCsv(path: string): string {
  return readFileSync(path, 'utf8');
}
