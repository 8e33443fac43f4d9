// The one production process: the main thread owns the shared memory, supervises the market-data
// and risk-manager workers, runs the order-executor pool, and serves the front door. This file only
// wires; the pieces live in libs.
import type { Server } from 'node:http';
import {
  appEntry,
  bootstrapRuntime,
  closeServer,
  createLogger,
  createMetricsRegistry,
  ExecutorPool,
  listen,
  WorkerSupervisor,
  type EngineConfig,
  type Logger,
  type RuntimeBootstrap,
} from '@gateway/runtime';
import { createOpsServer } from './ops-http';

export const WORKER_APPS = ['market-data', 'risk-manager'] as const;

export interface RunningEngine {
  readonly httpPort: number;
  readonly runtime: RuntimeBootstrap;
  readonly supervisor: WorkerSupervisor;
  readonly executor: ExecutorPool;
  readonly logger: Logger;
  health(): Record<string, boolean>;
  stop(): Promise<void>;
}

export async function startEngine(config: EngineConfig, moduleUrl: string, logger = createLogger({ app: 'engine', thread: 'main', level: config.logLevel })): Promise<RunningEngine> {
  const registry = createMetricsRegistry('engine');
  const runtime = await bootstrapRuntime(config, logger, moduleUrl);
  const supervisor = new WorkerSupervisor(
    WORKER_APPS.map((app) => ({ app, file: appEntry(moduleUrl, app, 'worker'), workerData: runtime.workerInit(app) })),
    { logger },
  );
  const executor = new ExecutorPool({
    file: appEntry(moduleUrl, 'order-executor', 'worker'),
    threads: config.executorThreads,
    maxQueue: config.executorMaxQueue,
    workerData: runtime.workerInit('order-executor'),
    logger,
  });
  let server: Server | undefined;
  try {
    await Promise.all([supervisor.start(), executor.start()]);
    const health = (): Record<string, boolean> => ({
      ...Object.fromEntries(supervisor.status().map((s) => [s.app, s.ready])),
      'order-executor': executor.isReady,
    });
    server = createOpsServer({
      health,
      mainRegistry: registry,
      collectThreadMetrics: async () => [...(await supervisor.collectMetrics()), ...(await executor.collectMetrics())],
    });
    const httpPort = await listen(server, config.httpPort, config.httpHost);
    let stopped: Promise<void> | undefined;
    const httpServer = server;
    return {
      httpPort,
      runtime,
      supervisor,
      executor,
      logger,
      health,
      stop() {
        stopped ??= (async () => {
          const budget = config.shutdownTimeoutMs;
          await closeServer(httpServer);
          await Promise.all([executor.close(budget), supervisor.stop(budget)]);
          await runtime.close();
          logger.info('engine stopped');
          logger.flush();
        })();
        return stopped;
      },
    };
  } catch (err) {
    if (server) await closeServer(server);
    await Promise.allSettled([executor.close(1000), supervisor.stop(1000)]);
    await runtime.close();
    throw err;
  }
}
