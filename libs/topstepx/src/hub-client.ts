// A SignalR hub client hand-rolled on `ws` (docs/adr/0002-signalr-hub-client.md): the JSON hub
// protocol of topstepx-api.md §9.2 without /negotiate, with the token in `?access_token=`.
// Subscriptions are recorded and re-sent after every reconnect (the Gateway forgets them), a re-send
// the server refuses is retried with a back-off while the socket stays up, the URL is rebuilt from
// `accessTokenFactory` on every connect (token rotation), and reconnects go on forever with a capped
// backoff.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { HubError } from './errors';
import { NOOP_LOGGER, type Logger } from './rest-client';
import type {
  GatewayDepth,
  GatewayQuote,
  GatewayTrade,
  GatewayUserAccount,
  GatewayUserOrder,
  GatewayUserPosition,
  GatewayUserTrade,
} from './types';

const RS = '\x1e';
const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const PING = `{"type":6}${RS}`;

/** Replaces the value of every `access_token` query parameter: use it for every logged URL. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1<redacted>');
}

export type HubState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting';
export type HubLifecycleEvent = 'connected' | 'reconnecting' | 'reconnected' | 'disconnected';
const LIFECYCLE = new Set<string>(['connected', 'reconnecting', 'reconnected', 'disconnected']);

export interface HubConnectionOptions {
  /** `ws(s)://host/hubs/{user|market}` (http/https are mapped to ws/wss). */
  url: string;
  /** Read on every (re)connect so a rotated token is picked up. */
  accessTokenFactory: () => string;
  /**
   * Delay before each reconnect attempt; the last one repeats forever. The sequence starts over only
   * after a socket that stayed up `keepAliveIntervalMs` (or one retired for a token rotation); a socket
   * that dies sooner continues it. Default [0, 1000, 2000, 5000, 10000, 30000].
   */
  reconnectDelaysMs?: readonly number[];
  /** Send a ping after this much outbound silence. Default 15 000 ms. */
  keepAliveIntervalMs?: number;
  /** Reconnect when nothing arrived for this long. Default 30 000 ms. */
  serverTimeoutMs?: number;
  /** Timeout of one `invoke`. Default 10 000 ms. */
  invokeTimeoutMs?: number;
  /** Timeout of the WebSocket upgrade plus the SignalR handshake. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /** Period of the keep-alive / server-timeout check. Default 1 000 ms. */
  tickMs?: number;
  /**
   * Waits before re-sending recorded subscriptions the server refused (or left unanswered) on a socket that
   * stays up; the last repeats until each is accepted, unsubscribed, or the connection stopped or lost (a
   * reconnect re-sends everything). Without it a refused subscription would wait for the next reconnect,
   * which a healthy socket may never have. Default [1000, 2000, 5000, 10000, 30000].
   */
  resubscribeDelaysMs?: readonly number[];
  /**
   * Keep retrying a failed first connect, waiting `reconnectDelaysMs` before each new attempt, until it
   * succeeds or `stop()` is called: `start()` then resolves once connected and rejects (HubError `stopped`)
   * only on `stop()`. Default false: `start()` rejects when the first attempt fails.
   */
  retryFirstConnect?: boolean;
  logger?: Logger;
  /** Clock in ms for keep-alive and timeout bookkeeping. Default Date.now. */
  clock?: () => number;
}

type TargetHandler = (...args: unknown[]) => void;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** One WebSocket and its framing state; events from a replaced socket are ignored. */
interface Conn {
  ws: WebSocket;
  buffer: string;
  handshakeDone: boolean;
  onHandshake: (err?: Error) => void;
  closeReason?: string;
}

interface Subscription {
  method: string;
  args: unknown[];
}

function delayList(name: string, v: readonly number[] | undefined, dflt: readonly number[]): readonly number[] {
  const delays = v ?? dflt;
  if (delays.length === 0 || delays.some((d) => !Number.isFinite(d) || d < 0)) {
    throw new RangeError(`hub option ${name} must be a non-empty list of delays >= 0`);
  }
  return delays;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`hub option ${name} must be a positive number, got ${v}`);
  return v;
}

export class HubConnection {
  private readonly baseUrl: URL;
  private readonly tokenFactory: () => string;
  private readonly delays: readonly number[];
  private readonly resubscribeDelays: readonly number[];
  private readonly retryFirstConnect: boolean;
  private readonly keepAliveMs: number;
  private readonly serverTimeoutMs: number;
  private readonly invokeTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly tickMs: number;
  private readonly log: Logger;
  private readonly clock: () => number;

  private conn: Conn | undefined;
  private currentState: HubState = 'disconnected';
  private stopped = true;
  private nextInvocationId = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly handlers = new Map<string, TargetHandler[]>();
  private readonly lifecycle = new Map<string, Array<(...a: unknown[]) => void>>();
  private readonly subscriptions = new Map<string, Subscription>();
  private lastSent = 0;
  private lastReceived = 0;
  private ticker: NodeJS.Timeout | undefined;
  private reconnectSleep: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private reconnectLoopActive = false;
  private frameAt = 0;
  /** Clock time of the last completed handshake; undefined = the last socket was retired on purpose (token rotation). */
  private connectedAt: number | undefined;
  /** Index into `delays` of the attempt after the last successful connect. */
  private nextDelayIndex = 0;
  /** Counts start() calls, so a first-connect loop of an earlier start that was stopped cannot carry on. */
  private runId = 0;
  /** Keys of recorded subscriptions the server refused on a socket still up: re-sent by the retry timer. */
  private readonly refused = new Set<string>();
  private resubscribeTimer: NodeJS.Timeout | undefined;
  /** Index into `resubscribeDelays` of the next retry; back to 0 once nothing is refused. */
  private resubscribeAttempt = 0;

