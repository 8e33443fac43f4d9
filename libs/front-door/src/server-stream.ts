// The one bound of every server stream of the front door (gRPC server streaming and the server-sent-event
// twins): a client that stops reading is ended with RESOURCE_EXHAUSTED once STREAM_MAX_UNREAD messages wait
// for it. Without it a client that never reads grows the engine's memory without end; skipping messages
// instead would hide a lost order update or risk event. Main thread.
import type { ServerResponse } from 'node:http';
import { status as GrpcStatus, type ServerWritableStream } from '@grpc/grpc-js';

/**
 * Messages one stream may hold for its client, written but not yet taken by the connection (HTTP/2 or TCP flow
 * control holds them in the engine; an order update or risk event is ~100–400 B): one more ends the stream.
 */
export const STREAM_MAX_UNREAD = 4_096;

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
  /** Default STREAM_MAX_UNREAD. */
  maxUnread?: number;
}

export interface ServerStream<T> {
  readonly closed: boolean;
  /**
   * Queues a message (`supersedes`: the key of a held latest-state message it replaces, e.g. the closed bar of an
   * in-progress one). False once the stream is closed, before or now because the client is maxUnread behind.
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
  let unread = 0;
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
    if (closed || held.size === 0 || unread >= HOLD_LATEST_PAST) return;
    const waiting = [...held.values()];
    held.clear();
    for (const m of waiting) write(m);
  };
  const write = (m: T): boolean => {
    if (closed) return false;
    if (unread >= maxUnread) {
      close();
      transport.fail(`slow consumer: ${maxUnread} ${o.what} queued unread; ${o.recovery}`);
      return false;
    }
    unread += 1;
    transport.write(m, flushed);
    return true;
  };
  transport.onGone(close);

  return {
    get closed() {
      return closed;
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
