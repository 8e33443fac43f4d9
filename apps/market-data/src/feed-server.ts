// The WebSocket fan-out of bars and quotes (protocol: docs/market-data-feed.md). Runs on the market-data
// thread only: the aggregator calls publish*, the sockets are served by the same event loop.
//
// Hot path (publish): the caller serialises a frame ONCE per (contract, timeframe) update as a Buffer and
// this sends that same Buffer to every subscriber; per subscriber it costs one bufferedAmount read and one
// ws.send. publishBars goes further: each frame is encoded ONCE as a complete WebSocket text frame (a server
// frame is unmasked, so its bytes are the same for every peer) and written straight to each subscriber's
// TCP socket: the turn's frames a subscriber gets are concatenated once (shared by every subscriber of the
// same topics) and written in one write, so a subscriber of six topics costs one write syscall per turn.
// That bypass of ws.send is sound because this server never enables permessage-deflate nor sends Blobs —
// the only cases where ws queues frames instead of writing them at once — so ws never holds a frame that a
// direct write could overtake; and bufferedAmount still counts the bytes (it reads the socket's writable
// length). A subscriber never slows another: quotes are conflated latest-wins per contract, bars are sent
// until the subscriber's unsent bytes pass the byte budget, then that subscriber alone is closed (4008) and
// counted.
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

/** Close codes of this protocol (documented in docs/market-data-feed.md). */
export const CLOSE_CODES = Object.freeze({
  /** Over the per-subscriber byte budget: the client does not read fast enough. */
  SLOW_CONSUMER: 4008,
  /** Too many client messages: the token bucket stayed empty. */
  FLOODING: 4029,
  /** The server is shutting down. */
  GOING_AWAY: 1001,
} as const);

/** Error codes of `{"type":"error"}` frames. */
export type FeedErrorCode =
  | 'BAD_JSON'
  | 'BAD_REQUEST'
  | 'UNKNOWN_OP'
  | 'UNKNOWN_SYMBOL'
  | 'UNKNOWN_TIMEFRAME'
  | 'NOT_SUBSCRIBED'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'RATE_LIMITED';

export class FeedRequestError extends Error {
  constructor(
    readonly code: FeedErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'FeedRequestError';
  }
}

/** What a subscription resolves to; `key` names the (contract, timeframe) topic. */
export interface ResolvedTopic {
  key: string;
  contractId: string;
  symbol: string;
  timeframe: string;
}

/** The bar source behind the server (the app): resolution and the frames sent on subscribe. */
export interface FeedSource {
  /** Throws FeedRequestError UNKNOWN_SYMBOL / UNKNOWN_TIMEFRAME naming the field. */
  resolve(symbol: string, timeframe: string): ResolvedTopic;
  /** The snapshot frame: the newest `count` closed bars of the topic. */
  snapshotFrame(topic: ResolvedTopic, count: number): Buffer;
  /** The in-progress bar frame of the topic, if a bar is open. */
  currentFrame(topic: ResolvedTopic): Buffer | undefined;
  /** The latest quote frame of a contract, if any. */
  quoteFrame(contractId: string): Buffer | undefined;
  /** Subscriber count of a topic changed (0 = nobody listens: the source may stop serialising it). */
  onInterest?(key: string, subscribers: number): void;
  /**
   * Called before a subscription is added: the source publishes the frames it holds for the end of the
   * event-loop turn, so a new subscriber never receives a frame older than its snapshot and open bar.
   */
  flushPending?(): void;
}

/** One frame of a publishBars batch; `sent` is set to the number of sockets it was written to. */
export interface OutgoingBar {
  key: string;
  frame: Buffer;
  sent?: number;
}

export type DisconnectReason = 'client' | 'slow_consumer' | 'flooding' | 'heartbeat_timeout' | 'shutdown' | 'error';