  constructor(options: HubConnectionOptions) {
    if (!options || typeof options.url !== 'string') throw new TypeError('hub option url is required');
    if (typeof options.accessTokenFactory !== 'function') throw new TypeError('hub option accessTokenFactory is required');
    let u: URL;
    try {
      u = new URL(options.url);
    } catch {
      throw new TypeError(`hub option url is not a URL: ${redactUrl(options.url)}`);
    }
    if (u.protocol === 'http:') u.protocol = 'ws:';
    else if (u.protocol === 'https:') u.protocol = 'wss:';
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`hub option url must be ws(s) or http(s), got ${u.protocol}`);
    u.searchParams.delete('access_token');
    this.baseUrl = u;
    this.tokenFactory = options.accessTokenFactory;
    this.delays = delayList('reconnectDelaysMs', options.reconnectDelaysMs, [0, 1000, 2000, 5000, 10000, 30000]);
    this.resubscribeDelays = delayList('resubscribeDelaysMs', options.resubscribeDelaysMs, [1000, 2000, 5000, 10000, 30000]);
    this.retryFirstConnect = options.retryFirstConnect ?? false;
    this.keepAliveMs = positive('keepAliveIntervalMs', options.keepAliveIntervalMs, 15_000);
    this.serverTimeoutMs = positive('serverTimeoutMs', options.serverTimeoutMs, 30_000);
    this.invokeTimeoutMs = positive('invokeTimeoutMs', options.invokeTimeoutMs, 10_000);
    this.handshakeTimeoutMs = positive('handshakeTimeoutMs', options.handshakeTimeoutMs, 10_000);
    this.tickMs = positive('tickMs', options.tickMs, 1_000);
    this.log = options.logger ?? NOOP_LOGGER;
    this.clock = options.clock ?? Date.now;
  }

  get state(): HubState {
    return this.currentState;
  }

  /**
   * performance.now() at which the WebSocket message being dispatched reached this client, before it was
   * decoded and parsed: read it inside a target handler to time from the earliest moment the record was
   * seen (every record of one message shares it). 0 before the first message.
   */
  get frameArrivedAt(): number {
    return this.frameAt;
  }

  /** The URL of the next connect, token redacted (for logs and diagnostics). */
  get redactedUrl(): string {
    return redactUrl(this.buildUrl('x'));
  }

  /**
   * Registers a handler: a hub event target (e.g. `GatewayQuote`, called with the invocation's
   * arguments) or a lifecycle event (`connected`, `reconnecting(reason)`, `reconnected`,
   * `disconnected(reason)`). `disconnected` fires on `stop()` only; a lost socket fires `reconnecting`.
   */
  on(event: HubLifecycleEvent, handler: (...a: unknown[]) => void): void;
  on(target: string, handler: TargetHandler): void;
  on(name: string, handler: TargetHandler): void {
    const map = LIFECYCLE.has(name) ? this.lifecycle : this.handlers;
    const list = map.get(name);
    if (list) list.push(handler);
    else map.set(name, [handler]);
  }

  off(name: string, handler: TargetHandler): void {
    const map = LIFECYCLE.has(name) ? this.lifecycle : this.handlers;
    const list = map.get(name);
    if (!list) return;
    const i = list.indexOf(handler);
    if (i >= 0) list.splice(i, 1);
  }

  private emit(event: HubLifecycleEvent, ...args: unknown[]): void {
    for (const h of this.lifecycle.get(event) ?? []) {
      try {
        h(...args);
      } catch (err) {
        this.log.error({ event, err: (err as Error).message }, 'hub lifecycle handler threw');
      }
    }
  }

  /**
   * Connects and completes the handshake, then sends the recorded subscriptions. Rejects if the first
   * attempt fails, unless `retryFirstConnect` is set: then it retries until connected or stopped.
   */
  async start(): Promise<void> {
    if (!this.stopped) throw new HubError('not-connected', 'start() called twice');
    this.stopped = false;
    const run = ++this.runId;
    this.currentState = 'connecting';
    this.ticker = setInterval(() => this.tick(), this.tickMs);
    this.ticker.unref();
    try {
      await (this.retryFirstConnect ? this.connectUntilStopped(run) : this.connectOnce());
    } catch (err) {
      // A stop() during the attempt has already cleaned up (and may be followed by a new start()).
      if (this.runId === run && !this.stopped) {
        this.stopped = true;
        this.currentState = 'disconnected';
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
      throw err;
    }
    if (this.stopped || this.runId !== run) throw new HubError('stopped', 'connection stopped during start');
    this.currentState = 'connected';
    this.connectedAt = this.clock();
    this.nextDelayIndex = 0;
    await this.resubscribeAll();
    this.emit('connected');
  }

  /** Closes the socket, stops reconnecting, rejects pending invocations. Subscriptions stay recorded. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.clearRefused();
    if (this.reconnectSleep) {
      clearTimeout(this.reconnectSleep.timer);
      this.reconnectSleep.resolve();
      this.reconnectSleep = undefined;
    }
    const conn = this.conn;
    this.conn = undefined;
    this.rejectPending(new HubError('stopped', 'connection stopped'));
    this.currentState = 'disconnected';
    if (conn) {
      await new Promise<void>((resolve) => {
        if (conn.ws.readyState === WebSocket.CLOSED) return resolve();
        const t = setTimeout(() => {
          conn.ws.terminate();
          resolve();
        }, 2_000);
        conn.ws.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        conn.ws.close(1000, 'stopped');
      });
    }
    this.emit('disconnected', 'stopped');
  }

  /**
   * Drops the current socket and connects again at once with a URL built from a fresh token (call it
   * from the REST client's `onTokenChange`). Subscriptions are re-sent; `reconnecting` then
   * `reconnected` fire.
   */
  reconnectWithFreshToken(): void {
    if (this.stopped) return;
    if (this.reconnectSleep) {
      // Mid-backoff: cut the wait short; the next attempt reads the new token anyway.
      clearTimeout(this.reconnectSleep.timer);
      this.reconnectSleep.resolve();
      return;
    }
    const conn = this.conn;
    if (conn && conn.handshakeDone) {
      this.connectedAt = undefined; // a deliberate retirement: reconnect at the first delay
      this.retire(conn, 'token rotated');
    }
  }

  /**
   * Detaches a live socket at once (pending invocations rejected, reconnect loop started) and closes
   * it in the background, so a peer that never answers the close frame cannot delay the reconnect.
   */
  private retire(conn: Conn, reason: string): void {
    if (this.conn !== conn) return;
    conn.closeReason = reason;
    this.onSocketClosed(conn, reason);
    try {
      conn.ws.close(1000, reason.slice(0, 100));
    } catch {
      conn.ws.terminate();
    }
    setTimeout(() => conn.ws.terminate(), 2_000).unref();
  }

  /** Invokes a hub method and waits for its completion (rejects with HubError on error or timeout). */
  invoke(method: string, ...args: unknown[]): Promise<unknown> {
    const conn = this.conn;
    if (!conn || !conn.handshakeDone || conn.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new HubError('not-connected', `cannot invoke ${method}`));
    }
    const id = String(++this.nextInvocationId);
    const frame = JSON.stringify({ type: 1, invocationId: id, target: method, arguments: args }) + RS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HubError('invocation-timeout', `${method} got no completion in ${this.invokeTimeoutMs} ms`));
      }, this.invokeTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.write(conn, frame);
    });
  }

  /** Fire-and-forget invocation (no invocationId, no completion). Throws when not connected. */
  send(method: string, ...args: unknown[]): void {
    const conn = this.conn;
    if (!conn || !conn.handshakeDone || conn.ws.readyState !== WebSocket.OPEN) {
      throw new HubError('not-connected', `cannot send ${method}`);
    }
    this.write(conn, JSON.stringify({ type: 1, target: method, arguments: args }) + RS);
  }

  /**
   * Records a subscription and invokes it when connected; every recorded subscription is re-sent
   * after each reconnect. A server-side error on this call removes the record and rejects (the caller
   * learns of it). A lost connection keeps the record (it is sent on the next connect); an unanswered
   * call, and a re-send the server refuses after a (re)connect, keep it and are retried with the
   * `resubscribeDelaysMs` back-off while the socket stays up.
   */
  async subscribe(method: string, ...args: unknown[]): Promise<void> {
    const key = subscriptionKey(method, args);
    if (this.subscriptions.has(key)) return;
    this.subscriptions.set(key, { method, args });
    if (this.currentState !== 'connected') return;
    const conn = this.conn;
    try {
      await this.invoke(method, ...args);
    } catch (err) {
      if (err instanceof HubError && err.kind === 'invocation-failed') {
        this.subscriptions.delete(key);
        throw err;
      }
      if (this.isRefusalOnLiveSocket(err, conn) && this.subscriptions.has(key)) {
        this.refused.add(key);
        this.log.warn({ method, args, err: (err as Error).message, retryInMs: this.nextResubscribeDelay() }, 'subscribe not confirmed; re-sent while connected');
        this.scheduleResubscribe();
        return;
      }
      this.log.warn({ method, err: (err as Error).message }, 'subscribe not confirmed; it stays recorded and is re-sent on reconnect');
    }
  }

  /** Forgets a subscription and invokes its `Unsubscribe…` twin (`SubscribeX` → `UnsubscribeX`) when connected. */
  async unsubscribe(subscribeMethod: string, ...args: unknown[]): Promise<void> {
    if (!subscribeMethod.startsWith('Subscribe')) throw new TypeError(`unsubscribe expects a Subscribe… method name, got ${subscribeMethod}`);
    const key = subscriptionKey(subscribeMethod, args);
    this.subscriptions.delete(key);
    if (this.refused.delete(key) && this.refused.size === 0) this.clearRefused();
    if (this.currentState !== 'connected') return;
    await this.invoke(`Unsubscribe${subscribeMethod.slice('Subscribe'.length)}`, ...args);
  }

  /** The recorded subscriptions, in insertion order. */
  get recordedSubscriptions(): ReadonlyArray<Readonly<Subscription>> {
    return [...this.subscriptions.values()];
  }

  /** The recorded subscriptions the server refused on the live socket, waiting for their next retry. */
  get refusedSubscriptions(): ReadonlyArray<Readonly<Subscription>> {
    return [...this.refused].flatMap((k) => {
      const s = this.subscriptions.get(k);
      return s ? [s] : [];
    });
  }

  // ---- internals ----

  private buildUrl(token: string): string {
    const u = new URL(this.baseUrl.href);
    u.searchParams.set('access_token', token);
    return u.href;
  }

  private write(conn: Conn, frame: string): void {
    this.lastSent = this.clock();
    conn.ws.send(frame);
  }

  private connectOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let token: string;
      try {
        token = this.tokenFactory();
      } catch (err) {
        reject(new HubError('handshake-failed', `accessTokenFactory threw: ${(err as Error).message}`));
        return;
      }
      const url = this.buildUrl(token);
      this.log.debug({ url: redactUrl(url) }, 'hub connecting');
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: this.handshakeTimeoutMs });
      let settled = false;
      const timer = setTimeout(() => conn.onHandshake(new HubError('handshake-failed', `no handshake within ${this.handshakeTimeoutMs} ms`)), this.handshakeTimeoutMs);
      const conn: Conn = {
        ws,
        buffer: '',
        handshakeDone: false,
        onHandshake: (err) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (err) {
            if (this.conn === conn) this.conn = undefined;
            ws.terminate();
            reject(err);
          } else {
            resolve();
          }
        },
      };
      this.conn = conn;
      ws.on('open', () => {
        this.lastReceived = this.clock();
        this.write(conn, HANDSHAKE);
      });
      ws.on('message', (data: WebSocket.RawData) => this.onFrame(conn, data));
      ws.on('unexpected-response', (_req, res) => {
        conn.onHandshake(new HubError('handshake-failed', `HTTP ${res.statusCode} on upgrade of ${redactUrl(url)}`));
      });
      ws.on('error', (err) => {
        if (!settled) conn.onHandshake(new HubError('handshake-failed', `${err.message} (${redactUrl(url)})`));
        else this.log.warn({ err: err.message }, 'hub socket error');
      });
      ws.on('close', (code, reason) => {
        if (!settled) {
          conn.onHandshake(new HubError('handshake-failed', `socket closed (${code}) before the handshake`));
          return;
        }
        this.onSocketClosed(conn, conn.closeReason ?? `socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
      });
    });
  }

  private onFrame(conn: Conn, data: WebSocket.RawData): void {
    if (this.conn !== conn) return;
    this.frameAt = performance.now();
    this.lastReceived = this.clock();
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    let buf = conn.buffer.length ? conn.buffer + text : text;
    let start = 0;
    for (;;) {
      const end = buf.indexOf(RS, start);
      if (end < 0) break;
      const record = buf.slice(start, end);
      start = end + 1;
      if (!conn.handshakeDone) {
        this.onHandshakeRecord(conn, record);
        if (this.conn !== conn) return;
        continue;
      }
      this.onRecord(conn, record);
      if (this.conn !== conn) return;
    }
    buf = start === 0 ? buf : buf.slice(start);
    conn.buffer = buf;
  }

  private onHandshakeRecord(conn: Conn, record: string): void {
    let msg: { error?: unknown };
    try {
      msg = JSON.parse(record) as { error?: unknown };
    } catch {
      conn.onHandshake(new HubError('handshake-failed', 'handshake reply is not JSON'));
      return;
    }
    if (msg && typeof msg.error === 'string') {
      conn.onHandshake(new HubError('handshake-failed', msg.error));
      return;
    }
    conn.handshakeDone = true;
    conn.onHandshake();
  }

  private onRecord(conn: Conn, record: string): void {
    let msg: { type?: number; target?: string; arguments?: unknown[]; invocationId?: string; error?: string; result?: unknown; allowReconnect?: boolean };
    try {
      msg = JSON.parse(record);
    } catch {
      this.log.warn({ excerpt: record.slice(0, 200) }, 'hub record is not JSON; dropped');
      return;
    }
    // `null` or a bare number is valid JSON but no hub message; reading `.type` off null would throw
    // out of the socket's message listener and take the thread down.
    if (msg === null || typeof msg !== 'object') {
      this.log.warn({ excerpt: record.slice(0, 200) }, 'hub record is not an object; dropped');
      return;
    }
    switch (msg.type) {
      case 1: {
        const list = msg.target ? this.handlers.get(msg.target) : undefined;
        if (!list || list.length === 0) return;
        const args = Array.isArray(msg.arguments) ? msg.arguments : [];
        for (const h of list) {
          try {
            h(...args);
          } catch (err) {
            this.log.error({ target: msg.target, err: (err as Error).message }, 'hub handler threw');
          }
        }
        return;
      }
      case 3: {
        const id = msg.invocationId;
        const p = id === undefined ? undefined : this.pending.get(id);
        if (!p) return;
        this.pending.delete(id!);
        clearTimeout(p.timer);
        if (typeof msg.error === 'string') p.reject(new HubError('invocation-failed', msg.error));
        else p.resolve(msg.result);
        return;
      }
      case 6:
        return;
      case 7:
        // The server closes: reconnect regardless of allowReconnect (the next connect reads a fresh
        // token, which is the usual cure), and say why in the log.
        this.log.warn({ error: msg.error, allowReconnect: msg.allowReconnect }, 'hub close message');
        this.retire(conn, `server close${msg.error ? `: ${msg.error}` : ''}`);
        return;
      default:
        return;
    }
  }

  private rejectPending(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  private onSocketClosed(conn: Conn, reason: string): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    // The reconnect re-sends every recorded subscription, refused ones included; their back-off goes on.
    if (this.resubscribeTimer) clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = undefined;
    this.rejectPending(new HubError('connection-lost', reason));
    if (this.stopped) return;
    void this.reconnectLoop(reason);
  }

  private async reconnectLoop(reason: string): Promise<void> {
    if (this.reconnectLoopActive) return;
    this.reconnectLoopActive = true;
    this.currentState = 'reconnecting';
    this.log.warn({ reason, url: this.redactedUrl }, 'hub connection lost; reconnecting');
    this.emit('reconnecting', reason);
    // The backoff starts over only after a socket that lived a keep-alive interval: one that dies at
    // once (a server that accepts and drops) continues it, or the loop would reconnect at delay 0 forever.
    const first = this.connectedAt !== undefined && this.clock() - this.connectedAt < this.keepAliveMs ? this.nextDelayIndex : 0;
    try {
      for (let attempt = first; !this.stopped; attempt++) {
        const delay = this.delays[Math.min(attempt, this.delays.length - 1)]!;
        if (delay > 0) await this.sleep(delay);
        if (this.stopped) return;
        try {
          await this.connectOnce();
        } catch (err) {
          this.log.warn({ attempt, err: (err as Error).message }, 'hub reconnect attempt failed');
          continue;
        }
        if (this.stopped) return;
        this.currentState = 'connected';
        this.connectedAt = this.clock();
        this.nextDelayIndex = Math.min(attempt + 1, this.delays.length - 1);
        const conn = this.conn;
        await this.resubscribeAll();
        if (this.conn !== conn || this.stopped) return;
        this.log.info({ subscriptions: this.subscriptions.size }, 'hub reconnected');
        this.emit('reconnected');
        return;
      }
    } finally {
      this.reconnectLoopActive = false;
      // The socket may have dropped again while we were re-subscribing: start over.
      if (!this.stopped && this.conn === undefined) void this.reconnectLoop('lost during reconnect');
    }
  }

  /** A wait that stop() and reconnectWithFreshToken() cut short. */
  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.reconnectSleep = { timer, resolve };
    });
    this.reconnectSleep = undefined;
  }

  /**
   * The first connect under `retryFirstConnect`: attempt k > 0 waits `delays[k]` (the last repeats), as a
   * reconnect would. Resolves once connected; rejects with HubError `stopped` once stop() was called.
   */
  private async connectUntilStopped(run: number): Promise<void> {
    const stoppedError = (): HubError => new HubError('stopped', 'connection stopped before the first connect succeeded');
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const delay = this.delays[Math.min(attempt, this.delays.length - 1)]!;
        if (delay > 0) await this.sleep(delay);
      }
      if (this.stopped || this.runId !== run) throw stoppedError();
      try {
        await this.connectOnce();
      } catch (err) {
        if (this.stopped || this.runId !== run) throw stoppedError();
        const retryInMs = this.delays[Math.min(attempt + 1, this.delays.length - 1)]!;
        this.log.warn({ attempt, retryInMs, url: this.redactedUrl, err: (err as Error).message }, 'hub connect failed; retrying until connected or stopped');
        continue;
      }
      if (attempt > 0) this.log.info({ attempt, url: this.redactedUrl }, 'hub connected after failed attempts');
      return;
    }
  }

  private async resubscribeAll(): Promise<void> {
    if (this.subscriptions.size === 0) return;
    const conn = this.conn;
    const subs = [...this.subscriptions.entries()];
    const results = await Promise.allSettled(subs.map(([, s]) => this.invoke(s.method, ...s.args)));
    // A refused re-send keeps its record: the caller's subscribe() resolved long ago and cannot learn
    // of the refusal, so forgetting it would lose the subscription for good over one transient error.
    // It is retried with a back-off while this socket stays up, and goes out again at the next connect.
    results.forEach((r, i) => {
      const [key, s] = subs[i]!;
      if (r.status === 'fulfilled') {
        this.refused.delete(key);
        return;
      }
      const retry = this.isRefusalOnLiveSocket(r.reason, conn) && this.subscriptions.has(key);
      if (retry) this.refused.add(key);
      this.log.error(
        { method: s.method, args: s.args, err: (r.reason as Error).message, ...(retry ? { retryInMs: this.nextResubscribeDelay() } : {}) },
        retry ? 're-subscribe refused; retrying while connected' : 're-subscribe failed; kept for the next reconnect',
      );
    });
    if (this.refused.size === 0) this.resubscribeAttempt = 0;
    else if (this.conn === conn) this.scheduleResubscribe();
  }

  /** A refusal (or no answer) on the socket the call went out on, still up: worth re-sending on it. */
  private isRefusalOnLiveSocket(err: unknown, conn: Conn | undefined): boolean {
    return err instanceof HubError && (err.kind === 'invocation-failed' || err.kind === 'invocation-timeout') && conn !== undefined && this.conn === conn;
  }

  private nextResubscribeDelay(): number {
    return this.resubscribeDelays[Math.min(this.resubscribeAttempt, this.resubscribeDelays.length - 1)]!;
  }

  private scheduleResubscribe(): void {
    if (this.resubscribeTimer || this.refused.size === 0 || this.stopped) return;
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = undefined;
      void this.retryRefused();
    }, this.nextResubscribeDelay());
    this.resubscribeTimer.unref();
  }

  private clearRefused(): void {
    if (this.resubscribeTimer) clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = undefined;
    this.refused.clear();
    this.resubscribeAttempt = 0;
  }

  /**
   * Re-sends every refused subscription still recorded, in one batch so the log says it once per wait (a
   * line per batch, at most one per `resubscribeDelaysMs` step). A socket lost meanwhile ends it: the
   * reconnect re-sends them all.
   */
  private async retryRefused(): Promise<void> {
    const conn = this.conn;
    if (this.stopped || this.currentState !== 'connected' || !conn) return;
    for (const k of this.refused) if (!this.subscriptions.has(k)) this.refused.delete(k);
    const keys = [...this.refused];
    this.resubscribeAttempt++;
    const results = await Promise.allSettled(
      keys.map((k) => {
        const s = this.subscriptions.get(k)!;
        return this.invoke(s.method, ...s.args);
      }),
    );
    if (this.stopped || this.conn !== conn) return;
    const accepted: Subscription[] = [];
    const errors: string[] = [];
    results.forEach((r, i) => {
      const key = keys[i]!;
      const s = this.subscriptions.get(key);
      if (r.status === 'fulfilled') {
        if (this.refused.delete(key) && s) accepted.push(s);
      } else {
        errors.push((r.reason as Error).message);
      }
    });
    if (accepted.length > 0) this.log.info({ subscriptions: accepted, attempts: this.resubscribeAttempt }, 'refused subscriptions accepted on retry');
    if (this.refused.size === 0) {
      this.resubscribeAttempt = 0;
      return;
    }
    this.log.warn(
      { refused: this.refusedSubscriptions, attempts: this.resubscribeAttempt, retryInMs: this.nextResubscribeDelay(), err: errors[0] },
      're-subscribe refused again; retrying while connected',
    );
    this.scheduleResubscribe();
  }

  private tick(): void {
    const conn = this.conn;
    if (!conn || !conn.handshakeDone) return;
    const now = this.clock();
    if (now - this.lastReceived > this.serverTimeoutMs) {
      this.log.warn({ silentMs: now - this.lastReceived }, 'hub server timeout; reconnecting');
      this.retire(conn, 'server timeout');
      conn.ws.terminate();
      return;
    }
    if (now - this.lastSent >= this.keepAliveMs && conn.ws.readyState === WebSocket.OPEN) this.write(conn, PING);
  }
}

function subscriptionKey(method: string, args: unknown[]): string {
  return `${method}\u0000${JSON.stringify(args)}`;
}

/** Calls `fn` for each entry of a payload that may be one object or an array (null entries skipped). */
function forEachEntry(payload: unknown, fn: (entry: unknown) => void): void {
  if (Array.isArray(payload)) {
    for (const e of payload) if (e != null) fn(e);
  } else if (payload != null) {
    fn(payload);
  }
}

// ---- market hub ----

export interface MarketHubClientOptions extends HubConnectionOptions {
  /** Flag a watched contract whose feed was silent this long while the socket is connected. 0 disables. Default 30 000 ms. */
  staleAfterMs?: number;
  /** Watchdog period. Default 1 000 ms. */
  staleCheckEveryMs?: number;
}

export type QuoteHandler = (contractId: string, quote: Readonly<GatewayQuote>, delta: Readonly<GatewayQuote>) => void;
export type MarketTradeHandler = (contractId: string, trade: GatewayTrade) => void;
export type DepthHandler = (contractId: string, depth: GatewayDepth) => void;

type MarketKind = 'quotes' | 'trades' | 'depth';
const MARKET_METHOD: Record<MarketKind, string> = {
  quotes: 'SubscribeContractQuotes',
  trades: 'SubscribeContractTrades',
  depth: 'SubscribeContractMarketDepth',
};

/**
 * The market hub: quotes merged per contract (the Gateway sends sparse quotes: a missing field is
 * "unchanged", never zero), trades and depth flattened from arrays, and a staleness watchdog for
 * feeds that freeze while the socket looks healthy (topstepx-api.md §12 "Silent stalls").
 */
export class MarketHubClient {
  readonly connection: HubConnection;
  private readonly quotes = new Map<string, GatewayQuote>();
  private readonly watched = new Map<string, { lastDataAt: number; kinds: Set<MarketKind> }>();
  private readonly staleSet = new Set<string>();
  private readonly quoteHandlers: QuoteHandler[] = [];
  private readonly tradeHandlers: MarketTradeHandler[] = [];
  private readonly depthHandlers: DepthHandler[] = [];
  private readonly staleHandlers: Array<(contractId: string, silentMs: number) => void> = [];
  private readonly freshHandlers: Array<(contractId: string) => void> = [];
  private readonly staleAfterMs: number;
  private readonly staleCheckEveryMs: number;
  private readonly clock: () => number;
  private readonly log: Logger;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(options: MarketHubClientOptions) {
    this.connection = new HubConnection(options);
    this.clock = options.clock ?? Date.now;
    this.log = options.logger ?? NOOP_LOGGER;
    this.staleAfterMs = options.staleAfterMs === 0 ? 0 : positive('staleAfterMs', options.staleAfterMs, 30_000);
    this.staleCheckEveryMs = positive('staleCheckEveryMs', options.staleCheckEveryMs, 1_000);
    this.connection.on('GatewayQuote', (cid, data) => this.onQuoteEvent(cid, data));
    this.connection.on('GatewayTrade', (cid, data) => this.onTradeEvent(cid, data));
    this.connection.on('GatewayDepth', (cid, data) => this.onDepthEvent(cid, data));
    // The gap of a reconnect is reported by `reconnecting`; restart every contract's silence clock.
    const rebase = (): void => {
      const now = this.clock();
      for (const w of this.watched.values()) w.lastDataAt = now;
    };
    this.connection.on('connected', rebase);
    this.connection.on('reconnected', rebase);
  }

  async start(): Promise<void> {
    await this.connection.start();
    if (this.staleAfterMs > 0 && !this.watchdog) {
      this.watchdog = setInterval(() => this.checkStale(), this.staleCheckEveryMs);
      this.watchdog.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    await this.connection.stop();
  }

  reconnectWithFreshToken(): void {
    this.connection.reconnectWithFreshToken();
  }

  /** performance.now() at which the hub message being dispatched arrived (see HubConnection.frameArrivedAt). */
  get frameArrivedAt(): number {
    return this.connection.frameArrivedAt;
  }

  subscribeQuotes(contractId: string): Promise<void> {
    return this.subscribeKind('quotes', contractId);
  }
  subscribeTrades(contractId: string): Promise<void> {
    return this.subscribeKind('trades', contractId);
  }
  subscribeDepth(contractId: string): Promise<void> {
    return this.subscribeKind('depth', contractId);
  }
  unsubscribeQuotes(contractId: string): Promise<void> {
    return this.unsubscribeKind('quotes', contractId);
  }
  unsubscribeTrades(contractId: string): Promise<void> {
    return this.unsubscribeKind('trades', contractId);
  }
  unsubscribeDepth(contractId: string): Promise<void> {
    return this.unsubscribeKind('depth', contractId);
  }

  /** `quote` is the merged state (mutated in place by later updates: copy it to keep it); `delta` the raw update. */
  onQuote(handler: QuoteHandler): void {
    this.quoteHandlers.push(handler);
  }
  onTrade(handler: MarketTradeHandler): void {
    this.tradeHandlers.push(handler);
  }
  onDepth(handler: DepthHandler): void {
    this.depthHandlers.push(handler);
  }
  /** A watched contract's feed has been silent past `staleAfterMs` while the socket is connected. */
  onStale(handler: (contractId: string, silentMs: number) => void): void {
    this.staleHandlers.push(handler);
  }
  /** Data arrived again for a contract flagged stale. */
  onFresh(handler: (contractId: string) => void): void {
    this.freshHandlers.push(handler);
  }

  /** The merged quote of a contract, if any update arrived. */
  quote(contractId: string): Readonly<GatewayQuote> | undefined {
    return this.quotes.get(contractId);
  }

  isStale(contractId: string): boolean {
    return this.staleSet.has(contractId);
  }

  private async subscribeKind(kind: MarketKind, contractId: string): Promise<void> {
    if (typeof contractId !== 'string' || contractId === '') throw new TypeError('contractId must be a non-empty string');
    let w = this.watched.get(contractId);
    if (!w) {
      w = { lastDataAt: this.clock(), kinds: new Set() };
      this.watched.set(contractId, w);
    }
    w.kinds.add(kind);
    try {
      await this.connection.subscribe(MARKET_METHOD[kind], contractId);
    } catch (err) {
      w.kinds.delete(kind);
      if (w.kinds.size === 0) this.unwatch(contractId);
      throw err;
    }
  }

  private async unsubscribeKind(kind: MarketKind, contractId: string): Promise<void> {
    const w = this.watched.get(contractId);
    if (w) {
      w.kinds.delete(kind);
      if (w.kinds.size === 0) this.unwatch(contractId);
    }
    await this.connection.unsubscribe(MARKET_METHOD[kind], contractId);
  }

  private unwatch(contractId: string): void {
    this.watched.delete(contractId);
    this.quotes.delete(contractId);
    this.staleSet.delete(contractId);
  }

  private touch(contractId: string): void {
    const w = this.watched.get(contractId);
    if (w) w.lastDataAt = this.clock();
    if (this.staleSet.has(contractId)) {
      this.staleSet.delete(contractId);
      for (const h of this.freshHandlers) this.safe(() => h(contractId));
    }
  }

  private onQuoteEvent(contractId: unknown, data: unknown): void {
    if (typeof contractId !== 'string') return this.dropped('GatewayQuote', contractId);
    this.touch(contractId);
    forEachEntry(data, (entry) => {
      const delta = entry as GatewayQuote;
      let state = this.quotes.get(contractId);
      if (!state) {
        state = {};
        this.quotes.set(contractId, state);
      }
      const target = state as Record<string, unknown>;
      const src = delta as Record<string, unknown>;
      for (const k in src) {
        const v = src[k];
        if (v !== undefined && v !== null) target[k] = v;
      }
      for (const h of this.quoteHandlers) this.safe(() => h(contractId, state!, delta));
    });
  }

  /** The per-trade hot path (thousands a second): no closure per entry, unlike forEachEntry + safe. */
  private onTradeEvent(contractId: unknown, data: unknown): void {
    if (typeof contractId !== 'string') return this.dropped('GatewayTrade', contractId);
    this.touch(contractId);
    if (Array.isArray(data)) {
      for (let i = 0; i < data.length; i++) {
        const entry: unknown = data[i];
        if (entry != null) this.deliverTrade(contractId, entry as GatewayTrade);
      }
    } else if (data != null) {
      this.deliverTrade(contractId, data as GatewayTrade);
    }
  }

  private deliverTrade(contractId: string, trade: GatewayTrade): void {
    const handlers = this.tradeHandlers;
    for (let i = 0; i < handlers.length; i++) {
      try {
        handlers[i]!(contractId, trade);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'market hub handler threw');
      }
    }
  }

  private onDepthEvent(contractId: unknown, data: unknown): void {
    if (typeof contractId !== 'string') return this.dropped('GatewayDepth', contractId);
    this.touch(contractId);
    forEachEntry(data, (entry) => {
      for (const h of this.depthHandlers) this.safe(() => h(contractId, entry as GatewayDepth));
    });
  }

  private dropped(target: string, contractId: unknown): void {
    this.log.warn({ target, contractIdType: typeof contractId }, 'market event without a string contractId; dropped');
  }

  private checkStale(): void {
    if (this.connection.state !== 'connected') return;
    const now = this.clock();
    for (const [contractId, w] of this.watched) {
      const silent = now - w.lastDataAt;
      if (silent > this.staleAfterMs && !this.staleSet.has(contractId)) {
        this.staleSet.add(contractId);
        this.log.warn({ contractId, silentMs: silent }, 'market feed stale');
        for (const h of this.staleHandlers) this.safe(() => h(contractId, silent));
      }
    }
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'market hub handler threw');
    }
  }
}

// ---- user hub ----

export type UserEventHandler<T> = (data: T, action?: number) => void;

/**
 * The user hub: accounts, orders, positions and trades. Payloads may be the bare entity, an
 * array, or an `{ action, data }` wrapper (topstepx-api.md §9.4); handlers always get the entity,
 * plus `action` when the wrapper carried one.
 */
export class UserHubClient {
  readonly connection: HubConnection;
  private readonly log: Logger;

  constructor(options: HubConnectionOptions) {
    this.connection = new HubConnection(options);
    this.log = options.logger ?? NOOP_LOGGER;
  }

  start(): Promise<void> {
    return this.connection.start();
  }
  stop(): Promise<void> {
    return this.connection.stop();
  }
  reconnectWithFreshToken(): void {
    this.connection.reconnectWithFreshToken();
  }

  subscribeAccounts(): Promise<void> {
    return this.connection.subscribe('SubscribeAccounts');
  }
  subscribeOrders(accountId: number): Promise<void> {
    return this.connection.subscribe('SubscribeOrders', checkAccount(accountId));
  }
  subscribePositions(accountId: number): Promise<void> {
    return this.connection.subscribe('SubscribePositions', checkAccount(accountId));
  }
  subscribeTrades(accountId: number): Promise<void> {
    return this.connection.subscribe('SubscribeTrades', checkAccount(accountId));
  }
  unsubscribeAccounts(): Promise<void> {
    return this.connection.unsubscribe('SubscribeAccounts');
  }
  unsubscribeOrders(accountId: number): Promise<void> {
    return this.connection.unsubscribe('SubscribeOrders', accountId);
  }
  unsubscribePositions(accountId: number): Promise<void> {
    return this.connection.unsubscribe('SubscribePositions', accountId);
  }
  unsubscribeTrades(accountId: number): Promise<void> {
    return this.connection.unsubscribe('SubscribeTrades', accountId);
  }

  onAccount(handler: UserEventHandler<GatewayUserAccount>): void {
    this.register('GatewayUserAccount', handler);
  }
  onOrder(handler: UserEventHandler<GatewayUserOrder>): void {
    this.register('GatewayUserOrder', handler);
  }
  onPosition(handler: UserEventHandler<GatewayUserPosition>): void {
    this.register('GatewayUserPosition', handler);
  }
  onTrade(handler: UserEventHandler<GatewayUserTrade>): void {
    this.register('GatewayUserTrade', handler);
  }

  private register<T>(target: string, handler: UserEventHandler<T>): void {
    this.connection.on(target, (payload: unknown) => {
      forEachEntry(payload, (entry) => {
        const w = entry as { action?: unknown; data?: unknown };
        if (typeof w === 'object' && 'data' in w && 'action' in w) {
          const action = typeof w.action === 'number' ? w.action : undefined;
          forEachEntry(w.data, (inner) => this.deliver(handler, inner as T, action));
        } else {
          this.deliver(handler, entry as T, undefined);
        }
      });
    });
  }

  private deliver<T>(handler: UserEventHandler<T>, data: T, action: number | undefined): void {
    try {
      handler(data, action);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'user hub handler threw');
    }
  }
}

function checkAccount(accountId: number): number {
  if (!Number.isSafeInteger(accountId) || accountId <= 0) throw new TypeError(`accountId must be a positive integer, got ${accountId}`);
  return accountId;
}
