// Small helpers for servers that bind port 0 and report the port they got.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops accepting connections and resolves once the server is closed. With graceMs, requests in progress
 * get that long to finish (a REST order in flight is answered, as a gRPC one is during the gRPC grace):
 * connections are closed as soon as they are idle, and every one left when the grace ends. Without it,
 * every connection is closed at once.
 */
export function closeServer(server: Server, graceMs = 0): Promise<void> {
  return new Promise((resolve) => {
    if (graceMs <= 0) {
      server.close(() => resolve());
      server.closeAllConnections?.();
      return;
    }
    // A keep-alive connection goes idle when its response is sent: close it then, not at its keep-alive timeout.
    const idle = setInterval(() => server.closeIdleConnections?.(), 20);
    const grace = setTimeout(() => {
      clearInterval(idle);
      server.closeAllConnections?.();
    }, graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(grace);
      resolve();
    });
  });
}
