// The one bound of every server stream of the front door (gRPC server streaming and the server-sent-event
// twins). A client that stops reading is ended with RESOURCE_EXHAUSTED, after the messages already queued, rather
// than growing the engine's memory without end; skipping messages instead would hide a lost order update or risk
// event. A client that reads is never ended for a burst: grpc-js hands a stream's messages to its connection a few
// per event-loop turn, so a PlaceBatch, a FlattenAll or a busy bar fan-out can put thousands of messages ahead of a
// healthy reader. The bound therefore judges progress, not depth:
//   * with STREAM_MAX_UNREAD or more unread messages, a write ends the stream once none has been taken by the
//     connection for STREAM_STALL_MS (counted from the later of the last message taken and the moment the queue stopped being
//     empty, so the first burst of an idle stream is not judged by the idle time);
//   * with STREAM_HARD_MAX_UNREAD unread, a write ends it whatever the progress: the memory a stream may hold.
// The check runs on writes, the only place the queue grows. Main thread.
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { status as GrpcStatus, type ServerWritableStream } from '@grpc/grpc-js';

/**
 * Soft bound: messages one stream may hold for its client, written but not yet taken by the connection (HTTP/2 or
 * TCP flow control holds them in the engine; an order update or risk event is ~100–400 B), without being judged.
 * Past it the client must be making progress (STREAM_STALL_MS).
 */
export const STREAM_MAX_UNREAD = 4_096;

/**
 * How long a stream past STREAM_MAX_UNREAD may go without the connection taking one message before a write ends
 * it. Long against a reader's pauses (a garbage collection, a strategy's own work), short against a reader that
 * is gone for good.
 */
export const STREAM_STALL_MS = 5_000;

/**
 * Hard cap: unread messages past which a write ends the stream even while the client makes progress (a producer
 * that outruns the connection for good). Sixteen times the soft bound: a 1,000-order PlaceBatch is ~4,000 updates.
 */
export const STREAM_HARD_MAX_UNREAD = 65_536;

/**
 * Past this many unread messages a latest-state message (an in-progress bar) waits in place, replaced by newer
 * ones of its key, rather than queueing: a slow reader gets the newest state, not every intermediate one. The
 * object-mode highWaterMark of a Node stream, where a gRPC call's write() starts returning false.
 */
const HOLD_LATEST_PAST = 16;

export interface ServerStreamOptions {
  /** What the messages are, for the error: "order updates". */
  what: string;
  /** How the client recovers, the end of the error: "subscribe again and read the orders back with GetOrderStatus". */
  recovery: string;
  /** Called once when the stream is over, whatever ended it (the client, end(), the bound): unsubscribe here. */
  onClose: () => void;
  /** Soft bound. Default STREAM_MAX_UNREAD. */
  maxUnread?: number;
  /** Stall period past the soft bound, ms. Default STREAM_STALL_MS. */
  stallMs?: number;
  /** Hard cap, at least maxUnread. Default STREAM_HARD_MAX_UNREAD. */
  hardMaxUnread?: number;
  /** Monotonic clock in ms for the stall period. Default performance.now (a wall-clock step must not end readers). */
  now?: () => number;
}

export interface ServerStream<T> {
  readonly closed: boolean;
  /** Messages written and not yet taken by the connection. */
  readonly unread: number;
  /**
   * Queues a message (`supersedes`: the key of a held latest-state message it replaces, e.g. the closed bar of an
   * in-progress one). False once the stream is closed, before or now because the bound ended it.
   */
  send(message: T, supersedes?: string): boolean;
  /** A latest-state message: while the client is behind, only the newest of each key waits. */
  sendLatest(key: string, message: T): boolean;
  /** Ends the stream normally (the engine stops); what is queued is still delivered. */
  end(): void;
}

interface Transport<T> {
  /** Hands a message to the connection; `flushed` is called once the connection has taken it. */
  write(message: T, flushed: () => void): void;
  /** Ends the stream with the RESOURCE_EXHAUSTED error, after what is queued. */
  fail(details: string): void;
  end(): void;
  /** Registers the listener of the client's going away (cancel, reset, closed connection). */
  onGone(listener: () => void): void;
}

