// One engine per DATA_DIR. The orders module reads the journal once, at start (client_order_ids, tag
// counters), and names its files by pid and thread: a second live engine on the same directory would
// place a client_order_id the first already placed, and with the same pid (one per container) write
// into the first's files. The lock is a Unix socket in the directory, listened on for the life of the
// process: the kernel drops it with the process (kill -9 too), leaving only a stale file that the next
// start replaces, and it is seen across PID namespaces on one host. Main thread only.
import { mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { relative, resolve } from 'node:path';
import type { Logger } from 'pino';

export const DATA_DIR_LOCK_FILE = 'engine.lock';
/** A Unix socket path longer than this is truncated by the kernel (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 100;

export class DataDirLockError extends Error {
  constructor(
    readonly code: 'DATA_DIR_IN_USE',
    message: string,
  ) {
    super(message);
    this.name = 'DataDirLockError';
  }
}

export interface DataDirLock {
  /** False when the directory cannot hold the socket (path too long, no Unix sockets): nothing is locked, a warning is logged. */
  readonly held: boolean;
  release(): Promise<void>;
}

/**
 * Takes DATA_DIR for this process (creating the directory), or throws DataDirLockError DATA_DIR_IN_USE
 * while another live process holds it. A directory that cannot be written fails here, before anything starts.
 */
export async function lockDataDir(dir: string, logger: Logger): Promise<DataDirLock> {
  mkdirSync(dir, { recursive: true });
  const absolute = resolve(dir, DATA_DIR_LOCK_FILE);
  const rel = relative(process.cwd(), absolute);
  const path = Buffer.byteLength(rel) < Buffer.byteLength(absolute) ? rel : absolute;
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    logger.warn({ dataDir: dir }, 'DATA_DIR path too long for its lock socket: not locked, so run one engine per DATA_DIR yourself');
    return { held: false, release: async () => undefined };
  }
  for (let attempt = 0; ; attempt++) {
    const server = createServer((socket) => socket.destroy());
    const err = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
      server.once('error', done);
      server.listen(path, () => {
        server.off('error', done);
        done(undefined);
      });
    });
    if (!err) {
      server.unref();
      return { held: true, release: () => closeLock(server) };
    }
    if (err.code !== 'EADDRINUSE') {
      // A directory this process cannot write fails here; a file system without Unix sockets (some
      // network and host-shared mounts) only loses the lock.
      if (err.code === 'EACCES' || err.code === 'EROFS') throw err;
      logger.warn({ err, dataDir: dir }, 'DATA_DIR lock socket not available: not locked, so run one engine per DATA_DIR yourself');
      return { held: false, release: async () => undefined };
    }
    if (attempt > 0 || (await answers(path))) {
      throw new DataDirLockError('DATA_DIR_IN_USE', `DATA_DIR ${dir}: another engine is running on it (${absolute}); run one engine per DATA_DIR`);
    }
    // Left by a process that died without closing it: nobody listens, so it is ours to replace.
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/** Whether a live process listens on the socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** Closing the server also removes its socket file. */
function closeLock(server: Server): Promise<void> {
  return new Promise((done) => server.close(() => done()));
}
