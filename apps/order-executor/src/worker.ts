// Thread entry of the order-executor: a piscina task module, one task per order. The thread builds
// its executor once (shared memory views, keep-alive broker pool) and keeps it for its whole life.
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { workerData } from 'piscina';
import { attachLedger, attachSharedState } from '@gateway/shared-state';
import {
  createLogger,
  createMetricsRegistry,
  EXECUTOR_METRICS_CHANNEL,
  type ExecutorControlTask,
  type ExecutorThreadData,
  type WorkerInit,
} from '@gateway/runtime';
import { createExecutor, type ExecutorTask } from './app';

const data = workerData as ExecutorThreadData<WorkerInit>;
const init = data.init;
const logger = createLogger({ app: 'order-executor', thread: `worker-${threadId}`, level: init.config.logLevel });
const registry = createMetricsRegistry('order-executor');
const executor = createExecutor({
  init,
  state: attachSharedState(init.shared),
  logger,
  registry,
  ledger: attachLedger(data.ledger),
  ...(data.faults.length > 0 ? { faults: data.faults } : {}),
});
const ready = executor.start();

// Metrics requests arrive on a broadcast channel: piscina threads have no message port of ours.
const metricsChannel = new BroadcastChannel(EXECUTOR_METRICS_CHANNEL);
(metricsChannel as unknown as { unref(): void }).unref();
metricsChannel.onmessage = (ev: unknown) => {
  const data = (ev as { data: { kind: string; id: number } }).data;
  if (data.kind !== 'metrics-request') return;
  void registry.getMetricsAsJSON().then((metrics) => metricsChannel.postMessage({ kind: 'metrics', id: data.id, threadId, metrics }));
};

export default async function run(task: ExecutorTask | ExecutorControlTask): Promise<unknown> {
  await ready;
  if (task.kind === 'warmup') return { threadId };
  return executor.handle(task);
}
