// The engine's supervisor of long-lived worker threads (market-data, risk-manager). Main thread only.
// A worker is started, must say `ready` within readyTimeoutMs, and is restarted through the same
// start path with exponential backoff when it dies. The shared memory is owned by the main thread,
// so what the dead worker wrote survives and the new worker reconciles from it.
import { EventEmitter } from 'node:events';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { MetricsJson } from './metrics';
import type { ParentToWorker, SerializedError, WorkerToParent } from './worker-protocol';
import { RemoteError, withTimeout } from './worker-protocol';

export interface WorkerSpec {
  app: string;
  /** Absolute path of the thread entry (compiled .js or the dev .mjs shim). */
  file: string;
  workerData: unknown;
  /** Default 60 000 ms (a loaded CI machine compiles TypeScript on first start in dev). */
  readyTimeoutMs?: number;
  resourceLimits?: ResourceLimits;
}

export interface SupervisorOptions {
  logger: Logger;
  /** First restart delay (default 100 ms), doubled per consecutive death up to maxBackoffMs (default 5 000 ms). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A worker ready for this long has its backoff reset (default 30 000 ms). */
  stableAfterMs?: number;
}

export interface WorkerStatus {
  app: string;
  ready: boolean;
  threadId: number | undefined;
  restarts: number;
  lastExitCode: number | undefined;
  lastError: string | undefined;
  info: Record<string, unknown> | undefined;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

class Supervised {
  worker: Worker | undefined;
  ready = false;
  restarts = 0;
  consecutiveDeaths = 0;
  readySince = 0;
  lastExitCode: number | undefined;
  lastError: string | undefined;
  info: Record<string, unknown> | undefined;
  readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  restartTimer: NodeJS.Timeout | undefined;
  constructor(readonly spec: WorkerSpec) {}
}

export class WorkerSupervisor extends EventEmitter {
  private readonly workers = new Map<string, Supervised>();
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private stopping = false;
  private readonly log: Logger;

  constructor(
    specs: WorkerSpec[],
    private readonly options: SupervisorOptions,
  ) {
    super();
    this.log = options.logger;
    for (const spec of specs) this.workers.set(spec.app, new Supervised(spec));
  }

