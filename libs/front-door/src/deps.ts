// What every front-door module gets from the engine's main thread.
import type { EngineConfig, ExecutorPool, Logger, RuntimeBootstrap, WorkerSupervisor } from '@gateway/runtime';
import type { Registry } from 'prom-client';

export interface FrontDoorDeps {
  config: EngineConfig;
  runtime: RuntimeBootstrap;
  supervisor: WorkerSupervisor;
  executor: ExecutorPool;
  logger: Logger;
  /** The main thread's metrics registry (label app="engine"). */
  registry: Registry;
}
