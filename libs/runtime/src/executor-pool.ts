// The order-executor pool: piscina, one task per order. Bounded queue (back-pressure → the front door
// answers RESOURCE_EXHAUSTED), per-task abort (gRPC deadlines), and threads that live for the life of
// the engine so they keep their event loops and their keep-alive undici pools. Main thread only.
import { BroadcastChannel, type ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { MetricsJson } from './metrics';
import { EXECUTOR_METRICS_CHANNEL } from './worker-init';

export interface ExecutorPoolOptions {
  file: string;
  threads: number;
  maxQueue: number;
  workerData: unknown;
  logger: Logger;
  /** V8 heap limits per thread (see THREAD_RESOURCE_LIMITS). */
  resourceLimits?: ResourceLimits;
}

/** Tasks every executor thread understands besides its own order tasks. */
export type ExecutorControlTask = { kind: 'warmup' };

export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';
  constructor() {
    super('order queue is full: retry later');
    this.name = 'QueueFullError';
  }
}

export class ExecutorPool {
  readonly pool: Piscina;
  private ready = false;
  private readonly metricsChannel = new BroadcastChannel(EXECUTOR_METRICS_CHANNEL);
  private metricsRequest = 0;

  constructor(private readonly options: ExecutorPoolOptions) {
    this.pool = new Piscina({
      filename: options.file,
      minThreads: options.threads,
      maxThreads: options.threads,
      maxQueue: options.maxQueue,
      // The tasks are async and I/O bound: each thread serves many orders at once on its own event loop.
      concurrentTasksPerWorker: 64,
      // Keep threads (and their undici keep-alive pools) for the life of the engine.
      idleTimeout: 2 ** 31 - 1,
      atomics: 'disabled',
      workerData: options.workerData,
      recordTiming: false,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    this.pool.on('error', (err) => options.logger.error({ err }, 'executor thread error'));
    // Piscina replaces a thread that dies; this is only for the log line.
    this.pool.on('workerDestroy', () => options.logger.warn('executor thread exited; piscina replaces it'));
    (this.metricsChannel as unknown as { unref?: () => void }).unref?.();
  }

  get isReady(): boolean {
    return this.ready;
  }

  get queueSize(): number {
    return this.pool.queueSize;
  }

  /** Run one warm-up task per thread: resolves when the threads have loaded and initialised. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.threads }, () => this.pool.run({ kind: 'warmup' } satisfies ExecutorControlTask)));
    this.ready = true;
  }

  /** Run a task; a full queue is a QueueFullError (the caller answers RESOURCE_EXHAUSTED). */
  async run<T>(task: unknown, signal?: AbortSignal): Promise<T> {
    if (this.pool.queueSize >= this.options.maxQueue) throw new QueueFullError();
    try {
      return (await this.pool.run(task, signal ? { signal } : {})) as T;
    } catch (err) {
      if (err instanceof Error && /queue is at limit/i.test(err.message)) throw new QueueFullError();
      throw err;
    }
  }

  /** Each executor thread's registry, collected over a broadcast channel (piscina threads have no port of ours). */
  async collectMetrics(timeoutMs = 1000): Promise<MetricsJson[]> {
    const id = ++this.metricsRequest;
    const listener = new BroadcastChannel(EXECUTOR_METRICS_CHANNEL);
    const out: MetricsJson[] = [];
    const expected = this.pool.threads.length;
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        listener.onmessage = (ev: unknown) => {
          const data = (ev as { data: { kind: string; id: number; metrics?: MetricsJson } }).data;
          if (data.kind === 'metrics' && data.id === id && data.metrics) {
            out.push(data.metrics);
            if (out.length >= expected) {
              clearTimeout(timer);
              resolve();
            }
          }
        };
        this.metricsChannel.postMessage({ kind: 'metrics-request', id });
      });
    } finally {
      listener.close();
    }
    return out;
  }

  /** Drain: queued and in-flight orders finish (or the deadline passes), then the threads stop. */
  async close(timeoutMs: number): Promise<void> {
    this.ready = false;
    this.metricsChannel.close();
    await Promise.race([this.pool.close({ force: false }), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    await this.pool.destroy();
  }
}
