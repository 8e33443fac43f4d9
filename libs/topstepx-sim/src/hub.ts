// Both SignalR hubs over the ASP.NET Core JSON hub protocol (records end in 0x1E): handshake,
// invocations answered by completions, pings both ways, close. One `ws` server in noServer mode
// takes the HTTP server's upgrades for /hubs/user and /hubs/market. Subscriptions live on the
// connection object, so a reconnect starts with none (as on the real Gateway).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

const RS = '\x1e';
const PING = `{"type":6}${RS}`;
/** A consumer this far behind is cut off instead of growing the heap without bound. */
const MAX_BUFFERED = 64 * 1024 * 1024;

export type HubKind = 'user' | 'market';

export class HubConnection {
  handshaken = false;
  lastRecv = performance.now();
  private partial = '';
  readonly orders = new Set<number>();
  readonly positions = new Set<number>();
  readonly trades = new Set<number>();
  accounts = false;
  readonly quoteContracts = new Set<string>();
  readonly tradeContracts = new Set<string>();
  readonly depthContracts = new Set<string>();
  constructor(
    readonly kind: HubKind,
    readonly ws: WebSocket,
  ) {}

  /** Split incoming text into complete records; keeps an unterminated tail for the next frame. */
  records(text: string): string[] {
    const all = (this.partial + text).split(RS);
    this.partial = all.pop() ?? '';
    return all.filter((r) => r.length > 0);
  }

  /** Records queued by queue(), sent as one WebSocket message (several records per message are valid SignalR). */
  private pending = '';

  /**
   * Queues a record for the end of this event-loop turn (see Hubs.publishUser): returns true when the
   * connection had nothing queued yet, so the caller schedules one flush.
   */
  queue(data: string): boolean {
    const first = this.pending === '';
    this.pending += data;
    return first;
  }

  /** Sends what queue() collected. */
  flush(): void {
    if (this.pending === '') return;
    const data = this.pending;
    this.pending = '';
    this.write(data);
  }

  send(data: string): void {
    // Anything queued goes first: records on one connection keep the order they were produced in.
    this.flush();
    this.write(data);
  }

  private write(data: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED) {
      this.ws.terminate();
      return;
    }
    this.ws.send(data);
  }
}

export interface HubHooks {
  /** true when the token is known and not expired. */
  authenticate(token: string | null): boolean;
  /** The full quote / depth snapshot sent right after a subscription, or null for an unknown contract. */
  quoteSnapshot(contractId: string): string | null;
  depthSnapshot(contractId: string): string | null;
  marketFrozen(): boolean;
  onConnection(kind: HubKind, open: boolean): void;
  onInvocation(kind: HubKind, target: string, args: unknown[]): void;
}

export interface HubConfig {
  pingIntervalMs: number;
  clientTimeoutMs: number;
  wrapUserEvents: boolean;
  tradeBatching: 'array' | 'single';
  /** Put a null entry first in every array payload (GatewayTrade batches, GatewayDepth). */
  nullEntries: boolean;
}

export type UserTarget = 'GatewayUserAccount' | 'GatewayUserOrder' | 'GatewayUserPosition' | 'GatewayUserTrade';

