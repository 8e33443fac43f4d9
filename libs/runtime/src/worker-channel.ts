// The worker side of the thread protocol (see worker-protocol.ts). A worker.ts creates one channel,
// registers request handlers, starts its app, then calls ready(). Runs in a worker thread only.
import type { MessagePort } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { ParentToWorker, WorkerToParent } from './worker-protocol';
import { serializeError } from './worker-protocol';
import type { MetricsJson } from './metrics';

export type RequestHandler = (params: unknown) => unknown | Promise<unknown>;

export interface WorkerChannelOptions {
  app: string;
  port: MessagePort;
  registry: Registry;
  /** Called on shutdown; must resolve when the service has drained and closed its sockets. */
  onShutdown: (deadlineMs: number) => Promise<void>;
}

export class WorkerChannel {
  private readonly handlers = new Map<string, RequestHandler>();

  constructor(private readonly options: WorkerChannelOptions) {
    options.port.on('message', (msg: ParentToWorker) => void this.dispatch(msg));
  }

  onRequest(method: string, handler: RequestHandler): void {
    this.handlers.set(method, handler);
  }

  ready(info?: Record<string, unknown>): void {
    this.post({ kind: 'ready', app: this.options.app, ...(info ? { info } : {}) });
  }

  notReady(reason: string): void {
    this.post({ kind: 'not-ready', app: this.options.app, reason });
  }

  emit(topic: string, payload: unknown): void {
    this.post({ kind: 'event', topic, payload });
  }

  /** Report an unrecoverable error; the caller exits the thread after it. */
  fatal(err: unknown): void {
    this.post({ kind: 'fatal', app: this.options.app, error: serializeError(err) });
  }

  private post(msg: WorkerToParent): void {
    this.options.port.postMessage(msg);
  }

  private async dispatch(msg: ParentToWorker): Promise<void> {
    switch (msg.kind) {
      case 'metrics-request': {
        const metrics = (await this.options.registry.getMetricsAsJSON()) as MetricsJson;
        this.post({ kind: 'metrics', requestId: msg.requestId, metrics });
        return;
      }
      case 'request': {
        const handler = this.handlers.get(msg.method);
        if (!handler) {
          this.post({
            kind: 'response',
            requestId: msg.requestId,
            ok: false,
            error: { message: `unknown method ${msg.method}`, code: 'UNKNOWN_METHOD' },
          });
          return;
        }
        try {
          const result = await handler(msg.params);
          this.post({ kind: 'response', requestId: msg.requestId, ok: true, result });
        } catch (err) {
          this.post({ kind: 'response', requestId: msg.requestId, ok: false, error: serializeError(err) });
        }
        return;
      }
      case 'shutdown': {
        try {
          await this.options.onShutdown(msg.deadlineMs);
        } finally {
          this.post({ kind: 'stopped', app: this.options.app });
        }
        return;
      }
      default: {
        const never: never = msg;
        throw new Error(`unhandled message ${JSON.stringify(never)}`);
      }
    }
  }
}