export interface FeedServerHooks {
  connected?(total: number): void;
  disconnected?(reason: DisconnectReason, total: number): void;
  /** A frame was not delivered: `quote_conflated` (replaced by a newer one) or `slow_consumer`. */
  dropped?(reason: 'quote_conflated' | 'slow_consumer'): void;
  sent?(frames: number): void;
}

export interface FeedServerOptions {
  host: string;
  /** 0 = any free port (see `port` after start). */
  port: number;
  source: FeedSource;
  hooks?: FeedServerHooks;
  /** Unsent bytes allowed per subscriber before it is closed with 4008. Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Quotes are held (conflated) while a subscriber has more than this unsent. Default 64 KiB. */
  quoteHoldBytes?: number;
  /** Pending conflated quotes are retried this often, ms. Default 50. */
  quoteFlushMs?: number;
  /** Server ping period; a peer that did not pong since the previous ping is closed. Default 15 000 ms. */
  heartbeatMs?: number;
  /** Token bucket per connection for client messages: burst. Default 20. */
  messageBurst?: number;
  /** Token bucket refill per second. Default 10. */
  messagesPerSecond?: number;
  /** Client messages refused (bucket empty) beyond which the connection is closed with 4029. Default 20. */
  floodTolerance?: number;
  /** Largest client message, bytes (ws closes bigger ones with 1009). Default 4096. */
  maxMessageBytes?: number;
  /** Subscriptions per connection. Default 256. */
  maxSubscriptions?: number;
  /** Default snapshot size when the subscribe message does not say. Default 100. */
  defaultSnapshot?: number;
  /** Largest snapshot a client may ask for (the cache size). Default 1000. */
  maxSnapshot?: number;
  clock?: () => number;
}

class Conn {
  readonly topics = new Map<string, ResolvedTopic>();
  /** Contracts whose quotes this connection wants → how many of its subscriptions asked for them. */
  readonly quoteContracts = new Map<string, number>();
  /** Conflated quotes not yet sent: contractId → latest frame. */
  readonly pendingQuotes = new Map<string, Buffer>();
  alive = true;
  closed = false;
  tokens: number;
  lastRefill: number;
  refused = 0;
  /** publishBars batch number of `batchItems` (stale when it is not the current batch). */
  batchNo = 0;
  /** Indices of the current publishBars batch's frames this connection gets, in order. */
  readonly batchItems: number[] = [];
  constructor(
    readonly ws: WebSocket,
    /** The upgraded TCP socket under `ws` (the upgrade request's socket), written directly by publishBars. */
    readonly socket: Socket,
    burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.lastRefill = now;
  }
}

const EMPTY_SET: ReadonlySet<Conn> = new Set();
const EMPTY_WIRE = Buffer.alloc(0);
const NO_ITEMS: readonly number[] = Object.freeze([]);

/** True when two publishBars frame lists are the same (subscribers of the same topics share one write buffer). */
function sameItems(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The first `n` frames of `items`, concatenated. */
function concatWires(wires: readonly Buffer[], items: readonly number[], n: number): Buffer {
  let len = 0;
  for (let k = 0; k < n; k++) len += wires[items[k]!]!.length;
  const out = Buffer.allocUnsafe(len);
  let at = 0;
  for (let k = 0; k < n; k++) at += wires[items[k]!]!.copy(out, at);
  return out;
}

/** RFC 6455 §5.2: a final, unmasked text frame carrying `payload`, header and payload in one Buffer. */
export function encodeTextFrame(payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + len);
  out[0] = 0x81;
  if (head === 2) out[1] = len;
  else if (head === 4) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(len, 6);
  }
  payload.copy(out, head);
  return out;
}

