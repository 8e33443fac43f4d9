// The order-executor pool: piscina, one task per order. Bounded queue (back-pressure → the front door
// answers RESOURCE_EXHAUSTED), per-task abort (gRPC deadlines), and threads that live for the life of
// the engine so they keep their event loops and their keep-alive undici pools. Main thread only.
//
// It also owns the reservation ledger (@gateway/shared-state ledger.ts, ADR 0003 "Releasing"): every order task
// runs with an armed entry, in which its thread's risk gate records each claim as it makes it. The task's answer
// carries its reservation (the entry is settled, nothing released); a task that fails instead — its thread died
// (uncaught error, process.exit, out of memory) or it threw — is reclaimed from the entry, and the claim it held
// travels with the ExecutorTaskError to the order book, which releases it exactly once like any other.
import { BroadcastChannel, type ResourceLimits } from 'node:worker_threads';
import { allocateLedger, attachLedger, type LedgerBuffers, type LedgerClaim, type LedgerHold, type ReservationLedger } from '@gateway/shared-state';
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
  /** Tests only (the engine and the standalone runner never set it): faults the threads act out on cue. */
  faults?: readonly ExecutorFault[];
}

/**
 * A fault an executor thread acts out, for tests of the recovery paths, on the place tasks of one strategy:
 * `after-claim` once the risk gate has reserved (before the journal and the send), `after-answer` just after the
 * task has answered; `exit` ends the thread with process.exit, `uncaught` with an uncaught exception.
 */
export interface ExecutorFault {
  readonly strategy: string;
  readonly when: 'after-claim' | 'after-answer';
  readonly how: 'exit' | 'uncaught';
}

/** What each executor thread receives as workerData. */
export interface ExecutorThreadData<T = unknown> {
  /** ExecutorPoolOptions.workerData, as given. */
  readonly init: T;
  /** The pool's reservation ledger; a task's entry arrives as its `ledgerHold`. */
  readonly ledger: LedgerBuffers;
  readonly faults: readonly ExecutorFault[];
}

/** The field runReserving() adds to a task: its entry in the reservation ledger, for the thread's risk gate. */
export interface LedgerTask {
  readonly ledgerHold?: LedgerHold;
}

/** Tasks every executor thread understands besides its own order tasks. */
export type ExecutorControlTask = { kind: 'warmup' };

/** Order tasks one thread runs at once (piscina concurrentTasksPerWorker). */
const TASKS_PER_THREAD = 64;

export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';
  constructor() {
    super('order queue is full: retry later');
    this.name = 'QueueFullError';
  }
}

/**
 * A task that failed without an answer (its thread died, or the task threw). `held`: what its risk gate had reserved
 * and not handed over, taken back from the ledger — the caller owns it now and releases it exactly once.
 */
export class ExecutorTaskError extends Error {
  readonly code = 'EXECUTOR_TASK_FAILED';
  constructor(
    override readonly cause: unknown,
    readonly held: LedgerClaim | undefined,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'ExecutorTaskError';
  }
}

export class ExecutorPool {
  readonly pool: Piscina;
  /** Main thread's view of the reservation ledger (arm / settle / reclaim). */
  readonly ledger: ReservationLedger;
  private ready = false;
  private readonly metricsChannel = new BroadcastChannel(EXECUTOR_METRICS_CHANNEL);
  private metricsRequest = 0;

  constructor(private readonly options: ExecutorPoolOptions) {
    // Every queued and running task holds an entry until its answer is consumed; twice the running capacity covers
    // answers not yet consumed when new tasks are queued. A full ledger answers as a full queue.
    const ledger = allocateLedger(options.maxQueue + 2 * options.threads * TASKS_PER_THREAD);
    this.ledger = attachLedger(ledger);
    const threadData: ExecutorThreadData = { init: options.workerData, ledger, faults: options.faults ?? [] };
    this.pool = new Piscina({
      filename: options.file,
      minThreads: options.threads,
      maxThreads: options.threads,
      maxQueue: options.maxQueue,
      // The tasks are async and I/O bound: each thread serves many orders at once on its own event loop.
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      // Keep threads (and their undici keep-alive pools) for the life of the engine.
      idleTimeout: 2 ** 31 - 1,
      atomics: 'disabled',
      workerData: threadData,
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

  /**
   * Runs a task whose thread may reserve in the risk gate (an order), with an armed ledger entry as its `ledgerHold`.
   * Resolves with the thread's answer, which carries any reservation. Rejects with QueueFullError (nothing ran), or
   * ExecutorTaskError carrying what the task held when it failed without an answer. No AbortSignal: piscina rejects
   * an aborted task before its thread has stopped (ADR 0004: deadlines are checked in the task instead). The one such
   * case left, close() destroying the threads, is covered by the ledger's tickets: the late gate's moves fail and it
   * gives back itself what it claimed.
   */
  async runReserving<T>(task: object): Promise<T> {
    if (this.pool.queueSize >= this.options.maxQueue) throw new QueueFullError();
    const hold = this.ledger.arm();
    if (hold === undefined) throw new QueueFullError();
    let out: T;
    try {
      out = (await this.pool.run({ ...task, ledgerHold: hold } satisfies LedgerTask)) as T;
    } catch (err) {
      // Piscina rejects a started task only once the task's code has finished (it threw) or its thread has stopped
      // (error / exit events come after the thread can run no more JS): the entry no longer changes.
      const held = this.ledger.reclaim(hold);
      if (err instanceof Error && /queue is at limit/i.test(err.message)) throw new QueueFullError();
      if (held) this.options.logger.warn({ err, held }, 'executor task failed holding a reservation: handed to the order book');
      throw new ExecutorTaskError(err, held);
    }
    this.ledger.settle(hold);
    return out;
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
