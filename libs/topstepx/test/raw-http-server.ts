// An HTTP/1.1 server on a raw `net` socket (127.0.0.1, port 0) that keeps every byte it receives, per connection: a
// test can then prove a request never reached the wire, which a node:http server cannot (its parser may consume the
// socket without 'data' events). Minimal parsing: Content-Length bodies only, keep-alive answers.
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawRequest {
  /** 1-based, in accept order. */
  connection: number;
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

/** Writes the answer on the request's connection (once). */
export type RawReply = (status: number, body: unknown) => void;
export type RawRoute = (req: RawRequest, reply: RawReply) => void;

export interface RawHttpServer {
  baseUrl: string;
  /** Requests parsed so far, in arrival order. */
  readonly requests: RawRequest[];
  /** Every byte received, by connection, decoded as latin1. */
  received(): string;
  /** Connections accepted (numbered from 1), and the numbers of those closed (by either side). */
  readonly connections: { opened: number; closed: Set<number> };
  route(path: string, handler: RawRoute): void;
  close(): Promise<void>;
}

const REASON: Record<number, string> = { 200: 'OK', 401: 'Unauthorized', 404: 'Not Found' };

/** Default routes: loginKey hands out T1, T2, …; anything else is 404 unless routed. */
export async function startRawHttpServer(): Promise<RawHttpServer> {
  const routes = new Map<string, RawRoute>();
  const requests: RawRequest[] = [];
  const chunks: string[] = [];
  const connections = { opened: 0, closed: new Set<number>() };
  const sockets = new Set<Socket>();
  let tokens = 0;
  routes.set('/api/Auth/loginKey', (_req, reply) => reply(200, { success: true, errorCode: 0, errorMessage: null, token: `T${++tokens}` }));

  const server = createServer((socket) => {
    const connection = ++connections.opened;
    sockets.add(socket);
    let buf = '';
    socket.on('close', () => {
      connections.closed.add(connection);
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      chunks.push(`[connection ${connection}]\n${text}`);
      buf += text;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end).split('\r\n');
        const headers = new Map(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers.get('content-length') ?? 0);
        if (buf.length < end + 4 + length) return;
        const [method = '', path = ''] = head[0]!.split(' ');
        const req: RawRequest = { connection, method, path, authorization: headers.get('authorization'), body: buf.slice(end + 4, end + 4 + length) };
        buf = buf.slice(end + 4 + length);
        requests.push(req);
        let answered = false;
        const reply: RawReply = (status, body) => {
          if (answered || socket.destroyed) return;
          answered = true;
          const text = JSON.stringify(body);
          socket.write(`HTTP/1.1 ${status} ${REASON[status] ?? 'Status'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: keep-alive\r\n\r\n${text}`);
        };
        const handler = routes.get(path);
        if (handler) handler(req, reply);
        else reply(404, { title: 'not found' });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    received: () => chunks.join('\n'),
    connections,
    route: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