export class FeedServer {
  private wss: WebSocketServer | undefined;
  private readonly conns = new Set<Conn>();
  private readonly byTopic = new Map<string, Set<Conn>>();
  private readonly byQuote = new Map<string, Set<Conn>>();
  private readonly withPendingQuotes = new Set<Conn>();
  private heartbeat: NodeJS.Timeout | undefined;
  private quoteTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;
  private readonly o: Required<Omit<FeedServerOptions, 'hooks'>> & { hooks: FeedServerHooks };
  private readonly pongFrame = Buffer.from('{"type":"pong"}');
  private batchNo = 0;
  /** Scratch of publishBars (reused, so a batch allocates no lists): the subscribers touched, the encoded frames. */
  private readonly touched: Conn[] = [];
  private readonly wires: Buffer[] = [];

  constructor(options: FeedServerOptions) {
    this.o = {
      maxBufferedBytes: 4 * 1024 * 1024,
      quoteHoldBytes: 64 * 1024,
      quoteFlushMs: 50,
      heartbeatMs: 15_000,
      messageBurst: 20,
      messagesPerSecond: 10,
      floodTolerance: 20,
      maxMessageBytes: 4096,
      maxSubscriptions: 256,
      defaultSnapshot: 100,
      maxSnapshot: 1000,
      clock: Date.now,
      ...options,
      hooks: options.hooks ?? {},
    };
  }

  get port(): number {
    return this.boundPort;
  }

  get connections(): number {
    return this.conns.size;
  }

  /** Subscribers of a (contract, timeframe) topic. */
  subscribers(key: string): number {
    return this.byTopic.get(key)?.size ?? 0;
  }

  /** True when some connection asked for this contract's quotes. */
  wantsQuotes(contractId: string): boolean {
    return (this.byQuote.get(contractId)?.size ?? 0) > 0;
  }