export class Hubs {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1 << 20 });
  readonly connections = new Set<HubConnection>();
  private readonly quoteSubs = new Map<string, Set<HubConnection>>();
  private readonly tradeSubs = new Map<string, Set<HubConnection>>();
  private readonly depthSubs = new Map<string, Set<HubConnection>>();
  private readonly userSubs: Record<'orders' | 'positions' | 'trades', Map<number, Set<HubConnection>>> = {
    orders: new Map(),
    positions: new Map(),
    trades: new Map(),
  };
  private readonly accountSubs = new Set<HubConnection>();
  private readonly pinger: NodeJS.Timeout;
  /** Connections holding user-hub records queued in this turn (publishUser), flushed once after it. */
  private readonly queued: HubConnection[] = [];
  private flushScheduled = false;
  private readonly flushQueued = (): void => {
    this.flushScheduled = false;
    const list = this.queued.splice(0);
    for (const c of list) c.flush();
  };

  constructor(
    private readonly cfg: HubConfig,
    private readonly hooks: HubHooks,
  ) {
    this.pinger = setInterval(() => this.keepalive(), cfg.pingIntervalMs);
    this.pinger.unref?.();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.toLowerCase().replace(/\/+$/, '');
    const kind: HubKind | null = path === '/hubs/user' ? 'user' : path === '/hubs/market' ? 'market' : null;
    if (!kind) return reject(socket, 404, 'Not Found');
    const header = req.headers.authorization;
    const token = url.searchParams.get('access_token') ?? (header?.startsWith('Bearer ') ? header.slice(7) : null);
    if (!this.hooks.authenticate(token)) return reject(socket, 401, 'Unauthorized');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(kind, ws));
  }

  private attach(kind: HubKind, ws: WebSocket): void {
    const c = new HubConnection(kind, ws);
    this.connections.add(c);
    this.hooks.onConnection(kind, true);
    ws.on('message', (data, isBinary) => {
      c.lastRecv = performance.now();
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      for (const record of c.records(text)) this.onRecord(c, record);
    });
    ws.on('close', () => this.detach(c));
    ws.on('error', () => ws.terminate());
  }

  private detach(c: HubConnection): void {
    if (!this.connections.delete(c)) return;
    for (const map of [this.quoteSubs, this.tradeSubs, this.depthSubs]) for (const set of map.values()) set.delete(c);
    for (const map of Object.values(this.userSubs)) for (const set of map.values()) set.delete(c);
    this.accountSubs.delete(c);
    this.hooks.onConnection(c.kind, false);
  }

  private onRecord(c: HubConnection, record: string): void {
    let msg: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(record);
      // `null` or a bare number is JSON but no message: indexing it would throw out of the socket listener.
      if (parsed !== null && typeof parsed === 'object') msg = parsed as Record<string, unknown>;
    } catch {
      msg = null;
    }
    if (msg === null) {
      this.closeWith(c, 'Connection closed with an error. InvalidDataException: Error reading JSON.');
      return;
    }
    if (!c.handshaken) {
      if (msg['protocol'] !== 'json' || msg['version'] !== 1) {
        c.send(`{"error":"Requested protocol '${String(msg['protocol'])}' is not available."}${RS}`);
        c.ws.close(1000);
        return;
      }
      c.handshaken = true;
      c.send(`{}${RS}`);
      return;
    }
    switch (msg['type']) {
      case 1:
      case 4: {
        const malformed = invocationShapeError(msg);
        if (malformed !== null) {
          this.closeWith(c, `Connection closed with an error. InvalidDataException: ${malformed}`);
          return;
        }
        // No hub method here streams, so a stream invocation never finds its method.
        if (msg['type'] === 1) this.invoke(c, msg);
        else if (typeof msg['invocationId'] === 'string') c.send(JSON.stringify({ type: 3, invocationId: msg['invocationId'], error: methodMissing(msg['target'] as string) }) + RS);
        return;
      }
      case 6:
      case 5:
        return;
      case 7:
        c.ws.close(1000);
        return;
      default:
        this.closeWith(c, `Connection closed with an error. InvalidDataException: Unknown message type '${String(msg['type'])}'.`);
    }
  }

  private closeWith(c: HubConnection, error: string): void {
    c.send(JSON.stringify({ type: 7, error, allowReconnect: true }) + RS);
    c.ws.close(1000);
  }

  private invoke(c: HubConnection, msg: Record<string, unknown>): void {
    const id = typeof msg['invocationId'] === 'string' ? msg['invocationId'] : null;
    const target = msg['target'] as string;
    const args = msg['arguments'] as unknown[];
    const key = target.toLowerCase();
    const userMethod = c.kind === 'user' ? USER_METHODS[key] : undefined;
    const marketMethod = c.kind === 'market' ? MARKET_METHODS[key] : undefined;
    const method = userMethod ?? marketMethod;
    let error: string | null = null;
    if (!method) error = methodMissing(target);
    else {
      // The server binds the JSON arguments to the method's parameters before calling it: a wrong count or
      // type fails the invocation with ASP.NET Core's generic message and the method never runs.
      if (!binds(method.params, args)) error = `Failed to invoke '${target}' due to an error on the server.`;
      else if (userMethod) this.invokeUser(c, userMethod, args);
      else if (marketMethod) this.invokeMarket(c, marketMethod, args[0] as string);
      this.hooks.onInvocation(c.kind, target, args);
    }
    if (id !== null) {
      const completion: Record<string, unknown> = { type: 3, invocationId: id };
      if (error !== null) completion['error'] = error;
      c.send(JSON.stringify(completion) + RS);
    }
    if (error === null && c.kind === 'market') this.afterMarketSubscribe(c, key, args);
  }

  private invokeUser(c: HubConnection, method: UserMethod, args: unknown[]): void {
    if (method.stream === 'accounts') {
      c.accounts = method.subscribe;
      if (method.subscribe) this.accountSubs.add(c);
      else this.accountSubs.delete(c);
      return;
    }
    const accountId = args[0] as number;
    const own = c[method.stream];
    const index = this.userSubs[method.stream];
    if (method.subscribe) {
      own.add(accountId);
      let set = index.get(accountId);
      if (!set) index.set(accountId, (set = new Set()));
      set.add(c);
    } else {
      own.delete(accountId);
      index.get(accountId)?.delete(c);
    }
  }

  private invokeMarket(c: HubConnection, method: MarketMethod, contractId: string): void {
    const [own, index] =
      method.stream === 'quotes' ? [c.quoteContracts, this.quoteSubs] : method.stream === 'trades' ? [c.tradeContracts, this.tradeSubs] : [c.depthContracts, this.depthSubs];
    if (method.subscribe) {
      own.add(contractId);
      let set = index.get(contractId);
      if (!set) index.set(contractId, (set = new Set()));
      set.add(c);
    } else {
      own.delete(contractId);
      index.get(contractId)?.delete(c);
    }
  }

  private afterMarketSubscribe(c: HubConnection, target: string, args: unknown[]): void {
    const contractId = args[0] as string;
    if (target === 'subscribecontractquotes') {
      const q = this.hooks.quoteSnapshot(contractId);
      if (q && !this.hooks.marketFrozen()) c.send(`{"type":1,"target":"GatewayQuote","arguments":["${contractId}",${q}]}${RS}`);
    } else if (target === 'subscribecontractmarketdepth') {
      const d = this.hooks.depthSnapshot(contractId);
      if (d && !this.hooks.marketFrozen()) c.send(`{"type":1,"target":"GatewayDepth","arguments":["${contractId}",${this.array(d)}]}${RS}`);
    }
  }

  /** One frame per subscriber per flush: the batched trades, the sparse quote, the depth change. */
  publishMarket(contractId: string, trades: string[], quote: string | null, depth: string | null): void {
    if (this.hooks.marketFrozen()) return;
    const tradeSet = this.tradeSubs.get(contractId);
    const quoteSet = this.quoteSubs.get(contractId);
    const depthSet = depth !== null ? this.depthSubs.get(contractId) : undefined;
    const hasTrades = trades.length > 0 && tradeSet !== undefined && tradeSet.size > 0;
    const hasQuote = quote !== null && quoteSet !== undefined && quoteSet.size > 0;
    const hasDepth = depthSet !== undefined && depthSet.size > 0;
    if (!hasTrades && !hasQuote && !hasDepth) return;
    let tradeRec = '';
    if (hasTrades) {
      if (this.cfg.tradeBatching === 'array') {
        tradeRec = `{"type":1,"target":"GatewayTrade","arguments":["${contractId}",${this.array(`[${trades.join(',')}]`)}]}${RS}`;
      } else {
        for (const t of trades) tradeRec += `{"type":1,"target":"GatewayTrade","arguments":["${contractId}",${t}]}${RS}`;
      }
    }
    const quoteRec = hasQuote ? `{"type":1,"target":"GatewayQuote","arguments":["${contractId}",${quote}]}${RS}` : '';
    const depthRec = hasDepth ? `{"type":1,"target":"GatewayDepth","arguments":["${contractId}",${this.array(depth!)}]}${RS}` : '';
    const done = new Set<HubConnection>();
    for (const set of [tradeSet, quoteSet, depthSet]) {
      if (!set) continue;
      for (const c of set) {
        if (done.has(c)) continue;
        done.add(c);
        const frame = (tradeRec && tradeSet!.has(c) ? tradeRec : '') + (quoteRec && quoteSet!.has(c) ? quoteRec : '') + (depthRec && depthSet!.has(c) ? depthRec : '');
        if (frame) c.send(frame);
      }
    }
  }

  /** A JSON array payload as sent: with the configured leading null entry. */
  private array(json: string): string {
    return this.cfg.nullEntries ? `[null,${json.slice(1)}` : json;
  }

  /** true when someone listens, so callers can skip building the payload. */
  wantsUser(target: UserTarget, accountId: number): boolean {
    if (target === 'GatewayUserAccount') return this.accountSubs.size > 0;
    const index = target === 'GatewayUserOrder' ? this.userSubs.orders : target === 'GatewayUserPosition' ? this.userSubs.positions : this.userSubs.trades;
    const set = index.get(accountId);
    return set !== undefined && set.size > 0;
  }

  publishUser(target: UserTarget, accountId: number, action: number, json: string): void {
    const set =
      target === 'GatewayUserAccount'
        ? this.accountSubs
        : (target === 'GatewayUserOrder' ? this.userSubs.orders : target === 'GatewayUserPosition' ? this.userSubs.positions : this.userSubs.trades).get(accountId);
    if (!set || set.size === 0) return;
    const arg = this.cfg.wrapUserEvents ? `{"action":${action},"data":${json}}` : json;
    const rec = `{"type":1,"target":"${target}","arguments":[${arg}]}${RS}`;
    // Not sent here: a REST call (Order/place, a fill by a trade) produces several events, and the real
    // Gateway's REST answer does not wait for its hub pushes. They leave after the current turn — after
    // the REST response written in it — one WebSocket message per connection.
    for (const c of set) if (c.queue(rec)) this.queued.push(c);
    if (this.queued.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushQueued);
    }
  }

  private keepalive(): void {
    const now = performance.now();
    for (const c of this.connections) {
      if (!c.handshaken) continue;
      if (now - c.lastRecv > this.cfg.clientTimeoutMs) {
        this.closeWith(c, 'Server timeout elapsed without receiving a message from the client.');
        continue;
      }
      c.send(PING);
    }
  }

  /** Fault: drop every hub socket now, without a close message. */
  dropAll(): void {
    for (const c of [...this.connections]) {
      c.ws.terminate();
      this.detach(c);
    }
  }

  count(kind?: HubKind): number {
    let n = 0;
    for (const c of this.connections) if (!kind || c.kind === kind) n++;
    return n;
  }

  close(): void {
    clearInterval(this.pinger);
    for (const c of [...this.connections]) {
      c.ws.terminate();
      this.detach(c);
    }
    this.wss.close();
  }
}

