// Harness side of the load-generator processes: a pool of forked clients (client.ts), each running one job at
// a time and kept for the next one, so a run pays a few process start-ups instead of one per job (each costs
// seconds on a busy 2-core machine). bundleClient() compiles client.ts once per run into plain JS with
// esbuild, so a fork needs no TypeScript loader; without it, forks go through client.mjs (tsx).
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientJob, ClientResult, LatencyMatch } from './client';

const TSX_ENTRY = fileURLToPath(new URL('./client.mjs', import.meta.url));
const SOURCE = fileURLToPath(new URL('./client.ts', import.meta.url));
let entry = TSX_ENTRY;

/** Start-up of a client (tsx compiles it on first load): generous, the machine may be busy. */
const HELLO_TIMEOUT_MS = 120_000;

type Msg = { type: 'hello' } | { type: 'ready'; result?: ClientResult } | { type: 'result'; result?: ClientResult } | { type: 'error'; message: string };

interface Client {
  child: ChildProcess;
  /** Settles when the client said hello (rejects if it died or stayed silent). */
  hello: Promise<void>;
  next(timeoutMs: number): Promise<Msg>;
}

/**
 * Bundles client.ts (workspace libs inlined, npm packages external) into `<root>/dist/tools/bench/client.mjs`
 * and forks that from now on. dist/ sits in the workspace, so the packages resolve from its node_modules.
 */
export async function bundleClient(root: string): Promise<void> {
  const { build } = await import('esbuild');
  const outfile = path.join(root, 'dist/tools/bench/client.mjs');
  await build({
    entryPoints: [SOURCE],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    tsconfig: path.join(root, 'tsconfig.base.json'),
    logLevel: 'warning',
  });
  entry = outfile;
}

function spawnClient(): Client {
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const queue: Msg[] = [];
  const waiters: ((m: Msg) => void)[] = [];
  let exitMsg: Msg | undefined;
  child.on('message', (m: Msg) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  child.once('exit', (code, sig) => {
    exitMsg = { type: 'error', message: `client exited (${code ?? sig})` };
    for (const w of waiters.splice(0)) w(exitMsg);
  });
  const next = (timeoutMs: number): Promise<Msg> => {
    const q = queue.shift();
    if (q) return Promise.resolve(q);
    if (exitMsg) return Promise.resolve(exitMsg);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`client: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push((m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
  };
  const hello = next(HELLO_TIMEOUT_MS).then((m) => {
    if (m.type !== 'hello') throw new Error(m.type === 'error' ? m.message : `client: unexpected ${m.type}`);
  });
  // A client that dies before anyone takes it must not surface as an unhandled rejection.
  hello.catch(() => undefined);
  return { child, hello, next };
}

const idle: Client[] = [];
const live = new Set<Client>();

/** Forks clients ahead of need (their start-up overlaps with whatever the harness does meanwhile). */
export function prefork(n: number): void {
  for (let i = idle.length; i < n; i++) {
    const c = spawnClient();
    live.add(c);
    idle.push(c);
  }
}

const alive = (c: Client): boolean => c.child.exitCode === null && c.child.signalCode === null;

/** An idle client that is up, else a fresh one (its failure to start is the caller's error). */
async function acquire(): Promise<Client> {
  for (let c = idle.shift(); c; c = idle.shift()) {
    const ok = await c.hello.then(
      () => alive(c!),
      () => false,
    );
    if (ok) return c;
    live.delete(c);
  }
  const c = spawnClient();
  live.add(c);
  try {
    await c.hello;
    return c;
  } catch (err) {
    live.delete(c);
    if (alive(c)) c.child.kill();
    throw err;
  }
}

function release(c: Client, healthy: boolean): void {
  if (healthy && alive(c)) idle.push(c);
  else {
    live.delete(c);
    if (alive(c)) c.child.kill();
  }
}

/** Ends every client process (the end of a run). */
export function closeClients(): void {
  idle.length = 0;
  for (const c of live) if (alive(c)) c.child.kill();
  live.clear();
}

/** Runs one job in a pooled client process and returns its result (rejects with the client's error). */
export async function runClient(job: ClientJob, timeoutMs = 120_000): Promise<ClientResult> {
  const c = await acquire();
  let healthy = false;
  try {
    c.child.send({ type: 'job', job });
    const m = await c.next(timeoutMs);
    if (m.type === 'error') throw new Error(m.message);
    if (m.type !== 'result' || !m.result) throw new Error(`client: unexpected ${m.type}`);
    healthy = true;
    return m.result;
  } finally {
    release(c, healthy);
  }
}

export interface RunningClient {
  /** What the client reported once set up (e.g. sockets open). */
  ready: ClientResult | undefined;
  /** Stops the job; a ws-subscribers job with `latency` takes the watcher's trades to match its frames. */
  stop(match?: LatencyMatch): Promise<ClientResult>;
}

/** Starts a long-running job (order trickle, WebSocket subscribers, hub watcher) that runs until stop(). */
export async function startClient(job: ClientJob, readyTimeoutMs = 60_000): Promise<RunningClient> {
  const c = await acquire();
  try {
    c.child.send({ type: 'job', job });
    const m = await c.next(readyTimeoutMs);
    if (m.type === 'error') throw new Error(m.message);
    if (m.type !== 'ready') throw new Error(`client: unexpected ${m.type}`);
    return {
      ready: m.result,
      async stop(match) {
        let healthy = false;
        try {
          c.child.send({ type: 'stop', ...(match ? { match } : {}) });
          const r = await c.next(60_000);
          if (r.type === 'error') throw new Error(r.message);
          if (r.type !== 'result' || !r.result) throw new Error(`client: unexpected ${r.type}`);
          healthy = true;
          return r.result;
        } finally {
          release(c, healthy);
        }
      },
    };
  } catch (err) {
    release(c, false);
    throw err;
  }
}