  async start(): Promise<number> {
    const wss = new WebSocketServer({
      host: this.o.host,
      port: this.o.port,
      maxPayload: this.o.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    this.boundPort = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws, req) => this.onConnection(ws, req));
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs);
    this.heartbeat.unref();
    this.quoteTimer = setInterval(() => this.flushQuotes(), this.o.quoteFlushMs);
    this.quoteTimer.unref();
    return this.boundPort;
  }

  /** Sends a bar frame to every subscriber of `key`. Returns the number of sockets written. */
  publishBar(key: string, frame: Buffer): number {
    const one: OutgoingBar = { key, frame };
    this.publishBars([one]);
    return one.sent ?? 0;
  }

  /**
   * Sends each frame of the batch, in order, to every subscriber of its topic, in ONE socket write per
   * subscriber: the frames a subscriber gets are concatenated (once, shared by every subscriber that gets
   * the same frames, the usual case) and written with a single write (one syscall, no cork/writev
   * bookkeeping per frame). The byte budget is checked per frame as in publishBar, counting the frames of
   * this batch ahead of it: a subscriber that would pass it gets the frames that fit, then is closed (4008,
   * the close frame behind them). Returns the number of frames written; each item's `sent` says to how
   * many sockets.
   */
  publishBars(batch: readonly OutgoingBar[]): number {
    const budget = this.o.maxBufferedBytes;
    const batchNo = ++this.batchNo;
    const touched = this.touched;
    const wires = this.wires;
    let total = 0;
    try {
      // Pass 1: encode every frame once and note, per subscriber, which frames of the batch it gets, in order.
      for (let i = 0; i < batch.length; i++) {
        const item = batch[i]!;
        item.sent = 0;
        const set = this.byTopic.get(item.key);
        if (set === undefined) {
          wires.push(EMPTY_WIRE);
          continue;
        }
        wires.push(encodeTextFrame(item.frame));
        for (const c of set) {
          if (c.batchNo !== batchNo) {
            c.batchNo = batchNo;
            c.batchItems.length = 0;
            touched.push(c);
          }
          c.batchItems.push(i);
        }
      }
      // Pass 2: one write per subscriber, in the order they were first touched.
      let shared: Buffer | undefined;
      let sharedItems: readonly number[] = NO_ITEMS;
      for (let j = 0; j < touched.length; j++) {
        const c = touched[j]!;
        // A connection stays in its topics until drop(), which also closes it: not OPEN here means the peer
        // started closing; ws.send would discard the frames, so does this.
        if (c.ws.readyState !== WebSocket.OPEN) continue;
        const items = c.batchItems;
        let bytes = c.ws.bufferedAmount;
        let n = 0;
        while (n < items.length && bytes + wires[items[n]!]!.length <= budget) {
          bytes += wires[items[n]!]!.length;
          n++;
        }
        if (n > 0) {
          let out: Buffer;
          if (n === 1) out = wires[items[0]!]!;
          else if (n === items.length && sameItems(items, sharedItems)) out = shared!;
          else {
            out = concatWires(wires, items, n);
            if (n === items.length) {
              shared = out;
              sharedItems = items;
            }
          }
          c.socket.write(out);
          for (let k = 0; k < n; k++) batch[items[k]!]!.sent!++;
          total += n;
        }
        if (n < items.length) this.slowConsumer(c);
      }
    } finally {
      touched.length = 0;
      wires.length = 0;
    }
    if (total > 0) this.o.hooks.sent?.(total);
    return total;
  }

  /** Sends a quote frame, or keeps it as the conflated latest for subscribers that are behind. */
  publishQuote(contractId: string, frame: Buffer): void {
    const set = this.byQuote.get(contractId);
    if (set === undefined) return;
    const hold = this.o.quoteHoldBytes;
    let n = 0;
    for (const c of set) {
      if (c.ws.bufferedAmount > hold || c.pendingQuotes.size > 0) {
        if (c.pendingQuotes.has(contractId)) this.o.hooks.dropped?.('quote_conflated');
        c.pendingQuotes.set(contractId, frame);
        this.withPendingQuotes.add(c);
        continue;
      }
      c.ws.send(frame, { binary: false });
      n++;
    }
    if (n > 0) this.o.hooks.sent?.(n);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.quoteTimer);
    for (const c of [...this.conns]) this.drop(c, 'shutdown', CLOSE_CODES.GOING_AWAY, 'server shutting down');
    const wss = this.wss;
    this.wss = undefined;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const c = new Conn(ws, req.socket as Socket, this.o.messageBurst, this.o.clock());
    this.conns.add(c);
    this.o.hooks.connected?.(this.conns.size);
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(c, data, isBinary));
    ws.on('error', () => this.drop(c, 'error'));
    ws.on('close', () => this.drop(c, 'client'));
  }

  private onMessage(c: Conn, data: RawData, isBinary: boolean): void {
    if (c.closed) return;
    if (!this.takeToken(c)) {
      c.refused++;
      if (c.refused === 1) this.sendError(c, new FeedRequestError('RATE_LIMITED', `more than ${this.o.messagesPerSecond} messages/s: messages are being dropped`));
      if (c.refused > this.o.floodTolerance) this.drop(c, 'flooding', CLOSE_CODES.FLOODING, 'flooding');
      return;
    }
    c.refused = 0;
    let msg: unknown;
    try {
      msg = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : String(data));
    } catch {
      this.sendError(c, new FeedRequestError('BAD_JSON', 'message is not valid JSON'));
      return;
    }
    try {
      this.handle(c, msg);
    } catch (err) {
      if (err instanceof FeedRequestError) this.sendError(c, err);
      else throw err;
    }
  }

  private handle(c: Conn, msg: unknown): void {
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw new FeedRequestError('BAD_REQUEST', 'message must be a JSON object');
    const m = msg as Record<string, unknown>;
    switch (m['op']) {
      case 'ping':
        this.reply(c, this.pongFrame);
        return;
      case 'subscribe':
        return this.subscribe(c, m);
      case 'unsubscribe':
        return this.unsubscribe(c, m);
      case undefined:
        throw new FeedRequestError('BAD_REQUEST', 'op is required (subscribe, unsubscribe, ping)', 'op');
      default:
        throw new FeedRequestError('UNKNOWN_OP', `unknown op ${JSON.stringify(m['op']).slice(0, 40)} (expected subscribe, unsubscribe, ping)`, 'op');
    }
  }

  private requireString(m: Record<string, unknown>, field: string): string {
    const v = m[field];
    if (typeof v !== 'string' || v.length === 0 || v.length > 64) throw new FeedRequestError('BAD_REQUEST', `${field} must be a non-empty string`, field);
    return v;
  }

  private subscribe(c: Conn, m: Record<string, unknown>): void {
    const symbol = this.requireString(m, 'symbol');
    const timeframe = this.requireString(m, 'timeframe');
    const quotes = m['quotes'] ?? false;
    if (typeof quotes !== 'boolean') throw new FeedRequestError('BAD_REQUEST', 'quotes must be true or false', 'quotes');
    const snap = m['snapshot'] ?? Math.min(this.o.defaultSnapshot, this.o.maxSnapshot);
    if (typeof snap !== 'number' || !Number.isInteger(snap) || snap < 0 || snap > this.o.maxSnapshot) {
      throw new FeedRequestError('BAD_REQUEST', `snapshot must be an integer 0–${this.o.maxSnapshot}`, 'snapshot');
    }
    const topic = this.o.source.resolve(symbol, timeframe);
    this.o.source.flushPending?.();
    // The flush may have closed this very connection (over its byte budget): it must not rejoin a topic.
    if (c.closed) return;
    const had = c.topics.has(topic.key);
    if (!had && c.topics.size >= this.o.maxSubscriptions) {
      throw new FeedRequestError('TOO_MANY_SUBSCRIPTIONS', `at most ${this.o.maxSubscriptions} subscriptions per connection`);
    }
    if (!had) {
      c.topics.set(topic.key, topic);
      let set = this.byTopic.get(topic.key);
      if (set === undefined) this.byTopic.set(topic.key, (set = new Set()));
      set.add(c);
      this.o.source.onInterest?.(topic.key, set.size);
    }
    if (quotes) this.addQuote(c, topic.contractId, topic.key);
    if (!this.reply(c, this.o.source.snapshotFrame(topic, snap))) return;
    const cur = this.o.source.currentFrame(topic);
    if (cur !== undefined && !this.reply(c, cur)) return;
    if (quotes) {
      const q = this.o.source.quoteFrame(topic.contractId);
      if (q !== undefined) this.reply(c, q);
    }
  }

  private unsubscribe(c: Conn, m: Record<string, unknown>): void {
    const symbol = this.requireString(m, 'symbol');
    const timeframe = this.requireString(m, 'timeframe');
    const topic = this.o.source.resolve(symbol, timeframe);
    if (!c.topics.has(topic.key)) throw new FeedRequestError('NOT_SUBSCRIBED', `not subscribed to ${symbol} ${timeframe}`, 'symbol');
    this.removeTopic(c, topic.key);
    this.reply(c, Buffer.from(JSON.stringify({ type: 'unsubscribed', symbol: topic.symbol, contractId: topic.contractId, timeframe: topic.timeframe })));
  }

  /** quoteContracts counts the topics that asked for quotes per contract; `quoteKeys` remembers which. */
  private readonly quoteKeys = new WeakMap<Conn, Set<string>>();

  private addQuote(c: Conn, contractId: string, key: string): void {
    let keys = this.quoteKeys.get(c);
    if (keys === undefined) this.quoteKeys.set(c, (keys = new Set()));
    if (keys.has(key)) return;
    keys.add(key);
    c.quoteContracts.set(contractId, (c.quoteContracts.get(contractId) ?? 0) + 1);
    let set = this.byQuote.get(contractId);
    if (set === undefined) this.byQuote.set(contractId, (set = new Set()));
    set.add(c);
  }

  private removeTopic(c: Conn, key: string): void {
    const topic = c.topics.get(key);
    if (topic === undefined) return;
    c.topics.delete(key);
    const set = this.byTopic.get(key) ?? EMPTY_SET;
    (set as Set<Conn>).delete(c);
    if (set.size === 0) this.byTopic.delete(key);
    this.o.source.onInterest?.(key, set.size);
    const keys = this.quoteKeys.get(c);
    if (keys?.delete(key)) {
      const n = (c.quoteContracts.get(topic.contractId) ?? 1) - 1;
      if (n > 0) c.quoteContracts.set(topic.contractId, n);
      else {
        c.quoteContracts.delete(topic.contractId);
        c.pendingQuotes.delete(topic.contractId);
        const qs = this.byQuote.get(topic.contractId);
        qs?.delete(c);
        if (qs?.size === 0) this.byQuote.delete(topic.contractId);
      }
    }
  }

  private takeToken(c: Conn): boolean {
    const now = this.o.clock();
    const burst = this.o.messageBurst;
    if (c.tokens < burst) {
      c.tokens = Math.min(burst, c.tokens + ((now - c.lastRefill) * this.o.messagesPerSecond) / 1000);
    }
    c.lastRefill = now;
    if (c.tokens < 1) return false;
    c.tokens -= 1;
    return true;
  }

  private sendError(c: Conn, err: FeedRequestError): void {
    if (c.closed) return;
    const frame = { type: 'error', code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
    this.reply(c, Buffer.from(JSON.stringify(frame)));
  }

  /**
   * Sends a frame a client's own message caused (snapshot, open bar, latest quote, pong, unsubscribed, error)
   * under the same byte budget as bars: a client that sends requests but never reads would otherwise queue
   * without bound (a subscribe/unsubscribe pair queues a snapshot and leaves no topic for publishBars to check).
   * Over budget the connection is closed with 4008 instead. Returns false when the frame was not sent.
   */
  private reply(c: Conn, frame: Buffer): boolean {
    if (c.closed) return false;
    if (c.ws.bufferedAmount + frame.length > this.o.maxBufferedBytes) {
      this.slowConsumer(c);
      return false;
    }
    c.ws.send(frame, { binary: false });
    return true;
  }

  private slowConsumer(c: Conn): void {
    this.o.hooks.dropped?.('slow_consumer');
    this.drop(c, 'slow_consumer', CLOSE_CODES.SLOW_CONSUMER, 'slow consumer');
  }

  private flushQuotes(): void {
    for (const c of this.withPendingQuotes) {
      if (c.closed) {
        this.withPendingQuotes.delete(c);
        continue;
      }
      if (c.ws.bufferedAmount > this.o.quoteHoldBytes) continue;
      let n = 0;
      for (const frame of c.pendingQuotes.values()) {
        c.ws.send(frame, { binary: false });
        n++;
      }
      c.pendingQuotes.clear();
      this.withPendingQuotes.delete(c);
      if (n > 0) this.o.hooks.sent?.(n);
    }
  }

  private beat(): void {
    for (const c of this.conns) {
      if (!c.alive) {
        // A peer that does not answer pings would not complete a close handshake either: the socket is
        // destroyed (the client sees 1006).
        this.drop(c, 'heartbeat_timeout', undefined, undefined, true);
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /**
   * Removes a connection from every topic at once (so nothing more is queued for it) and closes it. A close
   * frame sits behind the unsent data, so a peer that resumes reading still learns the code; ws destroys the
   * socket if the close handshake does not finish within its close timeout. `terminate` skips the handshake
   * (a dead peer would never answer it).
   */
  private drop(c: Conn, reason: DisconnectReason, code?: number, text?: string, terminate = false): void {
    if (c.closed) return;
    c.closed = true;
    for (const key of [...c.topics.keys()]) this.removeTopic(c, key);
    this.withPendingQuotes.delete(c);
    c.pendingQuotes.clear();
    this.conns.delete(c);
    this.o.hooks.disconnected?.(reason, this.conns.size);
    if (terminate) c.ws.terminate();
    else if (code !== undefined) c.ws.close(code, text);
  }
}
