// The common body of a long-lived worker's entry (apps/<app>/src/worker.ts): attach the shared memory
// handed over in workerData, bind a logger and a metrics registry to the thread, build the app, start
// it, and say ready. Any start failure is posted as `fatal` and the thread exits non-zero, so the
// supervisor restarts it through the same path. Runs in a worker thread only.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { attachSharedState, type SharedState } from '@gateway/shared-state';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { createLogger } from './logger';
import { createMetricsRegistry } from './metrics';
import { WorkerChannel } from './worker-channel';
import type { WorkerInit } from './worker-init';

/** What a service app built inside a thread must offer. */
export interface ServiceApp {
  start(): Promise<void>;
  /** Drain in-flight work and close sockets, within deadlineMs. */
  stop(deadlineMs: number): Promise<void>;
  /** Extra facts for the ready message (ports bound, contracts subscribed). */
  readyInfo?(): Record<string, unknown>;
}

export interface WorkerContext {
  init: WorkerInit;
  state: SharedState;
  logger: Logger;
  registry: Registry;
  channel: WorkerChannel;
}

export async function runServiceWorker(create: (ctx: WorkerContext) => Promise<ServiceApp> | ServiceApp): Promise<void> {
  if (!parentPort) throw new Error('runServiceWorker must run in a worker thread');
  const init = workerData as WorkerInit;
  const logger = createLogger({ app: init.app, thread: `worker-${threadId}`, level: init.config.logLevel });
  const registry = createMetricsRegistry(init.app);
  let app: ServiceApp | undefined;
  const channel = new WorkerChannel({
    app: init.app,
    port: parentPort,
    registry,
    onShutdown: async (deadlineMs) => {
      await app?.stop(deadlineMs);
      logger.flush();
      setImmediate(() => process.exit(0));
    },
  });
  try {
    const state = attachSharedState(init.shared);
    app = await create({ init, state, logger, registry, channel });
    await app.start();
    channel.ready(app.readyInfo?.());
  } catch (err) {
    logger.fatal({ err }, `${init.app} failed to start`);
    channel.fatal(err);
    logger.flush();
    setImmediate(() => process.exit(1));
  }
}
