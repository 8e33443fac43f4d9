// The engine's HTTP port: /healthz, /metrics, /openapi.json and the REST twins of the gRPC services
// (mounted as routes by each front-door module). Main thread.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mergeMetrics, type MetricsJson } from '@gateway/runtime';
import type { Registry } from 'prom-client';
import { FrontDoorError } from './errors';
import { sendError, sendJson } from './http-json';
import type { FrontDoorModule } from './module';

export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface HttpFrontDoorDeps {
  /** Readiness per component: 200 only when every one is ready. */
  health: () => Record<string, boolean>;
  mainRegistry: Registry;
  /** Registries of the other threads (workers, executor threads). */
  collectThreadMetrics: () => Promise<MetricsJson[]>;
  /** Front-door modules: their routes are tried in order; the first that returns true handled the request. */
  modules?: FrontDoorModule[];
  /** The OpenAPI document served at /openapi.json. */
  openapi?: unknown;
  /**
   * True once the engine drains (SIGTERM). From then on /healthz answers 503 `stopping` and a new request to a
   * module route is refused UNAVAILABLE (nothing done); both close their connection. Requests already past this
   * point (an order at the broker) are answered. /metrics and /openapi.json keep answering.
   */
  stopping?: () => boolean;
}

export function createHttpFrontDoor(deps: HttpFrontDoorDeps): Server {
  return createServer((req, res) => {
    void handle(deps, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  });
}

async function handle(deps: HttpFrontDoorDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const stopping = deps.stopping?.() ?? false;
  if (req.method === 'GET' && url.pathname === '/healthz') {
    const components = deps.health();
    if (stopping) {
      // A load balancer's kept-alive probe lands here during the drain: not ready, and no reason to stay connected.
      res.shouldKeepAlive = false;
      sendJson(res, 503, { status: 'stopping', components });
      return;
    }
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
  if (req.method === 'GET' && url.pathname === '/openapi.json' && deps.openapi) {
    const text = JSON.stringify(deps.openapi);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(text);
    return;
  }
  if (stopping) {
    // A request on a kept-alive connection while the listener is closed: refused as gRPC refuses new calls.
    res.shouldKeepAlive = false;
    sendError(res, new FrontDoorError('UNAVAILABLE', 'the engine is stopping: nothing was done, retry on its successor'));
    return;
  }
  for (const module of deps.modules ?? []) {
    for (const route of module.routes ?? []) {
      if (await route(req, res, url)) return;
    }
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}` } }));
}
