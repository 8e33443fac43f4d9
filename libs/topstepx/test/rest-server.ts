// A tiny scriptable REST server for the client tests: node:http on 127.0.0.1, port 0.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export type Route = (req: SeenRequest, res: ServerResponse, nth: number) => void;

export interface RestServer {
  baseUrl: string;
  /** Requests seen per path (`/api/Order/place`), in order. */
  seen: Map<string, SeenRequest[]>;
  count(path: string): number;
  route(path: string, handler: Route): void;
  close(): Promise<void>;
}

export function json(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function ok(payload: Record<string, unknown> = {}): Record<string, unknown> {
  return { success: true, errorCode: 0, errorMessage: null, ...payload };
}

export function fail(errorCode: number, errorMessage: string | null = null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { success: false, errorCode, errorMessage, ...extra };
}

/**
 * Default routes: loginKey hands out T1, T2, ... ; every authenticated route answers 401 unless the
 * bearer token is the latest one issued (override with `route`).
 */
export async function startRestServer(): Promise<RestServer & { tokens: string[] }> {
  const routes = new Map<string, Route>();
  const seen = new Map<string, SeenRequest[]>();
  const tokens: string[] = [];
  routes.set('/api/Auth/loginKey', (_req, res) => {
    const t = `T${tokens.length + 1}`;
    tokens.push(t);
    json(res, ok({ token: t }));
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      let body: unknown = undefined;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const path = (req.url ?? '/').split('?')[0]!;
      const r: SeenRequest = { method: req.method ?? '', path, authorization: req.headers.authorization, body };
      const list = seen.get(path) ?? [];
      list.push(r);
      seen.set(path, list);
      const handler = routes.get(path);
      if (!handler) return json(res, { title: 'not found' }, 404);
      handler(r, res, list.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    seen,
    tokens,
    count: (path) => seen.get(path)?.length ?? 0,
    route: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
