// Harness side of the load-generator processes: fork client.mjs, hand it one job, collect its raw samples.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientJob, ClientResult } from './client';

const ENTRY = fileURLToPath(new URL('./client.mjs', import.meta.url));

/** Start-up of a client (tsx compiles it on first load): generous, the machine may be busy. */
const HELLO_TIMEOUT_MS = 120_000;

type Msg = { type: 'hello' } | { type: 'ready'; result?: ClientResult } | { type: 'result'; result?: ClientResult } | { type: 'error'; message: string };

function spawnClient(): { child: ChildProcess; next(timeoutMs: number): Promise<Msg> } {
  const child = fork(ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
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
  return {
    child,
    next(timeoutMs) {
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
    },
  };
}

/** Runs one job in a fresh process and returns its result (rejects with the client's error). */
export async function runClient(job: ClientJob, timeoutMs = 120_000): Promise<ClientResult> {
  const c = spawnClient();
  try {
    const hello = await c.next(HELLO_TIMEOUT_MS);
    if (hello.type !== 'hello') throw new Error(hello.type === 'error' ? hello.message : `client: unexpected ${hello.type}`);
    c.child.send({ type: 'job', job });
    const m = await c.next(timeoutMs);
    if (m.type === 'error') throw new Error(m.message);
    if (m.type !== 'result' || !m.result) throw new Error(`client: unexpected ${m.type}`);
    return m.result;
  } finally {
    if (c.child.exitCode === null) c.child.kill();
  }
}

export interface RunningClient {
  /** What the client reported once set up (e.g. sockets open). */
  ready: ClientResult | undefined;
  stop(): Promise<ClientResult>;
}

/** Starts a long-running job (order trickle, WebSocket subscribers) that runs until stop(). */
export async function startClient(job: ClientJob, readyTimeoutMs = 60_000): Promise<RunningClient> {
  const c = spawnClient();
  try {
    const hello = await c.next(HELLO_TIMEOUT_MS);
    if (hello.type !== 'hello') throw new Error(hello.type === 'error' ? hello.message : `client: unexpected ${hello.type}`);
    c.child.send({ type: 'job', job });
    const m = await c.next(readyTimeoutMs);
    if (m.type === 'error') throw new Error(m.message);
    if (m.type !== 'ready') throw new Error(`client: unexpected ${m.type}`);
    return {
      ready: m.result,
      async stop() {
        try {
          c.child.send({ type: 'stop' });
          const r = await c.next(30_000);
          if (r.type === 'error') throw new Error(r.message);
          if (r.type !== 'result' || !r.result) throw new Error(`client: unexpected ${r.type}`);
          return r.result;
        } finally {
          if (c.child.exitCode === null) c.child.kill();
        }
      },
    };
  } catch (err) {
    if (c.child.exitCode === null) c.child.kill();
    throw err;
  }
}