function boundedStream<T>(transport: Transport<T>, o: ServerStreamOptions): ServerStream<T> {
  const maxUnread = o.maxUnread ?? STREAM_MAX_UNREAD;
  const stallMs = o.stallMs ?? STREAM_STALL_MS;
  const hardMaxUnread = o.hardMaxUnread ?? STREAM_HARD_MAX_UNREAD;
  const now = o.now ?? (() => performance.now());
  if (!(maxUnread >= 1 && hardMaxUnread >= maxUnread && stallMs >= 0)) {
    throw new RangeError(`server stream bound: need 1 <= maxUnread <= hardMaxUnread and stallMs >= 0, got ${maxUnread}, ${hardMaxUnread}, ${stallMs}`);
  }
  let unread = 0;
  /** The later of the last message taken by the connection and the moment the queue stopped being empty. */
  let progressAt = 0;
  let closed = false;
  const held = new Map<string, T>();

  const close = (): boolean => {
    if (closed) return false;
    closed = true;
    held.clear();
    o.onClose();
    return true;
  };
  const flushed = (): void => {
    unread -= 1;
    progressAt = now();
    if (closed || held.size === 0 || unread >= HOLD_LATEST_PAST) return;
    const waiting = [...held.values()];
    held.clear();
    for (const m of waiting) write(m);
  };
  /** Why the stream must end before this write, or undefined. */
  const overBound = (): string | undefined => {
    if (unread >= hardMaxUnread) return `${unread} ${o.what} queued unread (the most a stream may hold)`;
    if (unread < maxUnread) return undefined;
    const idle = now() - progressAt;
    return idle >= stallMs ? `${unread} ${o.what} queued unread and none taken for ${Math.round(idle)} ms` : undefined;
  };
  const write = (m: T): boolean => {
    if (closed) return false;
    const over = overBound();
    if (over !== undefined) {
      close();
      transport.fail(`slow consumer: ${over}; ${o.recovery}`);
      return false;
    }
    if (unread === 0) progressAt = now();
    unread += 1;
    transport.write(m, flushed);
    return true;
  };
  transport.onGone(close);

  return {
    get closed() {
      return closed;
    },
    get unread() {
      return unread;
    },
    send(m, supersedes) {
      if (supersedes !== undefined) held.delete(supersedes);
      return write(m);
    },
    sendLatest(key, m) {
      if (closed) return false;
      if (unread < HOLD_LATEST_PAST) return write(m);
      held.set(key, m);
      return true;
    },
    end() {
      if (close()) transport.end();
    },
  };
}

/** A gRPC server-streaming call under the bound; the RESOURCE_EXHAUSTED status follows the messages queued. */
export function grpcServerStream<T>(call: ServerWritableStream<unknown, T>, options: ServerStreamOptions): ServerStream<T> {
  return boundedStream<T>(
    {
      write: (m, flushed) => call.write(m, () => flushed()),
      // grpc-js turns an 'error' of the call into its status, sent once the queued messages are.
      fail: (details) => call.emit('error', { code: GrpcStatus.RESOURCE_EXHAUSTED, details, message: details }),
      end: () => call.end(),
      onGone: (listener) => {
        call.on('cancelled', listener);
        call.on('close', listener);
        call.on('error', listener);
      },
    },
    options,
  );
}

/**
 * A server-sent-event response under the bound: each message is `event: <event>` with its JSON as data. The bound
 * ends it with `event: error`, data `{ error: { code: "RESOURCE_EXHAUSTED", message } }`. The caller wrote the head.
 */
export function sseServerStream<T>(res: ServerResponse, event: string, options: ServerStreamOptions): ServerStream<T> {
  return boundedStream<T>(
    {
      write: (m, flushed) => res.write(`event: ${event}\ndata: ${JSON.stringify(m)}\n\n`, () => flushed()),
      fail: (details) => res.end(`event: error\ndata: ${JSON.stringify({ error: { code: 'RESOURCE_EXHAUSTED', message: details } })}\n\n`),
      end: () => res.end(),
      onGone: (listener) => res.on('close', listener),
    },
    options,
  );
}
