// `npx nx serve <app>`: one service alone, in development. Same code path as in the engine: the
// main thread bootstraps the broker session (the embedded simulator unless TOPSTEPX_API_URL is set)
// and allocates its own shared memory, then runs the app's worker entry in a thread under the same
// supervisor, and serves /healthz and /metrics on HTTP_PORT.
import { createServer } from 'node:http';
import { bootstrapRuntime } from './bootstrap';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { createMetricsRegistry, mergeMetrics, type MetricsJson } from './metrics';
import { closeServer, listen } from './ports';
import { ExecutorPool } from './executor-pool';
import { WorkerSupervisor } from './supervisor';
import { appEntry } from './worker-entry';

/**
 * @param kind `service`: a long-lived worker under the supervisor; `pool`: a piscina task module
 *   (the order-executor) run as an ExecutorPool.
 */
export async function runStandalone(app: string, callerUrl: string, kind: 'service' | 'pool' = 'service'): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${app}: bad configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ app, thread: 'main', level: config.logLevel });
  const runtime = await bootstrapRuntime(config, logger, callerUrl);
  const file = appEntry(callerUrl, app, 'worker');
  const supervisor = new WorkerSupervisor(kind === 'service' ? [{ app, file, workerData: runtime.workerInit(app) }] : [], { logger });
  const pool =
    kind === 'pool'
      ? new ExecutorPool({ file, threads: config.executorThreads, maxQueue: config.executorMaxQueue, workerData: runtime.workerInit(app), logger })
      : undefined;
  await Promise.all([supervisor.start(), pool?.start()]);
  const isReady = (): boolean => (pool ? pool.isReady : supervisor.isReady(app));
  const threadMetrics = async (): Promise<MetricsJson[]> => (pool ? pool.collectMetrics() : supervisor.collectMetrics());
  const registry = createMetricsRegistry(`${app}-main`);
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/healthz') {
        const ready = isReady();
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ready ? 'ready' : 'not-ready', components: { [app]: ready } }));
      } else if (req.url === '/metrics') {
        const merged = await mergeMetrics([(await registry.getMetricsAsJSON()) as MetricsJson, ...(await threadMetrics())]);
        res.writeHead(200, { 'content-type': merged.contentType });
        res.end(merged.body);
      } else {
        res.writeHead(404).end();
      }
    })();
  });
  const port = await listen(server, config.httpPort, config.httpHost);
  process.stdout.write(`${app} ready (alone): http ${config.httpHost}:${port} · broker ${runtime.broker.apiUrl}\n`);
  const stop = async (): Promise<void> => {
    await closeServer(server);
    await Promise.all([supervisor.stop(config.shutdownTimeoutMs), pool?.close(config.shutdownTimeoutMs)]);
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
