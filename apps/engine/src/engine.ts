// The one production process: the main thread owns the shared memory, supervises the market-data
// and risk-manager workers, runs the order-executor pool, and serves the front door (gRPC + the REST
// twins on the HTTP port). This file only wires; the pieces live in libs.
import type { Server } from 'node:http';
import {
  buildOpenApi,
  createHttpFrontDoor,
  createMarketDataModule,
  createOrdersModule,
  createRiskModule,
  startGrpcFrontDoor,
  type FrontDoorDeps,
  type FrontDoorModule,
  type GrpcFrontDoor,
} from '@gateway/front-door';
import {
  appEntry,
  bootstrapRuntime,
  closeServer,
  createLogger,
  createMetricsRegistry,
  ExecutorPool,
  listen,
  lockDataDir,
  THREAD_RESOURCE_LIMITS,
  WorkerSupervisor,
  type EngineConfig,
  type Logger,
  type RuntimeBootstrap,
} from '@gateway/runtime';
import type { Registry } from 'prom-client';

export const WORKER_APPS = ['market-data', 'risk-manager'] as const;

export interface RunningEngine {
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly runtime: RuntimeBootstrap;
  readonly supervisor: WorkerSupervisor;
  readonly executor: ExecutorPool;
  readonly logger: Logger;
  readonly registry: Registry;
  health(): Record<string, boolean>;
  stop(): Promise<void>;
}

/** Longest wait at start for every component to report ready before startEngine returns anyway. */
const READY_WAIT_MS = 60_000;

/** The front-door modules of the three services (orders, market data, risk), in routing order. */
function frontDoorModules(deps: FrontDoorDeps): FrontDoorModule[] {
  return [createOrdersModule(deps), createMarketDataModule(deps), createRiskModule(deps)];
}

export async function startEngine(
  config: EngineConfig,
  moduleUrl: string,
  logger = createLogger({ app: 'engine', thread: 'main', level: config.logLevel }),
): Promise<RunningEngine> {
  const registry = createMetricsRegistry('engine');
  // Before anything starts: a second engine on this DATA_DIR stops here (DATA_DIR_IN_USE).
  const lock = await lockDataDir(config.dataDir, logger);
  let runtime: RuntimeBootstrap;
  try {
    runtime = await bootstrapRuntime(config, logger, moduleUrl);
  } catch (err) {
    await lock.release();
    throw err;
  }
  const supervisor = new WorkerSupervisor(
    WORKER_APPS.map((app) => ({
      app,
      file: appEntry(moduleUrl, app, 'worker'),
      workerData: runtime.workerInit(app),
      resourceLimits: THREAD_RESOURCE_LIMITS,
    })),
    { logger },
  );
  // The stale flags' writer is the market-data thread. While it is dead (until the supervisor's restart
  // is ready, seconds of back-off) nobody would age the marks, so the executor would gate entries on
  // frozen prices: fail closed here, and the new thread clears each flag once its feed delivers.
  supervisor.on('exit', (app: string) => {
    if (app !== 'market-data') return;
    for (const c of runtime.contracts) runtime.state.marks.setStale(c.slot, true);
  });
  const executor = new ExecutorPool({
    file: appEntry(moduleUrl, 'order-executor', 'worker'),
    threads: config.executorThreads,
    maxQueue: config.executorMaxQueue,
    workerData: runtime.workerInit('order-executor'),
    logger,
    resourceLimits: THREAD_RESOURCE_LIMITS,
  });
  let http: Server | undefined;
  let grpc: GrpcFrontDoor | undefined;
  const modules = frontDoorModules({ config, runtime, supervisor, executor, logger, registry });
  // Set when the drain starts: /healthz answers 503 and a new request on a kept-alive connection is refused
  // (nothing done), while requests already in progress get the HTTP grace to be answered.
  let stopping = false;
  try {
    await Promise.all([supervisor.start(), executor.start()]);
    const health = (): Record<string, boolean> => ({
      ...Object.fromEntries(supervisor.status().map((s) => [s.app, s.ready])),
      'order-executor': executor.isReady,
      ...Object.fromEntries(modules.filter((m) => m.grpc && m.isReady).map((m) => [m.grpc!.name, m.isReady!()])),
    });
    grpc = await startGrpcFrontDoor({
      host: config.grpcHost,
      port: config.grpcPort,
      services: modules.flatMap((m) => (m.grpc ? [m.grpc] : [])),
    });
    http = createHttpFrontDoor({
      health,
      mainRegistry: registry,
      collectThreadMetrics: async () => [...(await supervisor.collectMetrics()), ...(await executor.collectMetrics())],
      modules,
      openapi: buildOpenApi(modules, '0.1.0'),
      stopping: () => stopping,
    });
    const httpPort = await listen(http, config.httpPort, config.httpHost);

    // The gRPC health service follows readiness: "" serves only when every component does.
    const grpcDoor = grpc;
    const publishHealth = (): void => {
      const h = health();
      grpcDoor.setServing('', Object.values(h).every(Boolean));
      for (const m of modules) if (m.grpc) grpcDoor.setServing(m.grpc.name, m.isReady ? m.isReady() : true);
    };
    publishHealth();
    supervisor.on('ready', publishHealth);
    supervisor.on('not-ready', publishHealth);
    supervisor.on('exit', publishHealth);
    const healthTimer = setInterval(publishHealth, 1000);
    healthTimer.unref();
    // main.ts prints the ready line when this returns: wait until every component is ready (the orders
    // module replays its journal and reconciles with the broker in the background), so that "engine ready"
    // means /healthz answers 200 and the gRPC health service SERVING. Bounded: a component that stays down
    // is reported by /healthz, not by a start that never ends.
    const readyBy = Date.now() + READY_WAIT_MS;
    while (!Object.values(health()).every(Boolean) && Date.now() < readyBy) await new Promise((r) => setTimeout(r, 20));
    if (!Object.values(health()).every(Boolean)) logger.warn({ components: health() }, 'engine started with components not ready');
    publishHealth();

    let stopped: Promise<void> | undefined;
    const httpServer = http;
    return {
      httpPort,
      grpcPort: grpc.port,
      runtime,
      supervisor,
      executor,
      logger,
      registry,
      health,
      stop() {
        stopped ??= (async () => {
          const budget = config.shutdownTimeoutMs;
          // Both health surfaces report the drain at once (before the doors close): /healthz through `stopping`,
          // the gRPC health service NOT_SERVING for every service; a worker that turns ready meanwhile changes neither.
          stopping = true;
          clearInterval(healthTimer);
          supervisor.off('ready', publishHealth);
          supervisor.off('not-ready', publishHealth);
          supervisor.off('exit', publishHealth);
          grpcDoor.drain();
          // New calls stop first, calls in progress are answered within half the budget (either door);
          // in-flight orders drain in the pool; then the workers stop.
          await Promise.all([grpcDoor.close(budget / 2), closeServer(httpServer, budget / 2)]);
          await Promise.all(modules.map((m) => m.stop?.(budget / 2)));
          await Promise.all([executor.close(budget / 2), supervisor.stop(budget / 2)]);
          await runtime.close();
          await lock.release();
          logger.info('engine stopped');
          logger.flush();
        })();
        return stopped;
      },
    };
  } catch (err) {
    if (http) await closeServer(http);
    if (grpc) await grpc.close(100);
    await Promise.allSettled([executor.close(1000), supervisor.stop(1000)]);
    await runtime.close();
    await lock.release();
    throw err;
  }
}
