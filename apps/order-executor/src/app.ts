// The order-executor service inside one pool thread: validate → risk gate (shared memory) → rate
// budget → journal → Order/place. (Service body: issue 4.)
import type { SharedState } from '@gateway/shared-state';
import type { Logger, WorkerInit } from '@gateway/runtime';
import type { Registry } from 'prom-client';

export type ExecutorTask = { kind: 'ping' };

export interface ExecutorDeps {
  init: WorkerInit;
  state: SharedState;
  logger: Logger;
  registry: Registry;
}

export function createExecutor(deps: ExecutorDeps): { start(): Promise<void>; handle(task: ExecutorTask): Promise<unknown> } {
  return {
    async start() {
      deps.logger.debug({ contracts: deps.init.contracts.length }, 'executor thread started');
    },
    async handle(task) {
      switch (task.kind) {
        case 'ping':
          return { ok: true };
      }
    },
  };
}
