// The thread protocol between the engine's main thread (the supervisor) and its long-lived workers
// (market-data, risk-manager). One table of message kinds, exhaustive switches on both sides, a ready
// handshake, fatal errors posted to the parent, and a timeout on every wait. No Atomics.wait: the
// workers own sockets.
//
//  kind (worker → parent)   when
//  ───────────────────────  ─────────────────────────────────────────────────────────────
//  ready                    the service is serving (handshake; the supervisor marks it ready)
//  not-ready                the service lost readiness (e.g. broker hub reconnecting)
//  fatal                    an unrecoverable error; the worker exits right after
//  metrics                  answer to metrics-request: the thread's registry as JSON
//  response                 answer to request (ok + result, or error with code)
//  event                    a domain event pushed to the main thread (order update, risk event, bar)
//  stopped                  answer to shutdown: the service stopped cleanly
//
//  kind (parent → worker)   when
//  ───────────────────────  ─────────────────────────────────────────────────────────────
//  metrics-request          /metrics asks every thread
//  request                  a front-door call served by the worker (GetBars, Halt, …)
//  shutdown                 SIGINT/SIGTERM: drain and stop within deadlineMs
import type { MetricsJson } from './metrics';

export interface SerializedError {
  message: string;
  code?: string;
  stack?: string;
}

export type WorkerToParent =
  | { kind: 'ready'; app: string; info?: Record<string, unknown> }
  | { kind: 'not-ready'; app: string; reason: string }
  | { kind: 'fatal'; app: string; error: SerializedError }
  | { kind: 'metrics'; requestId: number; metrics: MetricsJson }
  | { kind: 'response'; requestId: number; ok: true; result: unknown }
  | { kind: 'response'; requestId: number; ok: false; error: SerializedError }
  | { kind: 'event'; topic: string; payload: unknown }
  | { kind: 'stopped'; app: string };

export type ParentToWorker =
  | { kind: 'metrics-request'; requestId: number }
  | { kind: 'request'; requestId: number; method: string; params: unknown }
  | { kind: 'shutdown'; deadlineMs: number };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { message: String(err) };
}

/** An error that came back over the thread protocol, keeping its stable code. */
export class RemoteError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

export class TimeoutError extends Error {
  readonly code = 'TIMEOUT';
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
