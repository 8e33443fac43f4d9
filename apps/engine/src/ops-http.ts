// The engine's HTTP port: /healthz and /metrics here; the REST twins of the gRPC front door are
// mounted by the front door on the same server. Main thread.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mergeMetrics, type MetricsJson } from '@gateway/runtime';
import type { Registry } from 'prom-client';

export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface OpsHttpDeps {
  /** Readiness per component: 200 only when every one is ready. */
  health: () => Record<string, boolean>;
  mainRegistry: Registry;
  /** Registries of the other threads (workers, executor threads). */
  collectThreadMetrics: () => Promise<MetricsJson[]>;
  /** Further routes (the REST twins); the first that returns true handled the request. */
  routes?: Route[];
}

export function createOpsServer(deps: OpsHttpDeps): Server {
  return createServer((req, res) => {
    void handle(deps, req, res).catch((err: Error) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'INTERNAL', message: err.message } }));
      } else res.destroy();
    });
  });
}

async function handle(deps: OpsHttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/healthz') {
    const components = deps.health();
    const ready = Object.values(components).every(Boolean);
    res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: ready ? 'ready' : 'not-ready', components }));
    return;
  }
  if (req.method === 'GET' && url.pathname === '/metrics') {
    const parts = [(await deps.mainRegistry.getMetricsAsJSON()) as MetricsJson, ...(await deps.collectThreadMetrics())];
    const merged = await mergeMetrics(parts);
    res.writeHead(200, { 'content-type': merged.contentType });
    res.end(merged.body);
    return;
  }
  for (const route of deps.routes ?? []) {
    if (await route(req, res, url)) return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}` } }));
}