type Param = 'int' | 'string';

interface HubMethod<S extends string> {
  subscribe: boolean;
  stream: S;
  params: Param[];
}
type UserMethod = HubMethod<'accounts' | 'orders' | 'positions' | 'trades'>;
type MarketMethod = HubMethod<'quotes' | 'trades' | 'marketdepth'>;

/** The hub methods by lower-cased name (SignalR matches method names case-insensitively), with their parameter types. */
const USER_METHODS: Record<string, UserMethod> = {};
const MARKET_METHODS: Record<string, MarketMethod> = {};
for (const subscribe of [true, false]) {
  const verb = subscribe ? 'subscribe' : 'unsubscribe';
  USER_METHODS[`${verb}accounts`] = { subscribe, stream: 'accounts', params: [] };
  for (const stream of ['orders', 'positions', 'trades'] as const) USER_METHODS[verb + stream] = { subscribe, stream, params: ['int'] };
  for (const stream of ['quotes', 'trades', 'marketdepth'] as const) MARKET_METHODS[`${verb}contract${stream}`] = { subscribe, stream, params: ['string'] };
}

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/**
 * Whether the JSON arguments bind to the parameters as the SignalR JSON protocol binds them: the exact count,
 * an int only from a JSON integer in range (its serializer options do not read numbers from strings), a string
 * only from a JSON string.
 */
function binds(params: Param[], args: unknown[]): boolean {
  if (args.length !== params.length) return false;
  return params.every((p, i) => {
    const a = args[i];
    // An empty contractId is refused as well: nothing could ever be published to it.
    return p === 'int' ? typeof a === 'number' && Number.isInteger(a) && a >= INT32_MIN && a <= INT32_MAX : typeof a === 'string' && a !== '';
  });
}

/** ASP.NET Core's completion error for an unknown method (its HubException text is passed to the client). */
function methodMissing(target: string): string {
  return `Failed to invoke '${target}' due to an error on the server. HubException: Method does not exist.`;
}

/** The JSON hub protocol's parse error for an invocation record it cannot read (the connection is closed), or null. */
function invocationShapeError(msg: Record<string, unknown>): string | null {
  if (msg['invocationId'] !== undefined && typeof msg['invocationId'] !== 'string') return "Expected 'invocationId' to be of type String.";
  if (typeof msg['target'] !== 'string') return "Missing required property 'target'.";
  if (!Array.isArray(msg['arguments'])) return "Missing required property 'arguments'.";
  return null;
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  socket.destroy();
}
