// Test doubles for code that uses this lib (entry `@gateway/topstepx/testing`): a minimal SignalR
// JSON hub server on `ws` and a polling wait helper. Loopback only, port 0. Not for production.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';

const RS = '\x1e';

export interface HubRecord {
  type?: number;
  invocationId?: string;
  target?: string;
  arguments?: unknown[];
  protocol?: string;
  version?: number;
  [k: string]: unknown;
}

export interface FakeHubConnection {
  /** `user` or `market` (the last path segment). */
  hub: string;
  /** The `access_token` the client connected with. */
  token: string | null;
  socket: WebSocket;
  /** Every record received after the handshake, in order. */
  records: HubRecord[];
  handshakeDone: boolean;
  closed: boolean;
}

export interface FakeHubServerOptions {
  /** Answer the handshake with `{"error":...}`. */
  handshakeError?: string;
  /** Invocations of these methods complete with this error text. */
  failMethods?: Record<string, string>;
  /** Tokens refused at the upgrade with HTTP 401. */
  rejectTokens?: readonly string[];
}

export interface FakeHubServer {
  readonly port: number;
  /** `ws://127.0.0.1:PORT/hubs/<hub>` (no token). */
  url(hub: 'user' | 'market'): string;
  readonly connections: FakeHubConnection[];
  /** Connections with a completed handshake and an open socket. */
  live(): FakeHubConnection[];
  /** Sends an invocation of `target` to every live connection of `hub` (all hubs when omitted). */
  emit(target: string, args: unknown[], hub?: string): void;
  /** Sends raw text (one frame) to a connection. */
  sendRaw(conn: FakeHubConnection, text: string): void;
  /** Kills every socket abruptly (no close message). */
  dropAll(): void;
  /** Whether to answer invocations with completions (default true). */
  autoComplete: boolean;
  close(): Promise<void>;
}

export async function startFakeHubServer(options: FakeHubServerOptions = {}): Promise<FakeHubServer> {
  const http: Server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({ noServer: true });
  const connections: FakeHubConnection[] = [];
  const server: FakeHubServer = {
    port: 0,
    url: (hub) => `ws://127.0.0.1:${(http.address() as AddressInfo).port}/hubs/${hub}`,
    connections,
    live: () => connections.filter((c) => c.handshakeDone && !c.closed),
    emit(target, args, hub) {
      const frame = JSON.stringify({ type: 1, target, arguments: args }) + RS;
      for (const c of server.live()) if (!hub || c.hub === hub) c.socket.send(frame);
    },
    sendRaw(conn, text) {
      conn.socket.send(text);
    },
    dropAll() {
      for (const c of connections) if (!c.closed) c.socket.terminate();
    },
    autoComplete: true,
    async close() {
      for (const c of connections) if (!c.closed) c.socket.terminate();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };

  http.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const token = u.searchParams.get('access_token');
    if (token !== null && options.rejectTokens?.includes(token)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: FakeHubConnection = { hub: u.pathname.split('/').pop() ?? '', token, socket: ws, records: [], handshakeDone: false, closed: false };
      connections.push(conn);
      let buffer = '';
      ws.on('close', () => {
        conn.closed = true;
      });
      ws.on('message', (data) => {
        buffer += data.toString();
        let i: number;
        while ((i = buffer.indexOf(RS)) >= 0) {
          const text = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          const rec = JSON.parse(text) as HubRecord;
          if (!conn.handshakeDone) {
            if (options.handshakeError) {
              ws.send(JSON.stringify({ error: options.handshakeError }) + RS);
              ws.close();
              return;
            }
            conn.handshakeDone = true;
            ws.send(`{}${RS}`);
            continue;
          }
          conn.records.push(rec);
          if (rec.type === 1 && rec.invocationId !== undefined && server.autoComplete) {
            const err = options.failMethods?.[rec.target ?? ''];
            ws.send(JSON.stringify(err ? { type: 3, invocationId: rec.invocationId, error: err } : { type: 3, invocationId: rec.invocationId, result: null }) + RS);
          }
        }
      });
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  (server as { port: number }).port = (http.address() as AddressInfo).port;
  return server;
}

/** Polls `cond` every 5 ms until true; rejects with `what` after `timeoutMs` (default 10 s). */
export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