  /** Start every worker and wait until each is ready. */
  async start(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => this.spawn(w)));
  }

  status(): WorkerStatus[] {
    return [...this.workers.values()].map((w) => ({
      app: w.spec.app,
      ready: w.ready,
      threadId: w.worker?.threadId,
      restarts: w.restarts,
      lastExitCode: w.lastExitCode,
      lastError: w.lastError,
      info: w.info,
    }));
  }

  isReady(app: string): boolean {
    return this.workers.get(app)?.ready ?? false;
  }

  /** Resolves when the app is (again) ready; rejects after timeoutMs. */
  waitReady(app: string, timeoutMs: number): Promise<void> {
    const w = this.mustGet(app);
    if (w.ready) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve, reject) => w.readyWaiters.push({ resolve, reject })),
      timeoutMs,
      `${app} ready`,
    );
  }

  /** Terminate a worker as if it had crashed (tests, and the operator's kill switch for a stuck thread). */
  async kill(app: string): Promise<void> {
    const w = this.mustGet(app);
    await w.worker?.terminate();
  }

  /** Call a method served by a worker (thread protocol `request`). */
  request(app: string, method: string, params: unknown, timeoutMs = 5000): Promise<unknown> {
    const w = this.mustGet(app);
    if (!w.worker || !w.ready) return Promise.reject(new RemoteError('NOT_READY', `${app} is not ready`));
    const requestId = this.nextRequestId++;
    const p = new Promise<unknown>((resolve, reject) => this.pending.set(requestId, { resolve, reject }));
    this.send(w, { kind: 'request', requestId, method, params });
    return withTimeout(p, timeoutMs, `${app}.${method}`).finally(() => this.pending.delete(requestId));
  }

  /** Every ready worker's registry as JSON; a worker that does not answer in time is left out. */
  async collectMetrics(timeoutMs = 2000): Promise<MetricsJson[]> {
    const out: MetricsJson[] = [];
    await Promise.all(
      [...this.workers.values()].map(async (w) => {
        if (!w.worker) return;
        const requestId = this.nextRequestId++;
        const p = new Promise<unknown>((resolve, reject) => this.pending.set(requestId, { resolve, reject }));
        this.send(w, { kind: 'metrics-request', requestId });
        try {
          out.push((await withTimeout(p, timeoutMs, `${w.spec.app} metrics`)) as MetricsJson);
        } catch (err) {
          this.log.warn({ err, worker: w.spec.app }, 'metrics not collected');
        } finally {
          this.pending.delete(requestId);
        }
      }),
    );
    return out;
  }

  /** Ask every worker to drain and stop; terminate what has not stopped by the deadline. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.workers.values()].map(async (w) => {
        clearTimeout(w.restartTimer);
        const worker = w.worker;
        if (!worker) return;
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        this.send(w, { kind: 'shutdown', deadlineMs: timeoutMs });
        try {
          await withTimeout(exited, timeoutMs, `${w.spec.app} shutdown`);
        } catch {
          this.log.warn({ worker: w.spec.app }, 'worker did not stop in time; terminating');
          await worker.terminate();
        }
      }),
    );
  }

  private mustGet(app: string): Supervised {
    const w = this.workers.get(app);
    if (!w) throw new Error(`no worker named ${app}`);
    return w;
  }

  private send(w: Supervised, msg: ParentToWorker): void {
    w.worker?.postMessage(msg);
  }

  private spawn(w: Supervised): Promise<void> {
    const { spec } = w;
    const worker = new Worker(spec.file, {
      workerData: spec.workerData,
      name: spec.app,
      ...(spec.resourceLimits ? { resourceLimits: spec.resourceLimits } : {}),
    });
    w.worker = worker;
    w.ready = false;
    const ready = this.waitReady(spec.app, spec.readyTimeoutMs ?? 60_000);
    worker.on('message', (msg: WorkerToParent) => this.onMessage(w, msg));
    worker.on('error', (err) => {
      w.lastError = err.message;
      this.log.error({ err, worker: spec.app }, 'worker error');
    });
    worker.on('exit', (code) => this.onExit(w, worker, code));
    return ready.catch(async (err: Error) => {
      // A worker that never became ready is a failed start: stop it, and let onExit restart it.
      this.log.error({ err, worker: spec.app, lastError: w.lastError }, 'worker not ready in time');
      await worker.terminate();
      // A worker that died on start (a port taken, a bad setting) is restarted until the timeout: the
      // start's error names what it died of, not only the timeout.
      if (w.lastError !== undefined) err.message += `; last error of ${spec.app} (${w.restarts} restarts): ${w.lastError}`;
      throw err;
    });
  }

  private onMessage(w: Supervised, msg: WorkerToParent): void {
    switch (msg.kind) {
      case 'ready': {
        w.ready = true;
        w.readySince = Date.now();
        w.info = msg.info;
        this.log.info({ worker: w.spec.app, threadId: w.worker?.threadId, restarts: w.restarts }, 'worker ready');
        for (const waiter of w.readyWaiters.splice(0)) waiter.resolve();
        this.emit('ready', w.spec.app);
        return;
      }
      case 'not-ready': {
        w.ready = false;
        this.log.warn({ worker: w.spec.app, reason: msg.reason }, 'worker not ready');
        this.emit('not-ready', w.spec.app, msg.reason);
        return;
      }
      case 'fatal': {
        w.lastError = msg.error.message;
        this.log.error({ worker: w.spec.app, error: msg.error }, 'worker fatal error');
        return;
      }
      case 'metrics':
      case 'response': {
        const p = this.pending.get(msg.requestId);
        if (!p) return;
        this.pending.delete(msg.requestId);
        if (msg.kind === 'metrics') p.resolve(msg.metrics);
        else if (msg.ok) p.resolve(msg.result);
        else p.reject(toRemoteError(msg.error));
        return;
      }
      case 'event': {
        this.emit('event', w.spec.app, msg.topic, msg.payload);
        return;
      }
      case 'stopped': {
        w.ready = false;
        return;
      }
      default: {
        const never: never = msg;
        this.log.error({ msg: never }, 'unknown worker message');
      }
    }
  }

  private onExit(w: Supervised, worker: Worker, code: number): void {
    if (w.worker !== worker) return;
    w.worker = undefined;
    w.ready = false;
    w.lastExitCode = code;
    this.emit('exit', w.spec.app, code);
    if (this.stopping) return;
    const stable = w.readySince > 0 && Date.now() - w.readySince > (this.options.stableAfterMs ?? 30_000);
    w.consecutiveDeaths = stable ? 1 : w.consecutiveDeaths + 1;
    const delay = Math.min(
      (this.options.initialBackoffMs ?? 100) * 2 ** (w.consecutiveDeaths - 1),
      this.options.maxBackoffMs ?? 5000,
    );
    w.restarts += 1;
    this.log.error(
      { worker: w.spec.app, exitCode: code, restart: w.restarts, backoffMs: delay, lastError: w.lastError },
      `worker ${w.spec.app} died (exit code ${code}); restarting in ${delay} ms`,
    );
    w.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.spawn(w).catch(() => undefined);
    }, delay);
  }
}

function toRemoteError(e: SerializedError): RemoteError {
  return new RemoteError(e.code, e.message);
}

